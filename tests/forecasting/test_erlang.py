"""Erlang B/C maths against published examples and an mpmath reference."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import erlang as erlang_module
from forecasting import sl_kernel
from forecasting.erlang import (
    Targets,
    asa_seconds,
    erlang_b,
    erlang_c,
    occupancy,
    occupancy_floor,
    required_agents,
    scheduled_agents,
    service_level,
    traffic_erlangs,
)
from forecasting.errors import InvalidInput
from tests.forecasting import mp_reference as ref


def test_published_worked_example() -> None:
    # 100 calls in 30 minutes, AHT 180 s, 80% within 20 s: 14 agents, 88.8%, ASA 7.8 s.
    a = traffic_erlangs(100, 1800, 180)
    assert a == 10.0
    n = required_agents(a, 180, Targets(service_level=0.8, target_seconds=20))
    assert n == 14
    assert service_level(n, a, 180, 20) == pytest.approx(0.8884, abs=5e-4)
    assert asa_seconds(n, a, 180) == pytest.approx(7.8, abs=0.05)
    assert erlang_c(n, a) == pytest.approx(0.1741, abs=5e-4)
    assert occupancy(n, a) == pytest.approx(10 / 14)


def test_erlang_b_classic_table_value() -> None:
    # Erlang B table: 10 trunks at 5 Erlangs block 1.84%.
    assert erlang_b(10, 5.0) == pytest.approx(0.018384570336648, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "a"),
    [(1, 0.01), (10, 5.0), (100, 200.0), (10_000, 9_800.0), (10_500, 10_000.0), (3, 5000.0)],
)
def test_erlang_b_matches_mpmath_to_many_digits(n: int, a: float) -> None:
    assert erlang_b(n, a) == pytest.approx(float(ref.erlang_b(n, a)), rel=1e-12)


def test_huge_loads_never_overflow() -> None:
    n = np.array([0, 1, 50, 20_000, 100_000])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        b = erlang_b(n, 10_000.0)
        c = erlang_c(n, 10_000.0)
        sl = service_level(n, 10_000.0, 300, 20)
    assert np.all(np.isfinite(b)) and np.all(np.isfinite(c)) and np.all(np.isfinite(sl))
    assert list(sl[:3]) == [0.0, 0.0, 0.0]
    assert sl[-1] == 1.0


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(min_value=0.01, max_value=10_000.0),
    aht=st.floats(min_value=10.0, max_value=1200.0),
    sl=st.floats(min_value=0.0, max_value=0.995),
    target=st.sampled_from([0.0, 10.0, 20.0, 60.0, 120.0, 600.0]),
    occ=st.sampled_from([1.0, 0.95, 0.85, 0.7]),
)
def test_required_agents_equals_mpmath_reference(
    a: float, aht: float, sl: float, target: float, occ: float
) -> None:
    mine = required_agents(a, aht, Targets(sl, target, None, occ))
    assert int(mine) == ref.required_agents(a, aht, sl, target, occ)


def test_required_agents_vectorised_equals_reference_across_range() -> None:
    rng = np.random.default_rng(7)
    a = np.exp(rng.uniform(math.log(0.01), math.log(10_000.0), 40))
    mine = required_agents(a, 240.0, Targets(0.9, 30.0))
    expected = [ref.required_agents(float(x), 240.0, 0.9, 30.0) for x in a]
    assert mine.tolist() == expected


def test_search_does_not_start_above_a_valid_count() -> None:
    # round(a + 1) would start at 7 here, but 6 agents already give 84% in 600 s.
    a = 5.52
    n = required_agents(a, 180, Targets(0.8, 600))
    assert int(n) == 6
    assert service_level(5, a, 180, 600) < 0.8 <= service_level(6, a, 180, 600)
    assert int(n) == ref.required_agents(a, 180, 0.8, 600)


def test_zero_calls_gives_zero_agents_and_no_nan() -> None:
    a = np.array([0.0, 0.0, 12.0])
    n = required_agents(a, 180, Targets(0.8, 20))
    assert n.tolist()[:2] == [0, 0]
    assert service_level(0, 0.0, 180, 20) == 1.0
    assert asa_seconds(0, 0.0, 180) == 0.0
    assert occupancy(0, 0.0) == 0.0


def test_unstable_staffing_reports_zero_service_level_not_nan() -> None:
    for n in (0, 5, 10):
        sl = float(service_level(n, 10.0, 180, 20))
        assert sl == 0.0
        assert float(erlang_c(n, 10.0)) == 1.0
        assert math.isinf(float(asa_seconds(n, 10.0, 180)))


def test_target_time_zero_is_probability_of_not_waiting() -> None:
    assert service_level(14, 10.0, 180, 0) == pytest.approx(1 - float(erlang_c(14, 10.0)))
    assert int(required_agents(10.0, 180, Targets(0.8, 0.0))) == ref.required_agents(
        10.0, 180, 0.8, 0.0
    )


def test_shrinkage_rounding_is_integer_exact() -> None:
    assert int(scheduled_agents(21, 0.3)) == 30  # float ceil(21 / 0.7) would give 31
    assert scheduled_agents(np.array([0, 7, 14, 22]), 0.3).tolist() == [0, 10, 20, 32]
    assert int(scheduled_agents(10, 0.0)) == 10


def test_scheduled_agents_match_rational_arithmetic() -> None:
    # every shrinkage in millionths against Fraction's ceiling, from 0 to just
    # below 100%, for counts where a float quotient is a hair off an integer
    from fractions import Fraction

    rng = np.random.default_rng(3)
    units = np.concatenate([[0, 1, 300_000, 500_000, 999_999], rng.integers(0, 1_000_000, 300)])
    n = np.concatenate([np.arange(0, 60), rng.integers(0, 4_000_000, 40)])
    for u in units.tolist():
        got = scheduled_agents(n, u / 1_000_000).tolist()
        keep = Fraction(1_000_000 - u, 1_000_000)
        assert got == [-(-Fraction(k) // keep) for k in n.tolist()], u
    # beyond what doubles decide exactly, the integer division
    assert int(scheduled_agents(2**33 + 1, 0.3)) == -(-(2**33 + 1) * 10 // 7)


def test_occupancy_cap_is_integer_exact() -> None:
    assert int(occupancy_floor(np.array([8.5]), 0.85)[0]) == 10
    n = required_agents(8.5, 180, Targets(0.0, 20, None, 0.85))
    assert int(n) == 10


def test_asa_target() -> None:
    n = int(required_agents(10.0, 180, Targets(None, 0.0, asa_seconds=15.0)))
    assert asa_seconds(n, 10.0, 180) <= 15.0 < asa_seconds(n - 1, 10.0, 180)


@pytest.mark.parametrize(
    "targets",
    [
        Targets(service_level=1.0),
        Targets(service_level=1.5),
        Targets(service_level=-0.1),
        Targets(target_seconds=-1),
        Targets(asa_seconds=0.0),
        Targets(max_occupancy=0.0),
        Targets(max_occupancy=1.2),
    ],
)
def test_impossible_targets_raise_clear_errors(targets: Targets) -> None:
    with pytest.raises(InvalidInput):
        required_agents(10.0, 180, targets)


def test_negative_inputs_raise() -> None:
    with pytest.raises(InvalidInput, match="traffic"):
        required_agents(-1.0, 180)
    with pytest.raises(InvalidInput, match="aht"):
        required_agents(1.0, 0)
    with pytest.raises(InvalidInput, match="shrinkage"):
        scheduled_agents(10, 1.0)
    with pytest.raises(InvalidInput, match="calls"):
        traffic_erlangs(-5, 1800, 180)


@settings(max_examples=80, deadline=None)
@given(
    a=st.floats(min_value=0.0, max_value=3000.0),
    n=st.integers(min_value=0, max_value=3200),
    target=st.floats(min_value=0.0, max_value=600.0),
)
def test_service_level_never_falls_as_agents_are_added(a: float, n: int, target: float) -> None:
    sl = service_level(np.arange(n, n + 5), a, 180.0, target)
    assert np.all((sl >= 0) & (sl <= 1))
    assert np.all(np.diff(sl) >= -1e-12)
    c = erlang_c(np.arange(n, n + 5), a)
    assert np.all((c >= 0) & (c <= 1))


def test_required_agents_broadcasts_over_two_dimensions() -> None:
    # 3 queues x 4 intervals, one target per queue: the 2-D call equals the
    # scalar calls element by element (it used to raise IndexError).
    traffic = np.array([[0.0, 2.5, 10.0, 40.0], [1.0, 5.0, 20.0, 80.0], [0.5, 3.0, 9.0, 150.0]])
    aht = np.array([[180.0], [300.0], [240.0]])
    targets = Targets(
        service_level=np.array([[0.8], [0.9], [0.7]]),
        target_seconds=np.array([[20.0], [60.0], [120.0]]),
        max_occupancy=np.array([[0.85], [1.0], [0.9]]),
    )
    n = required_agents(traffic, aht, targets)
    assert n.shape == (3, 4)
    sl = [0.8, 0.9, 0.7]
    t = [20.0, 60.0, 120.0]
    occ = [0.85, 1.0, 0.9]
    for q in range(3):
        for i in range(4):
            one = required_agents(traffic[q, i], aht[q, 0], Targets(sl[q], t[q], None, occ[q]))
            assert n[q, i] == int(one)
            assert n[q, i] == ref.required_agents(
                traffic[q, i], aht[q, 0], sl[q], t[q], occ[q]
            ) or (traffic[q, i] == 0 and n[q, i] == 0)


@settings(max_examples=30, deadline=None)
@given(
    a=st.lists(st.floats(min_value=0.0, max_value=500.0), min_size=1, max_size=12),
    sl=st.lists(st.floats(min_value=0.0, max_value=0.99), min_size=1, max_size=12),
)
def test_per_element_targets_equal_scalar_calls(a: list[float], sl: list[float]) -> None:
    k = min(len(a), len(sl))
    traffic, levels = np.array(a[:k]), np.array(sl[:k])
    n = required_agents(traffic, 200.0, Targets(levels, 30.0))
    expected = [
        int(required_agents(x, 200.0, Targets(float(s), 30.0)))
        for x, s in zip(traffic, levels, strict=True)
    ]
    assert n.tolist() == expected


def test_array_targets_are_validated() -> None:
    with pytest.raises(InvalidInput, match="service level"):
        required_agents([1.0, 2.0], 180, Targets(np.array([0.8, 1.0])))
    with pytest.raises(InvalidInput, match="occupancy"):
        required_agents([1.0, 2.0], 180, Targets(0.8, 20, None, np.array([0.9, 0.0])))


def _day() -> tuple[np.ndarray, np.ndarray, Targets]:
    # 6 queues x 40 intervals, 0.3 to 3,000 Erlangs, one target per queue
    rng = np.random.default_rng(11)
    traffic = np.exp(rng.uniform(math.log(0.3), math.log(3000.0), (6, 40)))
    aht = rng.uniform(60.0, 600.0, (6, 1))
    targets = Targets(
        np.array([[0.5], [0.7], [0.8], [0.9], [0.95], [0.99]]),
        np.array([[0.0], [10.0], [20.0], [60.0], [120.0], [600.0]]),
    )
    return traffic, aht, targets


def _exact(traffic: np.ndarray, aht: np.ndarray, targets: Targets) -> list[int]:
    sl = np.broadcast_to(np.asarray(targets.service_level, dtype=np.float64), traffic.shape)
    t = np.broadcast_to(np.asarray(targets.target_seconds, dtype=np.float64), traffic.shape)
    h = np.broadcast_to(aht, traffic.shape)
    return [
        ref.required_agents(float(a), float(hh), float(s), float(tt))
        for a, hh, s, tt in zip(traffic.ravel(), h.ravel(), sl.ravel(), t.ravel(), strict=True)
    ]


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Record the number of elements each call of ``forecasting.erlang.<name>`` gets."""
    sizes: list[int] = []
    real = getattr(erlang_module, name)

    def spy(*args: Any) -> Any:
        sizes.append(int(args[0].size))
        return real(*args)

    monkeypatch.setattr(erlang_module, name, spy)
    return sizes


