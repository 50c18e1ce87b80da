"""The simulation agrees with Erlang C and Erlang A where their assumptions hold."""

from __future__ import annotations

import pytest

from forecasting.erlang import asa_seconds, service_level
from forecasting.erlang_a import asa_seconds as asa_a
from forecasting.erlang_a import erlang_a
from forecasting.errors import InvalidInput
from forecasting.simulation import HandleTimes, simulate_queue


def test_erlang_c_agrees_with_simulation() -> None:
    sim = simulate_queue(traffic=10.0, aht_seconds=180, agents=14, target_seconds=20, seed=1)
    sl = float(service_level(14, 10.0, 180, 20))
    asa = float(asa_seconds(14, 10.0, 180))
    assert abs(sim.service_level - sl) <= 3 * sim.service_level_halfwidth + 0.005
    assert abs(sim.asa_seconds - asa) <= 3 * sim.asa_halfwidth + 0.2
    assert sim.probability_abandon == 0.0
    assert sim.occupancy == pytest.approx(10 / 14, abs=0.02)


def test_erlang_a_agrees_with_simulation() -> None:
    sim = simulate_queue(
        traffic=20.0, aht_seconds=180, agents=19, target_seconds=30, patience_seconds=90, seed=2
    )
    m = erlang_a(19, 20.0, 180, 90, 30)
    assert (
        abs(sim.service_level - float(m.service_level)) <= 3 * sim.service_level_halfwidth + 0.005
    )
    assert abs(sim.probability_abandon - float(m.probability_abandon)) <= (
        3 * sim.abandon_halfwidth + 0.005
    )
    assert abs(sim.asa_seconds - float(asa_a(19, 20.0, 180, 90))) <= 3 * sim.asa_halfwidth + 0.3


def test_lognormal_handle_times_depart_from_erlang_c() -> None:
    # Erlang C assumes exponential handle times; with low variability callers
    # wait less than it predicts, which is what a planner should see.
    sim = simulate_queue(
        traffic=10.0,
        aht_seconds=180,
        agents=12,
        target_seconds=20,
        handle=HandleTimes.LOGNORMAL,
        handle_cv=0.3,
        seed=3,
    )
    assert (
        sim.service_level
        > float(service_level(12, 10.0, 180, 20)) + 3 * sim.service_level_halfwidth
    )


def test_same_seed_same_answer_and_bad_input() -> None:
    def run() -> object:
        return simulate_queue(
            traffic=3.0, aht_seconds=60, agents=5, target_seconds=10, calls=5000, seed=9
        )

    assert run() == run()
    with pytest.raises(InvalidInput, match="unstable"):
        simulate_queue(traffic=5.0, aht_seconds=60, agents=5, target_seconds=10)


def test_sample_size_grows_near_full_occupancy() -> None:
    from forecasting.simulation import MAX_CALLS, MIN_CALLS, default_calls

    assert default_calls(10.0, 14) == MIN_CALLS
    assert default_calls(2000.0, 2012) == MAX_CALLS
    with pytest.raises(InvalidInput, match="seed"):
        simulate_queue(traffic=3.0, aht_seconds=60, agents=5, target_seconds=10, seed=-1)
    with pytest.raises(InvalidInput, match="CV"):
        simulate_queue(
            traffic=3.0,
            aht_seconds=60,
            agents=5,
            target_seconds=10,
            handle=HandleTimes.LOGNORMAL,
            handle_cv=-1.0,
        )
