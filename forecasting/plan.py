"""Interval staffing plans: forecast calls -> agents per interval and queue."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from forecasting.arrivals import DayForecast
from forecasting.erlang import (
    Targets,
    asa_seconds,
    erlang_c,
    required_agents,
    scheduled_agents,
    service_level,
)
from forecasting.erlang_a import asa_seconds as asa_seconds_a
from forecasting.erlang_a import erlang_a, required_agents_erlang_a
from forecasting.errors import InvalidInput

Progress = Callable[[int, int, str], None]

PLAN_COLUMNS = (
    "interval_start",
    "interval_seconds",
    "queue",
    "forecast_calls",
    "aht_seconds",
    "traffic_erlangs",
    "agents_required",
    "agents_scheduled",
    "team_leaders",
    "service_level",
    "asa_seconds",
    "occupancy",
    "probability_wait",
    "probability_abandon",
)


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """Targets and rules of a staffing plan."""

    service_level: float = 0.8
    target_seconds: float = 120.0
    shrinkage: float = 0.3
    max_occupancy: float = 0.85
    team_leader_ratio: int = 12
    #: mean caller patience; set to plan with Erlang A instead of Erlang C
    patience_seconds: float | None = None
    max_abandon: float | None = None

    def validate(self) -> None:
        """Raise :class:`InvalidInput` on a setting out of range."""
        Targets(self.service_level, self.target_seconds, None, self.max_occupancy).validate()
        if not 0.0 <= self.shrinkage < 1.0:
            raise InvalidInput("shrinkage must be at least 0 and below 1", field="shrinkage")
        if not 8 <= self.team_leader_ratio <= 15:
            raise InvalidInput(
                "team leader ratio must be 8 to 15 agents per leader", field="team_leader_ratio"
            )
        if self.patience_seconds is not None and not self.patience_seconds > 0:
            raise InvalidInput("patience must be > 0 seconds", field="patience_seconds")
        if self.max_abandon is not None and not 0.0 < self.max_abandon <= 1.0:
            raise InvalidInput("max abandon must be above 0 and at most 1", field="max_abandon")


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One interval of one queue."""

    start: datetime
    interval_seconds: int
    queue: str
    forecast_calls: float
    aht_seconds: float
    traffic_erlangs: float
    agents_required: int
    agents_scheduled: int
    team_leaders: int
    service_level: float
    asa_seconds: float
    occupancy: float
    probability_wait: float
    probability_abandon: float | None


@dataclass(frozen=True, slots=True)
class DailyTotal:
    """Agent-hours of one queue on one day."""

    day: date
    queue: str
    forecast_calls: float
    required_agent_hours: float
    scheduled_agent_hours: float
    team_leader_hours: float


def plan_days(
    forecasts: Sequence[DayForecast],
    settings: PlanSettings,
    progress: Progress | None = None,
) -> list[PlanRow]:
    """Staff every interval of every forecast day (one call per day and queue)."""
    settings.validate()
    rows: list[PlanRow] = []
    for done, fc in enumerate(forecasts, start=1):
        rows.extend(staff_intervals(fc, settings))
        if progress is not None:
            progress(done, len(forecasts), f"{fc.day} {fc.queue}")
    return rows


def staff_intervals(fc: DayForecast, settings: PlanSettings) -> list[PlanRow]:
    """Vectorised staffing of one day of one queue."""
    calls = np.maximum(fc.calls, 0.0)
    aht = np.where(fc.aht_seconds > 0, fc.aht_seconds, 1.0)
    traffic = calls * aht / fc.interval_seconds
    if settings.patience_seconds is None:
        agents = required_agents(
            traffic,
            aht,
            Targets(settings.service_level, settings.target_seconds, None, settings.max_occupancy),
        )
        sl = service_level(agents, traffic, aht, settings.target_seconds)
        asa = asa_seconds(agents, traffic, aht)
        p_wait = erlang_c(agents, traffic)
        p_ab: np.ndarray | None = None
        with np.errstate(divide="ignore", invalid="ignore"):
            occ = np.where(agents > 0, traffic / np.maximum(agents, 1), 0.0)
    else:
        agents = required_agents_erlang_a(
            traffic,
            aht,
            settings.patience_seconds,
            service_level=settings.service_level,
            target_seconds=settings.target_seconds,
            max_abandon=settings.max_abandon,
            max_occupancy=settings.max_occupancy,
        )
        m = erlang_a(agents, traffic, aht, settings.patience_seconds, settings.target_seconds)
        sl, p_wait, p_ab, occ = (
            m.service_level,
            m.probability_wait,
            m.probability_abandon,
            m.occupancy,
        )
        asa = asa_seconds_a(agents, traffic, aht, settings.patience_seconds)
    scheduled = scheduled_agents(agents, settings.shrinkage)
    leaders = -(-scheduled // settings.team_leader_ratio)
    return [
        PlanRow(
            start=fc.slot_start(i),
            interval_seconds=fc.interval_seconds,
            queue=fc.queue,
            forecast_calls=float(calls[i]),
            aht_seconds=float(fc.aht_seconds[i]),
            traffic_erlangs=float(traffic[i]),
            agents_required=int(agents[i]),
            agents_scheduled=int(scheduled[i]),
            team_leaders=int(leaders[i]),
            service_level=float(sl[i]),
            asa_seconds=float(asa[i]),
            occupancy=float(occ[i]),
            probability_wait=float(p_wait[i]),
            probability_abandon=None if p_ab is None else float(p_ab[i]),
        )
        for i in range(calls.size)
    ]


def daily_totals(rows: Iterable[PlanRow]) -> list[DailyTotal]:
    """Sum a plan per day and queue, in agent-hours."""
    acc: dict[tuple[date, str], list[float]] = {}
    for r in rows:
        hours = r.interval_seconds / 3600.0
        a = acc.setdefault((r.start.date(), r.queue), [0.0, 0.0, 0.0, 0.0])
        a[0] += r.forecast_calls
        a[1] += r.agents_required * hours
        a[2] += r.agents_scheduled * hours
        a[3] += r.team_leaders * hours
    return [DailyTotal(d, q, *v) for (d, q), v in sorted(acc.items())]


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return ""
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def write_plan_csv(rows: Iterable[PlanRow], path: str | Path) -> None:
    """Write the plan, one line per interval and queue (``PLAN_COLUMNS``)."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(PLAN_COLUMNS)
        for r in rows:
            w.writerow(
                [
                    r.start.isoformat(),
                    r.interval_seconds,
                    r.queue,
                    _fmt(r.forecast_calls, 2),
                    _fmt(r.aht_seconds, 1),
                    _fmt(r.traffic_erlangs, 3),
                    r.agents_required,
                    r.agents_scheduled,
                    r.team_leaders,
                    _fmt(r.service_level, 4),
                    _fmt(r.asa_seconds, 1),
                    _fmt(r.occupancy, 4),
                    _fmt(r.probability_wait, 4),
                    _fmt(r.probability_abandon, 4),
                ]
            )
