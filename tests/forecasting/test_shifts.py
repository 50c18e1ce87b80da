"""Shift schedules: the integer program is optimal (brute force), covers every
interval, places breaks inside their windows, and beats the greedy cover."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import shifts as sh
from forecasting.errors import InvalidInput
from forecasting.shifts import (
    BreakRule,
    Requirement,
    ShiftTemplate,
    greedy_cover,
    parse_templates,
    solve_schedule,
)

DAY = date(2025, 3, 3)


def _req(values: list[int], interval: int = 3600, first_hour: int = 8) -> Requirement:
    start = datetime(DAY.year, DAY.month, DAY.day, first_hour, tzinfo=UTC)
    starts = tuple(start + timedelta(seconds=interval * i) for i in range(len(values)))
    return Requirement(starts, interval, np.array(values, dtype=np.int64))


SMALL = [
    ShiftTemplate("long", time(8), time(12), 240, start_step_minutes=120),
    ShiftTemplate("short", time(8), time(14), 120, start_step_minutes=120),
]


def _brute_force(req: Requirement, templates: list[ShiftTemplate], limit: int) -> float:
    cands = sh._candidates(req, templates)
    cover = np.array([c.cover for c in cands])
    cost = np.array([c.template.paid_hours for c in cands])
    best = np.inf
    for counts in itertools.product(range(limit + 1), repeat=len(cands)):
        v = np.array(counts, dtype=float)
        if np.all(v @ cover >= req.required - 1e-9):
            best = min(best, float(v @ cost))
    return best


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3), min_size=8, max_size=8))
def test_integer_program_is_optimal_against_brute_force(values: list[int]) -> None:
    req = _req(values)
    schedule = solve_schedule(req, SMALL)
    assert schedule.status == "optimal"
    assert np.all(schedule.coverage >= req.required - 1e-9)
    assert schedule.under_hours == 0
    assert schedule.paid_hours == pytest.approx(_brute_force(req, SMALL, 3))
    assert greedy_cover(req, SMALL).paid_hours >= schedule.paid_hours - 1e-9


def test_hand_checked_cover() -> None:
    # 2 agents 08-12, 1 agent 12-14: exactly 10 agent-hours, no waste possible
    req = _req([2, 2, 2, 2, 1, 1, 0, 0])
    s = solve_schedule(req, SMALL)
    assert s.paid_hours == 10.0
    assert s.over_hours == 0.0 and s.under_hours == 0.0
    # 3 agents 09-11 only: shifts start on the even hours, so 2 h shifts at
    # 08:00 and 10:00 (12 paid hours) are the cheapest cover
    s = solve_schedule(_req([0, 3, 3, 0, 0, 0, 0, 0]), SMALL)
    assert s.paid_hours == 12.0 and s.over_hours == 6.0


def test_breaks_are_placed_inside_their_windows_and_staggered() -> None:
    # Four agents needed 08:00-12:00 on a 15-minute grid; each 4:30 shift has
    # an unpaid 30-minute lunch between 1:30 and 3:00 after its start.
    tpl = ShiftTemplate("day", time(7, 30), time(8), 270, (BreakRule(30, 90, 180, paid=False),), 30)
    req = _req([4] * 16, interval=900)
    s = solve_schedule(req, [tpl])
    assert s.status == "optimal"
    assert np.all(s.coverage >= req.required - 1e-9)
    for shift in s.shifts:
        assert sum(b.agents for b in shift.breaks) == shift.agents
        for b in shift.breaks:
            offset = (b.start - shift.start).total_seconds() / 60
            assert 90 <= offset <= 180 and b.minutes == 30
    # lunches must be staggered: never all agents away at once
    assert s.paid_hours == 5 * 4.0  # 5 agents on 4 paid hours each


def test_uncoverable_requirement_is_reported_not_dropped() -> None:
    # needs agents until 20:00, but the last shift ends at 16:00
    req = _req([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3], first_hour=8)
    s = solve_schedule(req, SMALL)
    assert s.under_hours == pytest.approx(1 + 1 + 3 + 3)  # 16:00-20:00
    assert np.all(s.coverage[:8] >= 1)


def test_template_errors_name_the_shift() -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        parse_templates({})
    with pytest.raises(InvalidInput, match=r"'early'\.length"):
        parse_templates(
            {
                "shift": [
                    {
                        "name": "early",
                        "start_earliest": "07:00",
                        "start_latest": "08:00",
                        "length": "8h",
                    }
                ]
            }
        )
    with pytest.raises(InvalidInput, match="can end after the shift"):
        parse_templates(
            {
                "shift": [
                    {
                        "name": "x",
                        "start_earliest": "07:00",
                        "start_latest": "08:00",
                        "length": "02:00",
                        "breaks": [{"length": "00:30", "earliest": "01:00", "latest": "01:45"}],
                    }
                ]
            }
        )
    (t,) = parse_templates(
        {
            "shift": [
                {
                    "name": "x",
                    "start_earliest": "07:00",
                    "start_latest": "08:00",
                    "length": "04:00",
                    "days": ["mon", "Tuesday"],
                    "breaks": [
                        {"length": "00:30", "earliest": "01:00", "latest": "02:00", "paid": False}
                    ],
                }
            ]
        }
    )
    assert t.days == frozenset({0, 1}) and t.paid_hours == 3.5
