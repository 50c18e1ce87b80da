"""Intraday: actuals against the plan, re-forecast and re-staffing of the rest."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from forecasting.arrivals import fit, to_grid
from forecasting.errors import InvalidInput
from forecasting.history import IntervalRecord
from forecasting.intraday import PRIOR_CALLS, compare, needs_now, read_snapshot
from forecasting.plan import PlanRow, PlanSettings, plan_days
from tests.forecasting.synthetic import seasonal_history

WARSAW = ZoneInfo("Europe/Warsaw")
DAY = date(2025, 2, 19)


def _plan() -> list[PlanRow]:
    model = fit(to_grid("sales", seasonal_history(seed=2, tz=WARSAW), 1800, WARSAW))
    return plan_days([model.forecast(DAY)], PlanSettings()).rows


def _actuals(
    rows: list[PlanRow], until: datetime, factor: float, aht: float
) -> list[IntervalRecord]:
    out = []
    for r in rows:
        if r.start + timedelta(seconds=r.interval_seconds) > until or r.forecast_calls <= 0:
            continue
        n = round(r.forecast_calls * factor)
        out.append(IntervalRecord(r.start, 1800, "sales", n, n, 0, n, 120, n * aht, 0.0))
    return out


def test_busier_morning_raises_the_afternoon() -> None:
    rows = _plan()
    now = datetime(2025, 2, 19, 12, 10, tzinfo=WARSAW)
    actual = _actuals(rows, now, 1.2, 240.0)
    report = compare(rows, actual, now)
    (q,) = report.queues
    a = sum(r.offered for r in actual)
    assert q.actual_calls_so_far == a
    assert q.calls_ratio == pytest.approx(
        (a + PRIOR_CALLS) / (q.planned_calls_so_far + PRIOR_CALLS)
    )
    assert q.calls_ratio > 1.15
    assert q.reforecast_calls_rest == pytest.approx(q.planned_calls_rest * q.calls_ratio)
    assert q.aht_ratio == pytest.approx(1.0, abs=0.01)
    later = [i for i in q.intervals if i.actual_calls is None and i.planned_calls > 0]
    assert later and all(i.reforecast_agents >= i.planned_agents for i in later)
    assert sum(i.reforecast_agents > i.planned_agents for i in later) >= len(later) // 2
    assert any("+20%" in w or "+19%" in w or "+21%" in w for w in report.warnings)
    (need,) = needs_now(report, now, {"sales": 17})
    assert need.interval_start == datetime(2025, 2, 19, 12, 0, tzinfo=WARSAW)
    assert need.logged_in == 17 and need.needed_agents > need.planned_agents


def test_longer_calls_raise_the_need_too() -> None:
    rows = _plan()
    now = datetime(2025, 2, 19, 12, 10, tzinfo=WARSAW)
    report = compare(rows, _actuals(rows, now, 1.0, 300.0), now)
    (q,) = report.queues
    assert q.actual_aht == pytest.approx(300.0)
    assert 1.2 < q.aht_ratio < 1.25
    assert q.calls_ratio == pytest.approx(1.0, abs=0.02)
    later = [i for i in q.intervals if i.actual_calls is None and i.planned_calls > 0]
    assert all(i.reforecast_aht == pytest.approx(i.planned_aht * q.aht_ratio) for i in later)


def test_plan_of_another_day_is_refused() -> None:
    rows = _plan()
    with pytest.raises(InvalidInput, match="no intervals on 2025-02-20"):
        compare(rows, [], datetime(2025, 2, 20, 9, tzinfo=WARSAW))
    report = compare(rows, [], datetime(2025, 2, 19, 9, 5, tzinfo=WARSAW))
    assert any("no actual intervals" in w for w in report.warnings)


def test_snapshot_gives_agents_logged_in(tmp_path: Path) -> None:
    snap = {"generated_at": "x", "queues": [{"name": "sales", "agents": {"logged_in": 9}}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(snap))
    assert read_snapshot(path) == {"sales": 9}
    path.write_text("{}")
    with pytest.raises(InvalidInput, match="queues"):
        read_snapshot(path)


def test_intraday_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from callcenter.cli import main
    from forecasting.history import write_interval_csv
    from forecasting.plan import write_plan_csv

    rows = _plan()
    plan = tmp_path / "plan.csv"
    write_plan_csv(rows, plan)
    now = datetime(2025, 2, 19, 12, 10, tzinfo=WARSAW)
    actual = tmp_path / "today.csv"
    with actual.open("w") as fh:
        write_interval_csv([replace(r) for r in _actuals(rows, now, 1.2, 240.0)], fh)
    argv = ["forecast", "intraday", "--plan", str(plan), "--actual", str(actual)]
    argv += ["--now", now.isoformat()]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sales" in out and "re-forecast" in out and "12:00" in out
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["needs"][0]["queue"] == "sales"
    assert data["queues"][0]["calls_ratio"] > 1.15
