"""Charts: what a planner reads off them (axes, legend, closed hours, targets)."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from forecasting.arrivals import fit, to_grid
from forecasting.charts import _sl_values, render_html, write_png
from forecasting.plan import PlanSettings, daily_totals, plan_days
from tests.forecasting.synthetic import seasonal_history

WARSAW = ZoneInfo("Europe/Warsaw")


def _plan(days: int = 2):  # type: ignore[no-untyped-def]
    model = fit(to_grid("sales", seasonal_history(seed=1, tz=WARSAW), 1800, WARSAW))
    fcs = [model.forecast(date(2025, 2, 17 + d)) for d in range(days)]
    return plan_days(fcs, PlanSettings(service_level=0.9, target_seconds=20))


def test_service_level_is_not_drawn_while_closed() -> None:
    plan = _plan()
    values = _sl_values(plan.rows[:48])
    assert all(math.isnan(v) for v in values[:16])  # 00:00-08:00 closed
    assert all(not math.isnan(v) for v in values[16:40])


def test_html_has_time_axis_targets_and_settings() -> None:
    plan = _plan()
    page = render_html(plan, daily_totals(plan.rows))
    assert "Mon 17 Feb" in page and "Tue 18 Feb" in page
    assert "06:00" in page and "18:00" in page
    assert "SL target 90%" in page
    assert "target 90% in 20 s" in page and "Europe/Warsaw" in page
    assert "<script" not in page
    # the service level is drawn in pieces, one per open stretch of each day
    sl_lines = re.findall(r"<polyline[^>]*><title>service level</title>", page)
    assert len(sl_lines) == 2


def test_png_renders(tmp_path: Path) -> None:
    plan = _plan(3)
    path = tmp_path / "plan.png"
    write_png(plan.rows, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
