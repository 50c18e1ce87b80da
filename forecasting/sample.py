"""A realistic sample history to try planning on a fresh machine.

Three queues with their own answer-time targets (sales 20 s, support 60 s,
billing 120 s), a weekly and a double-hump daily pattern, growth, Poisson
noise, an AHT that varies through the day, a day of reduced volume (Good
Friday), and a daylight-saving change (Europe/Warsaw, 29 March 2026) inside
the nine weeks. Written in the interval CSV of DESIGN.md; the matching
special-day calendar is written beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo

import numpy as np

from forecasting.arrivals import day_instants
from forecasting.history import IntervalRecord

SAMPLE_START = date(2026, 2, 2)
SAMPLE_WEEKS = 9
SAMPLE_TIMEZONE = "Europe/Warsaw"


@dataclass(frozen=True, slots=True)
class SampleQueue:
    """How one sample queue behaves."""

    name: str
    daily_calls: float
    target_seconds: int
    aht_seconds: float
    #: opening hours per weekday (Monday first): (open, close) in hours, or None
    hours: tuple[tuple[float, float] | None, ...]
    weekday_factor: tuple[float, ...]


QUEUES = (
    SampleQueue(
        "sales",
        2400.0,
        20,
        210.0,
        ((8, 20),) * 5 + ((9, 14), None),
        (1.0, 0.95, 0.9, 0.92, 0.85, 0.35, 0.0),
    ),
    SampleQueue(
        "support",
        1500.0,
        60,
        360.0,
        ((7, 22),) * 5 + ((8, 18), (10, 16)),
        (1.1, 1.0, 0.95, 0.95, 0.9, 0.5, 0.3),
    ),
    SampleQueue(
        "billing",
        400.0,
        120,
        300.0,
        ((9, 17),) * 5 + (None, None),
        (1.2, 1.0, 1.0, 0.95, 0.85, 0.0, 0.0),
    ),
)

#: (date, volume factor, name) of the special days inside the sample history
SAMPLE_EVENTS = ((date(2026, 4, 3), 0.6, "Good Friday"),)
#: special days of the plan that follows the history
SAMPLE_FUTURE = ((date(2026, 4, 6), 0.0, "Easter Monday"), (date(2026, 4, 7), 1.3, "after Easter"))


def sample_history(
    tz: tzinfo,
    *,
    start: date = SAMPLE_START,
    weeks: int = SAMPLE_WEEKS,
    seed: int = 1,
    interval_seconds: int = 900,
) -> list[IntervalRecord]:
    """Interval records of the three sample queues (closed intervals have no row)."""
    rng = np.random.default_rng(seed)
    events = {d: f for d, f, _ in SAMPLE_EVENTS}
    out: list[IntervalRecord] = []
    for day_i in range(weeks * 7):
        day = start + timedelta(days=day_i)
        wd = day.weekday()
        growth = 1.015 ** (day_i / 7.0)
        for q in QUEUES:
            hours = q.hours[wd]
            if hours is None or q.weekday_factor[wd] == 0:
                continue
            opening, closing = hours
            level = q.daily_calls * growth * q.weekday_factor[wd] * events.get(day, 1.0)
            level *= rng.lognormal(0.0, 0.04)
            instants = day_instants(day, tz, interval_seconds)
            clock = np.array([t.hour + t.minute / 60.0 for _, t in instants])
            open_ = (clock >= opening) & (clock < closing)
            shape = np.exp(-((clock - 10.5) ** 2) / 3.5) + 0.75 * np.exp(
                -((clock - 15.0) ** 2) / 5.0
            )
            shape = np.where(open_, shape + 0.05, 0.0)
            if shape.sum() <= 0:
                continue
            lam = level * shape / shape.sum()
            calls = rng.poisson(lam)
            for (_, t), n, c in zip(instants, calls, clock, strict=True):
                n = int(n)
                if n == 0:
                    continue
                # Handle time is longer late in the day (harder calls, tired agents).
                aht = q.aht_seconds * (1.0 + 0.08 * math.sin((c - 8.0) / 14.0 * math.pi))
                abandoned = int(rng.binomial(n, 0.04))
                answered = n - abandoned
                handle = float(rng.gamma(4.0, aht / 4.0, answered).sum()) if answered else 0.0
                within = int(rng.binomial(answered, 0.82))
                out.append(
                    IntervalRecord(
                        start=t,
                        interval_seconds=interval_seconds,
                        queue=q.name,
                        offered=n,
                        answered=answered,
                        abandoned=abandoned,
                        answered_within_target=within,
                        target_seconds=q.target_seconds,
                        handle_seconds=round(handle),
                        wait_seconds=round(answered * float(rng.uniform(8.0, 40.0))),
                    )
                )
    return out


def sample_calendar_toml() -> str:
    """The special-day calendar that goes with :func:`sample_history`."""
    lines = ["# Special days: left out of the forecast fit; planned as given.", ""]
    for d, factor, name in (*SAMPLE_EVENTS, *SAMPLE_FUTURE):
        lines += ["[[day]]", f'date = "{d}"', f'name = "{name}"']
        lines += ["closed = true"] if factor == 0 else [f"factor = {factor}"]
        lines.append("")
    return "\n".join(lines)


SAMPLE_SHIFTS_TOML = """\
# Shift templates for `acd forecast shifts`. Times are local; lengths and
# offsets are HH:MM. Breaks are placed by the solver inside their window
# (offset from the shift start). Unpaid breaks do not count as paid hours.

[[shift]]
name = "early"
start_earliest = "06:30"
start_latest = "09:00"
length = "08:30"
breaks = [
  { length = "00:15", earliest = "01:30", latest = "03:00" },
  { length = "00:30", earliest = "03:30", latest = "05:00", paid = false },
  { length = "00:15", earliest = "05:30", latest = "07:00" },
]

[[shift]]
name = "late"
start_earliest = "11:00"
start_latest = "14:00"
length = "08:30"
breaks = [
  { length = "00:15", earliest = "01:30", latest = "03:00" },
  { length = "00:30", earliest = "03:30", latest = "05:00", paid = false },
  { length = "00:15", earliest = "05:30", latest = "07:00" },
]

[[shift]]
name = "part-time"
start_earliest = "09:00"
start_latest = "17:30"
length = "04:00"
breaks = [{ length = "00:15", earliest = "01:30", latest = "02:30" }]
"""