def test_fast_search_decides_without_the_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    traffic, aht, targets = _day()
    exact_calls = _spy(monkeypatch, "_search")
    n = required_agents(traffic, aht, targets)
    assert n.ravel().tolist() == _exact(traffic, aht, targets)
    assert sum(exact_calls) == 0


def test_counts_within_the_error_bound_go_to_the_exact_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A tolerance of 10 makes every count "unsure": all of them must come back
    # from the exact search, unchanged.
    traffic, aht, targets = _day()
    monkeypatch.setattr(erlang_module, "_EXTRA_TOLERANCE", 10.0)
    exact_calls = _spy(monkeypatch, "_search")
    n = required_agents(traffic, aht, targets)
    assert sum(exact_calls) == traffic.size
    assert n.ravel().tolist() == _exact(traffic, aht, targets)


@pytest.mark.parametrize("slope", [40.0, -6.0])
def test_a_guess_off_by_several_agents_is_walked_to_the_answer(
    monkeypatch: pytest.MonkeyPatch, slope: float
) -> None:
    # A steep slope puts the guess below the answer (walk up), a negative one
    # above it (walk down); a walk longer than _WALK_STEPS is left to the exact search.
    traffic, aht, targets = _day()
    monkeypatch.setattr(erlang_module, "_HW_SLOPE", slope)
    outcomes: list[np.ndarray] = []
    real = sl_kernel.search

    def spy(*args: Any) -> int:
        unsure = int(real(*args))
        outcomes.append(args[-1].copy())
        return unsure

    monkeypatch.setattr(sl_kernel, "search", spy)
    n = required_agents(traffic, aht, targets)
    (outcome,) = outcomes
    # most guesses are off: walked to the answer, or handed over after a long walk
    assert np.count_nonzero(outcome != sl_kernel.DECIDED) > traffic.size / 2
    assert np.count_nonzero(outcome == sl_kernel.WALKED) > 0
    assert n.ravel().tolist() == _exact(traffic, aht, targets)


