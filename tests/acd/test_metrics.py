"""Metric definitions (docs/metrics.md) against hand-computed values."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.core import metrics
from acd.core.intervals import WAIT_BUCKETS, wait_bucket_field
from acd.core.metrics import IntervalCounters, ServiceLevelVariant


def counters(**values: float | str) -> IntervalCounters:
    """Counters as the ACD's hash would hold them (histogram fields included)."""
    return IntervalCounters.from_hash({k: str(v) for k, v in values.items()})


def epoch(zone: str, *args: int) -> float:
    year, month, day, hour, minute, second = (*args, 0, 0, 0)[:6]
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).timestamp()


def test_no_calls_yet_every_ratio_is_none_not_nan() -> None:
    f = metrics.figures(metrics.EMPTY)
    assert (f.offered, f.answered, f.abandoned) == (0, 0, 0)
    assert f.service_level is None
    assert f.abandon_rate is None
    assert f.asa_seconds is None
    assert f.aht_seconds is None
    assert f.median_wait_seconds is None


def test_all_abandoned() -> None:
    # 4 offered, all abandoned, one of them within the short-abandon threshold.
    c = counters(offered=4, abandoned=4, short_abandoned=1)
    assert metrics.service_level(c) == 0.0  # 0 / (0 + 3 + 0)
    assert metrics.abandon_rate(c) == 0.75  # 3 / 4
    assert metrics.asa_seconds(c) is None
    assert metrics.figures(c).abandoned == 3


def test_only_short_abandons_leave_service_level_undefined() -> None:
    c = counters(offered=3, abandoned=3, short_abandoned=3)
    assert metrics.service_level(c) is None  # nothing counts against the target
    assert metrics.abandon_rate(c) == 0.0


def test_service_level_variants() -> None:
    c = counters(
        offered=10,
        answered=6,
        answered_within_target=5,
        abandoned=3,
        short_abandoned=1,
        timed_out=1,
    )
    assert metrics.service_level(c) == pytest.approx(5 / 9)  # 6 answered + 2 abandoned + 1 out
    assert metrics.service_level(c, ServiceLevelVariant.ANSWERED) == pytest.approx(5 / 6)
    assert metrics.service_level(c, ServiceLevelVariant.OFFERED) == pytest.approx(5 / 10)
    assert metrics.abandon_rate(c) == pytest.approx(2 / 10)


def test_service_level_never_above_100_percent() -> None:
    # Counters written by two ACD instances can briefly disagree.
    assert metrics.service_level(counters(answered=2, answered_within_target=3)) == 1.0


def test_asa_and_aht() -> None:
    c = counters(answered=6, wait_seconds=180, handled=5, handle_seconds=1200)
    assert metrics.asa_seconds(c) == 30.0
    assert metrics.aht_seconds(c) == 240.0


def test_median_wait_interpolates_within_the_bucket() -> None:
    # Waits 3, 8, 12, 14 s -> buckets <=5: 1, <=10: 1, <=15: 2; rank 2 of 4 is
    # the one call in (5, 10]: 5 + (2 - 1) / 1 * 5 = 10.
    waits = [3, 8, 12, 14]
    fields: dict[str, float] = {}
    for w in waits:
        fields[wait_bucket_field(w)] = fields.get(wait_bucket_field(w), 0) + 1
    assert metrics.median_wait_seconds(counters(**fields)) == 10.0
    # Three calls in (120, 130]: rank 1.5 -> 120 + 1.5 / 3 * 10 = 125.
    assert metrics.median_wait_seconds(counters(wait_le_130=3)) == 125.0


def test_median_wait_in_the_open_last_bucket_is_its_lower_bound() -> None:
    assert metrics.median_wait_seconds(counters(wait_gt_3600=2)) == 3600.0


def test_from_hash_reads_bytes_and_ignores_unknown_or_broken_fields() -> None:
    c = IntervalCounters.from_hash(
        {b"offered": b"7", b"answered": b"2.0", b"brand_new_counter": b"1", b"abandoned": b"x"}
    )
    assert (c.offered, c.answered, c.abandoned) == (7.0, 2.0, 0.0)
    assert metrics.abandon_rate(counters(offered="nan", abandoned=1)) is None


def test_sum_of_intervals() -> None:
    a = counters(offered=2, answered=2, answered_within_target=1, wait_le_5=1, wait_le_200=1)
    b = counters(offered=1, abandoned=1)
    t = metrics.total([a, b])
    assert (t.offered, t.answered, t.abandoned) == (3, 2, 1)
    assert metrics.service_level(t) == pytest.approx(1 / 3)
    assert sum(t.wait_histogram) == 2


def test_longest_wait() -> None:
    assert metrics.longest_wait_seconds(None, 1000.0) is None
    assert metrics.longest_wait_seconds(940.0, 1000.0) == 60.0
    assert metrics.longest_wait_seconds(1001.0, 1000.0) == 0.0  # clock skew between hosts


def test_occupancy() -> None:
    assert metrics.occupancy(0, 0) is None
    assert metrics.occupancy(300, 100) == 0.75


# --- periods -------------------------------------------------------------------


