"""Staffing plans: per-queue targets, caps, exact rounding, pooled team leaders, floor totals."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from forecasting.arrivals import DayForecast, fit, to_grid
from forecasting.erlang import Targets, occupancy_floor, required_agents
from forecasting.errors import InvalidInput
from forecasting.plan import (
    PlanRow,
    PlanSettings,
    ShrinkageWindow,
    daily_totals,
    floor_days,
    floor_intervals,
    floor_weeks,
    plan_days,
    read_plan_csv,
    write_plan_csv,
)
from tests.forecasting.synthetic import seasonal_history

UTC = ZoneInfo("UTC")
DAY = date(2025, 3, 3)


def _fc(queue: str, calls: list[float], aht: float = 180.0, interval: int = 1800) -> DayForecast:
    starts = tuple(
        datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=UTC) + timedelta(seconds=interval * i)
        for i in range(len(calls))
    )
    return DayForecast(
        queue, DAY, interval, UTC, np.array(calls, float), np.full(len(calls), aht), starts
    )


def test_each_queue_gets_its_own_target() -> None:
    calls = [100.0, 200.0, 0.0]
    per = {
        "fast": PlanSettings(target_seconds=20, max_occupancy=0.95),
        "slow": PlanSettings(target_seconds=120, max_occupancy=0.95),
    }
    plan = plan_days([_fc("fast", calls), _fc("slow", calls)], PlanSettings(), per)
    fast = [r for r in plan.rows if r.queue == "fast"]
    slow = [r for r in plan.rows if r.queue == "slow"]
    for f, s in zip(fast, slow, strict=True):
        assert f.target_seconds == 20 and s.target_seconds == 120
        assert f.agents_required >= s.agents_required
        for r in (f, s):
            expected = required_agents(
                r.traffic_erlangs, 180.0, Targets(0.8, r.target_seconds, None, 0.95)
            )
            assert r.agents_required == int(expected)
    assert fast[1].agents_required > slow[1].agents_required
    assert fast[2].agents_required == 0 and not fast[2].is_open


def test_occupancy_cap_binds_on_big_queues() -> None:
    # 100 Erlangs: Erlang C alone would need about 105 agents at 95% occupancy.
    plan = plan_days([_fc("big", [1000.0])], PlanSettings())
    (row,) = plan.rows
    assert row.traffic_erlangs == 100.0
    assert row.agents_required == int(occupancy_floor(np.array([100.0]), 0.85)[0]) == 118
    assert row.occupancy <= 0.85
    loose = plan_days([_fc("big", [1000.0])], PlanSettings(max_occupancy=1.0)).rows[0]
    assert loose.agents_required < 118
    assert any(
        "occupancy" in w
        for w in plan_days([_fc("big", [1000.0])], PlanSettings(max_occupancy=1.0)).warnings
    )


def test_scheduled_agents_are_exact_and_per_interval_shrinkage() -> None:
    s = PlanSettings(
        shrinkage=0.3,
        unplanned_shrinkage=0.05,
        shrinkage_windows=(ShrinkageWindow(time(9), time(10), 0.45),),
    )
    plan = plan_days([_fc("q", [100.0, 100.0, 100.0, 100.0])], s)
    req = [r.agents_required for r in plan.rows]
    assert len(set(req)) == 1
    shrink = [r.shrinkage for r in plan.rows]
    assert shrink == pytest.approx([0.35, 0.35, 0.5, 0.5])
    for r in plan.rows:
        assert r.agents_scheduled == math.ceil(round(r.agents_required / (1 - r.shrinkage), 9))
    # 30% exactly: 21 on the phones schedule 30, not 31
    rows = plan_days([_fc("q", [0.0])], PlanSettings()).rows
    assert rows[0].agents_scheduled == 0


def test_team_leaders_are_pooled_across_the_floor() -> None:
    def row(q: str, scheduled: int) -> PlanRow:
        return PlanRow(
            datetime(2025, 3, 3, 9, tzinfo=UTC),
            1800,
            q,
            10.0,
            180,
            1.0,
            scheduled,
            scheduled,
            0.9,
            5.0,
            0.5,
            0.2,
            None,
        )

    # three small queues of 4 agents: one leader at 1:12, not three
    floor = floor_intervals([row("a", 4), row("b", 4), row("c", 4)], 12)
    assert [f.team_leaders for f in floor] == [1]
    assert floor[0].agents_scheduled == 12
    # 13 agents need 2 leaders (never rounded down)
    assert floor_intervals([row("a", 7), row("b", 6)], 12)[0].team_leaders == 2
    assert floor_intervals([row("a", 0)], 12)[0].team_leaders == 0


def test_floor_days_weeks_fte_and_peak() -> None:
    plan = plan_days(
        [_fc("a", [100.0, 300.0, 100.0, 0.0]), _fc("b", [50.0, 50.0, 400.0, 0.0])],
        PlanSettings(),
    )
    floor = floor_intervals(plan.rows, 12)
    (day,) = floor_days(floor, plan.settings)
    (week,) = floor_weeks(floor, plan.settings)
    sched = [f.agents_scheduled for f in floor]
    assert day.scheduled_agent_hours == pytest.approx(sum(sched) * 0.5)
    assert day.fte == pytest.approx(day.scheduled_agent_hours / 8.0)  # 40 h / 5 days
    assert week.fte == pytest.approx(week.scheduled_agent_hours / 40.0)
    assert week.label == "2025-W10 (1 days)"
    assert day.peak_agents == max(sched)
    assert day.peak_at == floor[int(np.argmax(sched))].start
    assert day.team_leader_hours == pytest.approx(sum(math.ceil(s / 12) for s in sched) * 0.5)
    totals = daily_totals(plan.rows)
    assert sum(t.scheduled_agent_hours for t in totals) == pytest.approx(day.scheduled_agent_hours)


def test_erlang_a_plan_shows_abandons_within_the_cap() -> None:
    plan = plan_days([_fc("q", [150.0, 300.0])], PlanSettings(patience_seconds=90))
    for r in plan.rows:
        assert r.probability_abandon is not None and r.probability_abandon <= 0.05
        assert r.occupancy <= 0.85
    relaxed = plan_days(
        [_fc("q", [3000.0])],
        PlanSettings(patience_seconds=60, max_abandon=1.0, max_occupancy=1.0, service_level=0.2),
    )
    assert any("abandons" in w for w in relaxed.warnings)


def test_zero_aht_with_calls_is_refused() -> None:
    fc = _fc("q", [10.0], aht=0.0)
    with pytest.raises(InvalidInput, match="AHT of 0"):
        plan_days([fc], PlanSettings())


def test_missing_wednesday_does_not_cut_the_plan() -> None:
    lost = date(2025, 2, 19)
    full = fit(to_grid("sales", seasonal_history(seed=6, weeks=8), 1800))
    gap = fit(to_grid("sales", seasonal_history(seed=6, weeks=8, drop={lost}), 1800))
    nxt = date(2025, 3, 5)
    h_full = daily_totals(plan_days([full.forecast(nxt)], PlanSettings()).rows)[0]
    h_gap = daily_totals(plan_days([gap.forecast(nxt)], PlanSettings()).rows)[0]
    assert h_gap.scheduled_agent_hours == pytest.approx(h_full.scheduled_agent_hours, rel=0.04)


def test_dst_day_plan_has_true_offsets_and_23_hours(tmp_path) -> None:  # type: ignore[no-untyped-def]
    warsaw = ZoneInfo("Europe/Warsaw")
    records = seasonal_history(seed=1, first=date(2025, 2, 24), weeks=5, tz=warsaw)
    model = fit(to_grid("sales", records, 1800, warsaw))
    plan = plan_days(
        [model.forecast(date(2025, 3, 29)), model.forecast(date(2025, 3, 30))], PlanSettings()
    )
    sat = [r for r in plan.rows if r.start.date() == date(2025, 3, 29)]
    sun = [r for r in plan.rows if r.start.date() == date(2025, 3, 30)]
    assert len(sat) == 48 and len(sun) == 46
    assert sat[18].start.isoformat() == "2025-03-29T09:00:00+01:00"
    assert sun[-1].start.isoformat() == "2025-03-30T23:30:00+02:00"
    path = tmp_path / "plan.csv"
    write_plan_csv(plan.rows, path)
    back = read_plan_csv(path)
    assert [r.start for r in back] == [r.start for r in plan.rows]
    assert [r.agents_scheduled for r in back] == [r.agents_scheduled for r in plan.rows]


def test_settings_are_validated() -> None:
    with pytest.raises(InvalidInput, match="below 1"):
        PlanSettings(shrinkage=0.7, unplanned_shrinkage=0.3).validate()
    with pytest.raises(InvalidInput, match="team leader"):
        PlanSettings(team_leader_ratio=20).validate()