def test_near_ties_are_decided_exactly() -> None:
    # Targets a hair (1e-9) above and below the exact service level of some
    # count: the fast path's own error (the truncated expansion, its tables)
    # is far larger, so only its margin test keeps these right.
    rng = np.random.default_rng(5)
    a = np.exp(rng.uniform(math.log(0.5), math.log(3000.0), 12))
    aht, target = 240.0, 20.0
    traffic, levels = [], []
    for x in a:
        n = int(x) + 1 + int(rng.integers(0, 3))
        exact = float(ref.service_level(n, float(x), aht, target))
        traffic += [x, x]
        levels += [exact - 1e-9, exact + 1e-9]
    got = required_agents(np.array(traffic), aht, Targets(np.array(levels), target))
    want = [
        ref.required_agents(float(x), aht, s, target) for x, s in zip(traffic, levels, strict=True)
    ]
    assert got.tolist() == want


def test_extreme_targets_and_loads_stay_exact_and_quiet() -> None:
    # target 10 hours at a 5 s AHT (exp(-tau) underflows), SL 99.99%, tiny and
    # huge loads, an occupancy cap: no floating-point warning, reference answers
    a = np.array([1e-3, 0.02, 3.7, 250.0, 9000.0, 20_000.0])
    aht = np.array([5.0, 5.0, 30.0, 300.0, 5.0, 600.0])
    targets = Targets(
        np.array([0.9999, 0.5, 0.999, 0.8, 0.9, 0.95]),
        np.array([36_000.0, 36_000.0, 0.0, 1.0, 3600.0, 20.0]),
        None,
        np.array([1.0, 0.5, 1.0, 0.85, 1.0, 0.999999]),
    )
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        n = required_agents(a, aht, targets)
    occ = np.asarray(targets.max_occupancy, dtype=np.float64)
    sl = np.asarray(targets.service_level, dtype=np.float64)
    t = np.asarray(targets.target_seconds, dtype=np.float64)
    want = [
        ref.required_agents(float(a[i]), float(aht[i]), float(sl[i]), float(t[i]), float(occ[i]))
        for i in range(a.size)
    ]
    assert n.tolist() == want