def test_today_starts_at_local_midnight_and_includes_the_current_interval() -> None:
    zone = "Europe/Warsaw"  # UTC+1 in March
    midnight = epoch(zone, 2024, 3, 5, 0, 0)
    assert metrics.local_day_start(midnight + 3600, zone) == midnight
    assert metrics.today_interval_starts(midnight, zone) == [int(midnight)]
    late = epoch(zone, 2024, 3, 5, 23, 59, 59)
    starts = metrics.today_interval_starts(late, zone)
    assert len(starts) == 96
    assert starts[0] == midnight and starts[-1] == midnight + 95 * 900


def test_midnight_rollover_in_the_configured_time_zone() -> None:
    zone = "Europe/Warsaw"
    before = epoch(zone, 2024, 3, 5, 23, 50)
    after = epoch(zone, 2024, 3, 6, 0, 5)
    by_start = {int(epoch(zone, 2024, 3, 5, 23, 45)): counters(offered=5, answered=5)}

    def today_offered(now: float) -> float:
        starts = metrics.today_interval_starts(now, zone)
        return metrics.total(by_start.get(s, metrics.EMPTY) for s in starts).offered

    assert today_offered(before) == 5
    assert today_offered(after) == 0  # a new local day, though UTC is still on the 5th
    assert dt.datetime.fromtimestamp(after, dt.UTC).day == 5
    # The same instant is still "yesterday evening" for a board kept in New York.
    assert metrics.local_day_start(after, "America/New_York") == epoch(
        "America/New_York", 2024, 3, 5, 0, 0
    )


@pytest.mark.parametrize(
    ("day", "intervals"),
    [((2024, 3, 31), 92), ((2024, 10, 27), 100), ((2024, 6, 1), 96)],
)
def test_days_with_a_dst_change_have_23_or_25_hours(
    day: tuple[int, int, int], intervals: int
) -> None:
    zone = "Europe/Warsaw"
    last = epoch(zone, *day, 0, 0) + (intervals * 900) - 1
    starts = metrics.today_interval_starts(last, zone)
    assert len(starts) == intervals
    assert starts[0] == epoch(zone, *day, 0, 0)


def test_quarter_hour_time_zone_midnight_is_an_interval_boundary() -> None:
    zone = "Asia/Kathmandu"  # UTC+5:45
    now = epoch(zone, 2024, 6, 1, 0, 20)
    starts = metrics.today_interval_starts(now, zone)
    assert starts == [int(epoch(zone, 2024, 6, 1, 0, 0)), int(epoch(zone, 2024, 6, 1, 0, 15))]


def test_rolling_hour_weights_the_straddling_interval_by_its_share() -> None:
    now = epoch("UTC", 2024, 6, 1, 10, 7, 30)
    weights = dict(metrics.rolling_window_weights(now))
    assert weights == {
        int(epoch("UTC", 2024, 6, 1, 9, 0)): 0.5,  # 09:07:30-09:15 of 09:00-09:15
        int(epoch("UTC", 2024, 6, 1, 9, 15)): 1.0,
        int(epoch("UTC", 2024, 6, 1, 9, 30)): 1.0,
        int(epoch("UTC", 2024, 6, 1, 9, 45)): 1.0,
        int(epoch("UTC", 2024, 6, 1, 10, 0)): 1.0,
    }
    by_start = {s: counters(offered=10, answered=10, answered_within_target=5) for s in weights}
    by_start[int(epoch("UTC", 2024, 6, 1, 8, 45))] = counters(offered=99)  # outside the hour
    hour = metrics.window_total(by_start, metrics.rolling_window_weights(now))
    assert hour.offered == 45.0
    assert metrics.service_level(hour) == 0.5


def test_rolling_hour_on_an_interval_boundary() -> None:
    now = epoch("UTC", 2024, 6, 1, 10, 0)
    starts = [s for s, w in metrics.rolling_window_weights(now) if w > 0]
    assert starts[0] == epoch("UTC", 2024, 6, 1, 9, 0) and len(starts) == 5


# --- properties ------------------------------------------------------------------

bucket_counts = st.lists(
    st.integers(min_value=0, max_value=50),
    min_size=len(WAIT_BUCKETS) + 1,
    max_size=len(WAIT_BUCKETS) + 1,
)


@given(bucket_counts, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_wait_quantiles_are_monotone_and_inside_the_occupied_buckets(
    counts: list[int], q1: float, q2: float
) -> None:
    c = IntervalCounters(wait_histogram=tuple(float(n) for n in counts))
    low, high = sorted((q1, q2))
    a, b = metrics.wait_quantile(c, low), metrics.wait_quantile(c, high)
    if sum(counts) == 0:
        assert a is None and b is None
        return
    assert a is not None and b is not None
    assert a <= b + 1e-9
    bounds = (0, *WAIT_BUCKETS)
    first = next(i for i, n in enumerate(counts) if n)
    last = max(i for i, n in enumerate(counts) if n)
    assert bounds[first] - 1e-9 <= a
    assert b <= bounds[min(last + 1, len(WAIT_BUCKETS))] + 1e-9


@given(
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_service_level_is_a_share_or_none(
    answered: int, within: int, abandoned: int, timed_out: int
) -> None:
    within = min(within, answered)
    c = counters(
        answered=answered,
        answered_within_target=within,
        abandoned=abandoned,
        timed_out=timed_out,
        offered=answered + abandoned + timed_out,
    )
    for variant in ServiceLevelVariant:
        value = metrics.service_level(c, variant)
        assert value is None or 0.0 <= value <= 1.0
    assert (metrics.service_level(c) is None) == (answered + abandoned + timed_out == 0)
