"""Special-day calendar and per-queue targets files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from forecasting.calendar import load_calendar, parse_calendar
from forecasting.errors import InvalidInput
from forecasting.plan import PlanSettings
from forecasting.targets import load_acd_config, load_targets, settings_per_queue


def test_calendar_file(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text(
        """
[[day]]
date = "2025-04-21"
name = "Easter Monday"
closed = true

[[day]]
date = "2025-05-02"
factor = 0.3
queues = ["sales"]

[[day]]
dates = ["2025-12-24", "2025-12-31"]
like = "saturday"

[[day]]
date = "2025-06-02"
like = "2025-05-26"
factor = 1.5
"""
    )
    cal = load_calendar(path)
    sales, support = cal.for_queue("sales"), cal.for_queue("support")
    assert sales[date(2025, 4, 21)].closed and support[date(2025, 4, 21)].closed
    assert sales[date(2025, 5, 2)].factor == 0.3 and date(2025, 5, 2) not in support
    assert sales[date(2025, 12, 31)].like_weekday == 5
    assert sales[date(2025, 6, 2)].like_date == date(2025, 5, 26)
    assert sales[date(2025, 6, 2)].describe() == "like 2025-05-26, x1.5"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"day": [{"name": "x"}]}, "exactly one of 'date' or 'dates'"),
        ({"day": [{"date": "soon"}]}, "YYYY-MM-DD"),
        ({"day": [{"date": "2025-01-01", "factor": -1}]}, "factor"),
        ({"day": [{"date": "2025-01-01", "like": "someday"}]}, "weekday"),
        ({"day": [{"date": "2025-01-01", "closed": True, "factor": 0.5}]}, "closed day"),
        ({"day": [{"date": "2025-01-01", "colour": "red"}]}, "unknown key 'colour'"),
        ({"days": []}, "unknown key"),
    ],
)
def test_calendar_errors_name_the_entry(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_calendar(data, "cal.toml")


def test_targets_precedence(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(
        """
[default]
service_level = 0.85
unplanned_shrinkage = 0.05
[[default.shrinkage_window]]
from = "12:00"
to = "14:00"
planned = 0.45

[queue.sales]
target_seconds = 20
patience_seconds = 90
"""
    )
    acd = tmp_path / "acd.toml"
    acd.write_text(
        """
[wallboard]
timezone = "Europe/Paris"
[[queues]]
name = "support"
service_level_seconds = 45
wrap_up_seconds = 30
holidays = ["2026-05-01"]
"""
    )
    cfg = load_acd_config(acd)
    assert cfg.timezone == "Europe/Paris"
    assert cfg.queues["support"].holidays == (date(2026, 5, 1),)
    base, per, source = settings_per_queue(
        ["billing", "sales", "support"],
        history_targets={"billing": 120, "sales": 60, "support": 60},
        acd=cfg,
        targets=load_targets(path),
        flags={"shrinkage": 0.25, "max_occupancy": None},
    )
    assert per["billing"].target_seconds == 120 and source["billing"] == "history"
    assert per["support"].target_seconds == 45 and source["support"] == "ACD config"
    assert per["sales"].target_seconds == 20 and per["sales"].patience_seconds == 90
    assert all(s.service_level == 0.85 and s.shrinkage == 0.25 for s in per.values())
    assert per["sales"].shrinkage_windows[0].planned == 0.45
    assert base.unplanned_shrinkage == 0.05
    # the command line beats the file's [default], the file's [queue.X] beats both
    _, per, source = settings_per_queue(
        ["sales", "support"],
        history_targets={},
        targets=load_targets(path),
        flags={"target_seconds": 30.0},
    )
    assert per["support"].target_seconds == 30 and source["support"] == "--target-seconds"
    assert per["sales"].target_seconds == 20


def test_targets_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("[queue.sales]\nservice_levle = 0.9\n")
    with pytest.raises(InvalidInput, match="service_levle: unknown key"):
        load_targets(path)
    path.write_text("[queue.sale]\nservice_level = 0.9\n")
    with pytest.raises(InvalidInput, match="not in the history: sale"):
        settings_per_queue(["sales"], history_targets={}, targets=load_targets(path))
    path.write_text("[default]\nservice_level = 1.5\n")
    with pytest.raises(InvalidInput, match="service level"):
        settings_per_queue(["sales"], history_targets={}, targets=load_targets(path))
    assert PlanSettings().shrinkage_at(__import__("datetime").time(12)) == 0.3
