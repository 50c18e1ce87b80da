"""Erlang A against a birth-death chain in mpmath, and its limits."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.erlang import service_level
from forecasting.erlang_a import asa_seconds, erlang_a, required_agents_erlang_a
from forecasting.errors import InvalidInput


def chain_reference(n: int, a: float, aht: float, patience: float) -> tuple[float, float]:
    """P(wait) and P(abandon) from the M/M/n+M stationary distribution."""
    mpmath.mp.dps = 30
    lam, mu, theta = mpmath.mpf(a) / aht, mpmath.mpf(1) / aht, mpmath.mpf(1) / patience
    pis = [mpmath.mpf(1)]
    k = 0
    while True:
        k += 1
        pis.append(pis[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
        if k > n + 10 and pis[-1] < mpmath.mpf(10) ** -35 * sum(pis):
            break
    z = sum(pis)
    p_wait = sum(pis[n:]) / z
    queue = sum((j - n) * pis[j] for j in range(n, len(pis))) / z
    return float(p_wait), float(theta * queue / lam)


@pytest.mark.parametrize(
    ("n", "a", "aht", "patience"),
    [
        (14, 10.0, 180, 120),
        (5, 10.0, 180, 60),  # overloaded: still stable thanks to abandonment
        (100, 95.0, 200, 300),
        (1, 0.01, 100, 50),
        (300, 400.0, 180, 90),
        (2000, 1990.0, 300, 120),
    ],
)
def test_matches_birth_death_chain(n: int, a: float, aht: float, patience: float) -> None:
    m = erlang_a(n, a, aht, patience, 20)
    p_wait, p_abandon = chain_reference(n, a, aht, patience)
    assert float(m.probability_wait) == pytest.approx(p_wait, rel=1e-10)
    assert float(m.probability_abandon) == pytest.approx(p_abandon, rel=1e-10)


def test_service_level_limits() -> None:
    m0 = erlang_a(14, 10.0, 180, 120, 0.0)
    assert float(m0.service_level) == pytest.approx(1 - float(m0.probability_wait), abs=1e-12)
    forever = erlang_a(14, 10.0, 180, 120, 1e7)
    assert float(forever.service_level) == pytest.approx(1 - float(m0.probability_abandon))


def test_very_patient_callers_approach_erlang_c() -> None:
    m = erlang_a(14, 10.0, 180, 1e7, 20)
    assert float(m.service_level) == pytest.approx(
        float(service_level(14, 10.0, 180, 20)), abs=1e-4
    )


def test_edges() -> None:
    m = erlang_a([0, 0, 3], [0.0, 5.0, 0.0], 180, 60, 20)
    assert m.service_level.tolist() == [1.0, 0.0, 1.0]
    assert m.probability_abandon.tolist() == [0.0, 1.0, 0.0]
    assert required_agents_erlang_a(0.0, 180, 60).tolist() == 0
    with pytest.raises(InvalidInput):
        erlang_a(3, 5.0, 180, 0, 20)
    with pytest.raises(InvalidInput):
        required_agents_erlang_a(5.0, 180, 60, service_level=1.0)


def test_large_load_is_finite() -> None:
    m = erlang_a(np.array([9000, 10_000, 10_200]), 10_000.0, 300, 3600, 20)
    for arr in (m.probability_wait, m.probability_abandon, m.service_level):
        assert np.all(np.isfinite(arr)) and np.all((arr >= 0) & (arr <= 1))
    assert np.all(np.diff(m.service_level) > 0)


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(min_value=0.05, max_value=3000.0),
    patience=st.floats(min_value=5.0, max_value=3600.0),
    target=st.floats(min_value=0.0, max_value=300.0),
    sl=st.floats(min_value=0.05, max_value=0.95),
)
def test_required_agents_is_the_smallest_meeting_the_target(
    a: float, patience: float, target: float, sl: float
) -> None:
    n = int(required_agents_erlang_a(a, 240, patience, service_level=sl, target_seconds=target))
    assert float(erlang_a(n, a, 240, patience, target).service_level) >= sl
    if n > 0:
        assert float(erlang_a(n - 1, a, 240, patience, target).service_level) < sl
    # (No comparison with Erlang C here: callers who abandon before the target
    # count against this service level, so Erlang A may need more agents.)
    levels = erlang_a(np.arange(max(n - 3, 0), n + 3), a, 240, patience, target).service_level
    assert np.all(np.diff(levels) >= -1e-12)


def test_asa_of_answered_callers_is_below_mean_wait_of_all() -> None:
    m = erlang_a(5, 10.0, 180, 60)
    asa = float(asa_seconds(5, 10.0, 180, 60))
    assert 0 < asa < float(m.mean_wait_seconds)


def chain_asa(n: int, a: float, aht: float, patience: float) -> float:
    """ASA of answered callers from the M/M/n+M chain, independently of the
    quadrature: a tagged caller at queue position j moves up at rate
    n mu + (j - 1) theta and abandons at rate theta (PASTA for the arrival)."""
    mpmath.mp.dps = 30
    lam, mu, theta = mpmath.mpf(a) / aht, mpmath.mpf(1) / aht, mpmath.mpf(1) / patience
    pis = [mpmath.mpf(1)]
    k = 0
    while True:
        k += 1
        pis.append(pis[-1] * lam / (min(k, n) * mu + max(k - n, 0) * theta))
        if k > n + 10 and pis[-1] < mpmath.mpf(10) ** -35 * sum(pis):
            break
    served, wait = [mpmath.mpf(1)], [mpmath.mpf(0)]  # position 0: an agent is free
    for j in range(1, len(pis) - n + 2):
        rate = n * mu + j * theta
        up = (n * mu + (j - 1) * theta) / rate
        served.append(up * served[-1])
        wait.append(served[-1] / rate + up * wait[-1])
    num = sum(pis[k] * wait[k - n + 1] for k in range(n, len(pis)))
    den = sum(pis[k] * (served[k - n + 1] if k >= n else 1) for k in range(len(pis)))
    return float(num / den)


@pytest.mark.parametrize(
    ("n", "a", "aht", "patience"), [(14, 10.0, 180, 120), (5, 10.0, 180, 60), (100, 95.0, 200, 300)]
)
def test_asa_matches_the_chain(n: int, a: float, aht: float, patience: float) -> None:
    assert float(asa_seconds(n, a, aht, patience)) == pytest.approx(
        chain_asa(n, a, aht, patience), rel=1e-6
    )


def test_caps_hold_and_offered_calls_get_an_agent() -> None:
    # 10,000 Erlangs, 120 s patience: without caps the cheapest staffing lets
    # a fifth of callers go and keeps agents 100% busy.
    bare = int(required_agents_erlang_a(10_000.0, 300, 120, target_seconds=120))
    m = erlang_a(bare, 10_000.0, 300, 120, 120)
    assert float(m.occupancy) > 0.99 and float(m.probability_abandon) > 0.1
    capped = int(
        required_agents_erlang_a(
            10_000.0, 300, 120, target_seconds=120, max_abandon=0.05, max_occupancy=0.85
        )
    )
    m = erlang_a(capped, 10_000.0, 300, 120, 120)
    assert float(m.occupancy) <= 0.85 and float(m.probability_abandon) <= 0.05
    assert float(erlang_a(capped - 1, 10_000.0, 300, 120, 120).occupancy) > 0.85
    assert int(required_agents_erlang_a(10.0, 180, 120, service_level=0.0)) == 1
    n = int(required_agents_erlang_a(10.0, 180, 120, service_level=0.0, max_abandon=0.05))
    assert float(erlang_a(n, 10.0, 180, 120).probability_abandon) <= 0.05
    assert float(erlang_a(n - 1, 10.0, 180, 120).probability_abandon) > 0.05


def test_erlang_a_targets_broadcast() -> None:
    traffic = np.array([[5.0, 20.0], [50.0, 0.0]])
    n = required_agents_erlang_a(
        traffic,
        180,
        np.array([[60.0], [120.0]]),
        service_level=np.array([[0.8], [0.9]]),
        target_seconds=20,
    )
    assert n.shape == (2, 2)
    assert n[0, 1] == int(
        required_agents_erlang_a(20.0, 180, 60.0, service_level=0.8, target_seconds=20)
    )
    assert n[1, 0] == int(
        required_agents_erlang_a(50.0, 180, 120.0, service_level=0.9, target_seconds=20)
    )
    assert n[1, 1] == 0