_TIERING_SCRIPT = """
import json, sys
import numpy as np
from forecasting import erlang
erlang._TIERING.tier_up_seconds = float(sys.argv[1])
traffic = np.exp(np.linspace(np.log(0.3), np.log(3000.0), 240)).reshape(6, 40)
aht = np.array([[60.0], [120.0], [180.0], [300.0], [450.0], [600.0]])
targets = erlang.Targets(np.array([[0.5], [0.7], [0.8], [0.9], [0.95], [0.99]]), 20.0)
runs = []
for _ in range(3):
    runs.append(erlang.required_agents(traffic, aht, targets).ravel().tolist())
    runs.append(["numba" in sys.modules, "forecasting.sl_kernel" in sys.modules])
print(json.dumps(runs))
"""


def _tiering_run(tier_up_seconds: float) -> list[Any]:
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", _TIERING_SCRIPT, str(tier_up_seconds)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    runs: list[Any] = json.loads(r.stdout)
    return runs


def test_a_one_shot_command_never_loads_the_compiler() -> None:
    # a fresh process with a few searches (an `acd forecast` command) stays on
    # the exact search: no half-second numba import, same answers
    runs = _tiering_run(1e9)
    assert runs[1] == runs[3] == runs[5] == [False, False]
    traffic = np.exp(np.linspace(np.log(0.3), np.log(3000.0), 240)).reshape(6, 40)
    aht = np.array([[60.0], [120.0], [180.0], [300.0], [450.0], [600.0]])
    sl = np.array([[0.5], [0.7], [0.8], [0.9], [0.95], [0.99]])
    want = _exact(traffic, aht, Targets(sl, 20.0))
    assert runs[0] == runs[2] == runs[4] == want


def test_a_busy_process_switches_to_the_compiled_kernel_with_the_same_answers() -> None:
    # with a budget of a nanosecond the first (exact) search uses it up: the
    # second and third calls run on the kernel and agree with the first
    runs = _tiering_run(1e-9)
    assert runs[1] == [False, False]
    assert runs[3] == runs[5] == [True, True]
    assert runs[0] == runs[2] == runs[4]


_WARM_SCRIPT = """
import json
from forecasting.erlang import warm_kernel
warm_kernel()
import forecasting.sl_kernel as k
stats = k.search.stats
print(json.dumps([sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]))
"""


def test_the_install_warm_up_leaves_the_kernel_in_the_cache_for_the_next_process() -> None:
    # `make` runs warm_kernel once; every process after it loads the machine
    # code from numba's cache instead of compiling it (4 s on this machine)
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def warm() -> list[int]:
        r = subprocess.run(
            [sys.executable, "-c", _WARM_SCRIPT], cwd=root, capture_output=True, text=True,
            timeout=120, check=True,
        )
        counts: list[int] = json.loads(r.stdout)
        return counts

    warm()
    hits, misses = warm()
    assert (hits, misses) == (1, 0)
