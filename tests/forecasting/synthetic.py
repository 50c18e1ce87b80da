"""Seasonal synthetic interval history (Poisson calls) for forecast tests."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date, datetime, timedelta, timezone, tzinfo

import numpy as np

from forecasting.history import IntervalRecord

TZ = timezone(timedelta(hours=1))
WEEKDAY = (1.0, 0.95, 0.9, 0.9, 0.85, 0.4, 0.0)  # Sunday closed


def seasonal_history(
    *,
    first: date = date(2025, 1, 6),
    weeks: int = 6,
    queue: str = "sales",
    daily_calls: float = 2000.0,
    growth_per_week: float = 0.02,
    seed: int = 0,
    holiday: date | None = None,
    tz: tzinfo = TZ,
    drop: Collection[date] = (),
    target_seconds: int = 120,
    aht_seconds: float = 240.0,
    poisson: bool = True,
) -> list[IntervalRecord]:
    """15-minute intervals, 08:00-20:00 local, a double-hump day, weekly pattern, trend.

    ``drop`` days have no rows at all (an export gap); ``poisson=False`` gives
    the expected counts rounded, for hand-checkable tests.
    """
    rng = np.random.default_rng(seed)
    slots = np.arange(32, 80)  # 08:00 .. 19:45
    hour = slots / 4.0
    shape = np.exp(-((hour - 10.5) ** 2) / 3.0) + 0.8 * np.exp(-((hour - 15.0) ** 2) / 4.0)
    shape /= shape.sum()
    out: list[IntervalRecord] = []
    for d in range(weeks * 7):
        day = first + timedelta(days=d)
        if day in drop:
            continue
        level = daily_calls * (1 + growth_per_week) ** (d / 7.0) * WEEKDAY[day.weekday()]
        if day == holiday:
            level *= 0.1
        lam = level * shape
        calls = rng.poisson(lam) if poisson else np.rint(lam).astype(int)
        for s, n in zip(slots, calls, strict=True):
            if n == 0:
                continue
            # Wall-clock arithmetic on an aware datetime: 09:00 local stays
            # 09:00 local across a daylight-saving change.
            start = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(
                minutes=15 * int(s)
            )
            answered = round(int(n) * 0.95)
            out.append(
                IntervalRecord(
                    start=start,
                    interval_seconds=900,
                    queue=queue,
                    offered=int(n),
                    answered=answered,
                    abandoned=int(n) - answered,
                    answered_within_target=math.floor(answered * 0.8),
                    target_seconds=target_seconds,
                    handle_seconds=answered * aht_seconds,
                    wait_seconds=answered * 30.0,
                )
            )
    return out
