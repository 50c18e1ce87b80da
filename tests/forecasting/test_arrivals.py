"""Arrival forecast: seasonality, trend, missing days, DST, special days, backtest."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forecasting.arrivals import backtest, day_instants, fit, history_zone, to_grid
from forecasting.calendar import SpecialDay
from forecasting.errors import HistoryError, InvalidInput
from forecasting.history import IntervalRecord, parse_interval_csv, write_interval_csv
from tests.forecasting.synthetic import seasonal_history

HOLIDAY = date(2025, 1, 29)
WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backtest_beats_same_interval_last_week(seed: int) -> None:
    grid = to_grid("sales", seasonal_history(seed=seed, holiday=HOLIDAY), 1800)
    result = backtest(grid, [HOLIDAY])
    # 6 weeks ending on a Saturday (Sundays have no rows), 2 needed to train:
    # 3 rolling origins, one week each
    assert result.origins == (date(2025, 1, 26), date(2025, 2, 2), date(2025, 2, 9))
    # Sundays are closed and the holiday is special: neither is scored
    assert result.days_scored == 3 * 6 - 1
    assert result.model_wape < result.naive_wape
    assert result.score("calls", "day", "model").wape < result.score("calls", "day", "naive").wape


def test_forecast_follows_weekday_profile_and_trend() -> None:
    grid = to_grid("sales", seasonal_history(seed=4, holiday=HOLIDAY), 1800)
    model = fit(grid, [HOLIDAY])
    monday = model.forecast(date(2025, 2, 17)).calls.sum()
    saturday = model.forecast(date(2025, 2, 22)).calls.sum()
    sunday = model.forecast(date(2025, 2, 23)).calls.sum()
    # true Monday level after 6 weeks of 2%/week growth: 2000 * 1.02**6 ~ 2252
    assert monday == pytest.approx(2000 * 1.02**6, rel=0.06)
    assert saturday / monday == pytest.approx(0.4, rel=0.1)
    assert sunday == 0.0
    assert model.weekday_status[6] == "closed"
    assert model.trend_slope > 0
    day = model.forecast(date(2025, 2, 17))
    assert np.all(day.calls[:16] == 0)  # closed before 08:00
    assert day.aht_seconds[20] == pytest.approx(240.0)


def test_holiday_is_left_out_of_the_fit() -> None:
    records = seasonal_history(seed=5, holiday=HOLIDAY)
    grid = to_grid("sales", records, 1800)
    with_holiday = fit(grid).weekday_factor[2]
    without = fit(grid, [HOLIDAY]).weekday_factor[2]
    assert without / fit(grid, [HOLIDAY]).weekday_factor[0] == pytest.approx(0.9, rel=0.06)
    assert with_holiday < without


def test_grid_rules() -> None:
    records = seasonal_history(weeks=1)
    with pytest.raises(InvalidInput, match="cannot be split"):
        to_grid("sales", records, 600)
    with pytest.raises(HistoryError):
        backtest(to_grid("sales", records, 1800))


def test_a_missing_day_is_missing_not_zero() -> None:
    # An 8-week history with one Wednesday lost from the export.
    lost = date(2025, 2, 19)
    full = fit(to_grid("sales", seasonal_history(seed=6, weeks=8), 1800))
    gap = fit(to_grid("sales", seasonal_history(seed=6, weeks=8, drop={lost}), 1800))
    assert gap.missing_days == (lost,)
    assert any("missing" in n and str(lost) in n for n in gap.notes())
    nxt = date(2025, 3, 5)  # the Wednesday after the history
    planned_full = full.forecast(nxt).calls.sum()
    planned_gap = gap.forecast(nxt).calls.sum()
    # Treated as zero it would lose about a sixth of Wednesday's volume.
    assert planned_gap == pytest.approx(planned_full, rel=0.03)


def test_a_weekday_never_seen_is_refused_not_planned_at_zero() -> None:
    one_day = [r for r in seasonal_history(seed=1, weeks=1) if r.start.weekday() == 0]
    model = fit(to_grid("sales", one_day, 1800))
    assert model.weekday_status == ("open",) + ("unseen",) * 6
    notes = " ".join(model.notes())
    assert "tuesday" in notes and "only 1 day" in notes
    assert model.forecast(date(2025, 1, 13)).calls.sum() > 1000  # a Monday is fine
    with pytest.raises(InvalidInput, match="no tuesday"):
        model.forecast(date(2025, 1, 14))
    # ...unless the planner says what that day is like
    like_monday = SpecialDay(date(2025, 1, 14), like_weekday=0)
    assert model.forecast(date(2025, 1, 14), like_monday).calls.sum() > 1000


def test_daylight_saving_week_in_warsaw_keeps_local_time() -> None:
    # Clocks go forward on Sunday 30 March 2025 (02:00 -> 03:00).
    generated = seasonal_history(seed=2, first=date(2025, 2, 17), weeks=7, tz=WARSAW)
    # through the CSV, as a planner gets it: fixed offsets per row, no zone
    buf = io.StringIO()
    write_interval_csv(generated, buf)
    records = list(parse_interval_csv(buf.getvalue()).records)
    assert records[0].start.tzinfo != WARSAW
    offsets = {r.start.utcoffset() for r in records}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}
    with pytest.raises(InvalidInput, match="several UTC offsets"):
        history_zone(records)
    grid = to_grid("sales", records, 1800, WARSAW)
    model = fit(grid)
    before = model.forecast(date(2025, 3, 24))
    after = model.forecast(date(2025, 4, 7))
    # 09:00 local is slot 18 on both sides of the change, with its true offset
    assert before.slot_start(18).isoformat() == "2025-03-24T09:00:00+01:00"
    assert after.slot_start(18).isoformat() == "2025-04-07T09:00:00+02:00"
    # the morning peak stays at 10:30 local after the change (not an hour off)
    assert int(np.argmax(after.calls)) == 21
    assert after.calls[:16].sum() == 0  # still closed before 08:00 local
    # the change day itself has 23 hours: 46 half hours, 02:00 missing
    assert len(day_instants(date(2025, 3, 30), WARSAW, 1800)) == 46
    assert len(day_instants(date(2025, 10, 26), WARSAW, 1800)) == 50


def test_special_days_factor_closed_and_like() -> None:
    model = fit(to_grid("sales", seasonal_history(seed=3), 1800))
    day = date(2025, 2, 19)  # a Wednesday after the history
    normal = model.forecast(day).calls
    bridge = model.forecast(day, SpecialDay(day, "bridge day", factor=0.3))
    assert bridge.calls == pytest.approx(0.3 * normal)
    assert bridge.note == "bridge day (x0.3)"
    assert model.forecast(day, SpecialDay(day, closed=True)).calls.sum() == 0
    like_sat = model.forecast(day, SpecialDay(day, like_weekday=5)).calls
    saturday = model.forecast(date(2025, 2, 22)).calls
    # same profile as a Saturday, at Wednesday's trend level (3 days earlier)
    assert like_sat / like_sat.sum() == pytest.approx(saturday / saturday.sum())
    assert like_sat.sum() == pytest.approx(saturday.sum(), rel=0.02)


def test_start_before_history_is_refused_and_trend_is_bounded() -> None:
    model = fit(to_grid("sales", seasonal_history(seed=3, growth_per_week=0.1), 1800))
    with pytest.raises(InvalidInput, match="before the history"):
        model.forecast(date(2024, 12, 2))
    end = model.level(model.last_used)
    assert model.level(model.last_used + 3650) <= 1.5 * end + 1e-9
    assert model.level(model.last_used + 7) > end  # but a week ahead still grows
    slow = fit(to_grid("sales", seasonal_history(seed=3, growth_per_week=0.02), 1800))
    span = slow.last_used + 1
    # extrapolated at most as far ahead as the history is long, then flat
    assert slow.level(slow.last_used + span) > slow.level(slow.last_used + span // 2)
    assert slow.level(slow.last_used + 3 * span) == slow.level(slow.last_used + span)


def test_zero_handle_time_is_an_error() -> None:
    records = [replace(r, handle_seconds=0.0) for r in seasonal_history(weeks=2)]
    with pytest.raises(HistoryError, match="AHT 0"):
        fit(to_grid("sales", records, 1800))


def _flat_week(values: float, aht: float, first: date, days: int) -> list[IntervalRecord]:
    tz = ZoneInfo("UTC")
    out = []
    for d in range(days):
        day = first + timedelta(days=d)
        for h in (9, 10, 11):
            out.append(
                IntervalRecord(
                    start=datetime(day.year, day.month, day.day, h, tzinfo=tz),
                    interval_seconds=3600,
                    queue="q",
                    offered=round(values * (h - 8)),
                    answered=round(values * (h - 8)),
                    abandoned=0,
                    answered_within_target=0,
                    target_seconds=60,
                    handle_seconds=round(values * (h - 8)) * aht,
                    wait_seconds=0,
                )
            )
    return out


def test_backtest_benchmarks_are_hand_checkable() -> None:
    # Three identical weeks, then a week 10% busier with a longer AHT.
    first = date(2025, 1, 6)
    records = _flat_week(100, 180, first, 21) + _flat_week(110, 200, first + timedelta(21), 7)
    r = backtest(to_grid("q", records, 3600), weeks=1, min_train_days=21)
    assert r.origins == (first + timedelta(days=21),)
    for level in ("interval", "day", "week"):
        for method in ("naive", "seasonal_average"):
            calls = r.score("calls", level, method)
            assert calls.wape == pytest.approx(1 / 11)  # |100 - 110| / 110
            assert calls.bias == pytest.approx(-1 / 11)
            aht = r.score("aht", level, method)
            assert aht.wape == pytest.approx(0.1)  # |180 - 200| / 200
            assert aht.bias == pytest.approx(-0.1)
    assert r.score("calls", "week", "model").bias < 0  # the model did not see it coming


def test_recent_weeks_weigh_more_in_the_profile() -> None:
    # Morning-heavy weeks first, afternoon-heavy weeks last: the profile
    # must lean to the recent (afternoon) pattern.
    first = date(2025, 1, 6)
    tz = ZoneInfo("UTC")
    records = []
    for d in range(42):
        day = first + timedelta(days=d)
        morning, afternoon = (300, 100) if d < 21 else (100, 300)
        for h, n in ((9, morning), (15, afternoon)):
            records.append(
                IntervalRecord(
                    datetime(day.year, day.month, day.day, h, tzinfo=tz),
                    3600,
                    "q",
                    n,
                    n,
                    0,
                    n,
                    60,
                    n * 100.0,
                    0.0,
                )
            )
    model = fit(to_grid("q", records, 3600))
    share = model.share[0]
    assert share[15] > 0.55 > share[9]
