"""Interval staffing plans: forecast calls -> agents per interval and queue,
then floor-level totals (team leaders pooled across queues, agent-hours,
FTEs, peak headcount).

Every queue has its own targets (:class:`PlanSettings`); all intervals of all
queues and days are staffed in one vectorised call per model (Erlang C, or
Erlang A for queues with a patience).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
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

#: One set of defaults for `acd forecast erlang` and `acd forecast plan`.
DEFAULT_SERVICE_LEVEL = 0.8
DEFAULT_TARGET_SECONDS = 120.0
DEFAULT_SHRINKAGE = 0.3
DEFAULT_MAX_OCCUPANCY = 0.85
#: Erlang A: abandons above this are capped by default and warned about
DEFAULT_MAX_ABANDON = 0.05
DEFAULT_TEAM_LEADER_RATIO = 12
DEFAULT_CONTRACT_HOURS = 40.0
DEFAULT_CONTRACT_DAYS = 5

PLAN_COLUMNS = (
    "interval_start",
    "interval_seconds",
    "queue",
    "forecast_calls",
    "aht_seconds",
    "traffic_erlangs",
    "agents_required",
    "agents_scheduled",
    "service_level",
    "asa_seconds",
    "occupancy",
    "probability_wait",
    "probability_abandon",
    "service_level_target",
    "target_seconds",
    "max_occupancy",
    "shrinkage",
    "patience_seconds",
    "note",
)


@dataclass(frozen=True, slots=True)
class ShrinkageWindow:
    """Planned shrinkage for a time-of-day window (e.g. 0.45 at lunch, 12:00-14:00)."""

    start: time
    end: time
    planned: float

    def covers(self, t: time) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """Targets and rules of a staffing plan (one queue, or the defaults)."""

    service_level: float = DEFAULT_SERVICE_LEVEL
    target_seconds: float = DEFAULT_TARGET_SECONDS
    #: planned shrinkage: breaks, meetings, training (a fraction of paid time)
    shrinkage: float = DEFAULT_SHRINKAGE
    #: unplanned shrinkage: absence, sickness; added to the planned
    unplanned_shrinkage: float = 0.0
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY
    team_leader_ratio: int = DEFAULT_TEAM_LEADER_RATIO
    #: mean caller patience; set to plan with Erlang A instead of Erlang C
    patience_seconds: float | None = None
    #: Erlang A abandon cap (ignored without patience)
    max_abandon: float | None = DEFAULT_MAX_ABANDON
    shrinkage_windows: tuple[ShrinkageWindow, ...] = ()
    contract_hours: float = DEFAULT_CONTRACT_HOURS
    contract_days: int = DEFAULT_CONTRACT_DAYS

    def validate(self) -> None:
        """Raise :class:`InvalidInput` on a setting out of range (named as its flag)."""
        try:
            Targets(self.service_level, self.target_seconds, None, self.max_occupancy).validate()
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=str(exc.data.get("field", ""))) from None
        for name, value in (
            ("shrinkage", self.shrinkage),
            ("unplanned_shrinkage", self.unplanned_shrinkage),
        ):
            if not (math.isfinite(value) and 0.0 <= value < 1.0):
                raise InvalidInput(
                    f"{name.replace('_', ' ')} must be at least 0 and below 1", field=name
                )
        for w in self.shrinkage_windows:
            if not 0.0 <= w.planned < 1.0 or not w.start < w.end:
                raise InvalidInput(
                    "a shrinkage window needs start < end and planned shrinkage in [0, 1)",
                    field="shrinkage",
                )
        top = max([self.shrinkage, *(w.planned for w in self.shrinkage_windows)])
        if top + self.unplanned_shrinkage >= 1.0:
            raise InvalidInput(
                "planned + unplanned shrinkage must stay below 1 (nobody would be left)",
                field="unplanned_shrinkage",
            )
        if not 8 <= self.team_leader_ratio <= 15:
            raise InvalidInput(
                "team leader ratio must be 8 to 15 agents per leader", field="team_leader_ratio"
            )
        if self.patience_seconds is not None and not (
            math.isfinite(self.patience_seconds) and self.patience_seconds > 0
        ):
            raise InvalidInput("patience must be > 0 seconds", field="patience_seconds")
        if self.max_abandon is not None and not 0.0 < self.max_abandon <= 1.0:
            raise InvalidInput("max abandon must be above 0 and at most 1", field="max_abandon")
        if not (math.isfinite(self.contract_hours) and 0 < self.contract_hours <= 80):
            raise InvalidInput(
                "contract hours must be above 0 and at most 80", field="contract_hours"
            )
        if not 1 <= self.contract_days <= 7:
            raise InvalidInput("contract days must be 1 to 7", field="contract_days")

    def shrinkage_at(self, local: time) -> float:
        """Total shrinkage (planned + unplanned) at a local time of day."""
        planned = self.shrinkage
        for w in self.shrinkage_windows:
            if w.covers(local):
                planned = w.planned
        return planned + self.unplanned_shrinkage


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
    service_level: float
    asa_seconds: float
    occupancy: float
    probability_wait: float
    probability_abandon: float | None
    service_level_target: float = DEFAULT_SERVICE_LEVEL
    target_seconds: float = DEFAULT_TARGET_SECONDS
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY
    shrinkage: float = DEFAULT_SHRINKAGE
    patience_seconds: float | None = None
    note: str = ""

    @property
    def is_open(self) -> bool:
        """Calls are expected (a closed interval has no service level to speak of)."""
        return self.forecast_calls > 0


@dataclass(frozen=True, slots=True)
class DailyTotal:
    """Agent-hours of one queue on one day."""

    day: date
    queue: str
    forecast_calls: float
    required_agent_hours: float
    scheduled_agent_hours: float


@dataclass(frozen=True, slots=True)
class FloorInterval:
    """All queues together in one interval; team leaders pooled across the floor."""

    start: datetime
    interval_seconds: int
    forecast_calls: float
    agents_required: int
    agents_scheduled: int
    team_leaders: int


@dataclass(frozen=True, slots=True)
class FloorPeriod:
    """Floor totals of a day or an ISO week."""

    label: str  # "2025-03-03" or "2025-W10"
    forecast_calls: float
    required_agent_hours: float
    scheduled_agent_hours: float
    team_leader_hours: float
    #: most agents scheduled at once (all queues), and when
    peak_agents: int
    peak_at: datetime | None
    peak_team_leaders: int
    #: scheduled agent-hours / contract hours of the period
    fte: float


@dataclass(frozen=True, slots=True)
class Plan:
    """A staffing plan: interval rows, the floor view and what to watch out for."""

    rows: list[PlanRow]
    settings: PlanSettings
    per_queue: Mapping[str, PlanSettings] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def settings_for(self, queue: str) -> PlanSettings:
        return self.per_queue.get(queue, self.settings)

    def floor(self) -> list[FloorInterval]:
        return floor_intervals(self.rows, self.settings.team_leader_ratio)


def plan_days(
    forecasts: Sequence[DayForecast],
    settings: PlanSettings,
    per_queue: Mapping[str, PlanSettings] | None = None,
) -> Plan:
    """Staff every interval of every forecast day, each queue with its own targets.

    Erlang C queues are staffed in one vectorised call, Erlang A queues (with
    a patience) in another. Raises :class:`InvalidInput` where calls are
    expected with an AHT of 0 (nothing can be planned from it).
    """
    per_queue = dict(per_queue or {})
    settings.validate()
    for s in per_queue.values():
        s.validate()
    meta: list[tuple[DayForecast, int, PlanSettings]] = []
    calls_l, aht_l, ival_l, shr_l = [], [], [], []
    for fc in forecasts:
        s = per_queue.get(fc.queue, settings)
        calls = np.maximum(np.asarray(fc.calls, dtype=np.float64), 0.0)
        aht = np.asarray(fc.aht_seconds, dtype=np.float64)
        bad = np.flatnonzero((calls > 0) & ~(aht > 0))
        if bad.size:
            when = ", ".join(f"{fc.slot_start(int(i)):%Y-%m-%d %H:%M}" for i in bad[:3])
            raise InvalidInput(
                f"queue {fc.queue}: calls are forecast with an AHT of 0 s at {when}: "
                "the history's handle_seconds must hold talk + hold + wrap-up",
                field="aht_seconds",
            )
        meta.append((fc, calls.size, s))
        calls_l.append(calls)
        aht_l.append(np.where(aht > 0, aht, 1.0))
        ival_l.append(np.full(calls.size, float(fc.interval_seconds)))
        shr_l.append(
            np.array(
                [
                    s.shrinkage_at(fc.slot_start(i).timetz().replace(tzinfo=None))
                    for i in range(calls.size)
                ]
            )
        )
    if not meta:
        return Plan([], settings, per_queue)
    calls = np.concatenate(calls_l)
    aht = np.concatenate(aht_l)
    interval = np.concatenate(ival_l)
    shrink = np.concatenate(shr_l)
    each = [s for _, n, s in meta for _ in range(n)]
    sl_t = np.array([s.service_level for s in each])
    t_sec = np.array([s.target_seconds for s in each])
    occ_t = np.array([s.max_occupancy for s in each])
    patience = np.array([s.patience_seconds or 0.0 for s in each])
    ab_t = np.array([(s.max_abandon if s.max_abandon is not None else 1.0) for s in each])
    use_a = patience > 0
    traffic = calls * aht / interval

    agents = np.zeros(calls.size, dtype=np.int64)
    sl = np.ones(calls.size)
    asa = np.zeros(calls.size)
    p_wait = np.zeros(calls.size)
    occ = np.zeros(calls.size)
    p_ab = np.full(calls.size, np.nan)
    c = np.flatnonzero(~use_a)
    if c.size:
        n = required_agents(traffic[c], aht[c], Targets(sl_t[c], t_sec[c], None, occ_t[c]))
        agents[c] = n
        sl[c] = service_level(n, traffic[c], aht[c], t_sec[c])
        asa[c] = asa_seconds(n, traffic[c], aht[c])
        p_wait[c] = erlang_c(n, traffic[c])
        with np.errstate(divide="ignore", invalid="ignore"):
            occ[c] = np.where(n > 0, traffic[c] / np.maximum(n, 1), 0.0)
    a_idx = np.flatnonzero(use_a)
    if a_idx.size:
        n = required_agents_erlang_a(
            traffic[a_idx],
            aht[a_idx],
            patience[a_idx],
            service_level=sl_t[a_idx],
            target_seconds=t_sec[a_idx],
            max_abandon=ab_t[a_idx],
            max_occupancy=occ_t[a_idx],
        )
        m = erlang_a(n, traffic[a_idx], aht[a_idx], patience[a_idx], t_sec[a_idx])
        agents[a_idx] = n
        sl[a_idx], p_wait[a_idx], p_ab[a_idx], occ[a_idx] = (
            m.service_level,
            m.probability_wait,
            m.probability_abandon,
            m.occupancy,
        )
        asa[a_idx] = asa_seconds_a(n, traffic[a_idx], aht[a_idx], patience[a_idx])
    scheduled = scheduled_agents(agents, shrink)

    rows: list[PlanRow] = []
    k = 0
    for fc, size, s in meta:
        for i in range(size):
            j = k + i
            rows.append(
                PlanRow(
                    start=fc.slot_start(i),
                    interval_seconds=fc.interval_seconds,
                    queue=fc.queue,
                    forecast_calls=float(calls[j]),
                    aht_seconds=float(fc.aht_seconds[i]),
                    traffic_erlangs=float(traffic[j]),
                    agents_required=int(agents[j]),
                    agents_scheduled=int(scheduled[j]),
                    service_level=float(sl[j]),
                    asa_seconds=float(asa[j]),
                    occupancy=float(occ[j]),
                    probability_wait=float(p_wait[j]),
                    probability_abandon=None if not use_a[j] else float(p_ab[j]),
                    service_level_target=s.service_level,
                    target_seconds=s.target_seconds,
                    max_occupancy=s.max_occupancy,
                    shrinkage=float(shrink[j]),
                    patience_seconds=s.patience_seconds,
                    note=fc.note,
                )
            )
        k += size
    return Plan(rows, settings, per_queue, tuple(plan_warnings(rows)))


def plan_warnings(rows: Iterable[PlanRow]) -> list[str]:
    """Where a recommended staffing is not one a planner should accept silently.

    Abandons above ``DEFAULT_MAX_ABANDON`` or occupancy above
    ``DEFAULT_MAX_OCCUPANCY`` happen only when a cap was relaxed; they burn
    agents out and lose callers, so each queue with such intervals is named.
    """
    worst: dict[str, list[float]] = {}
    for r in rows:
        if not r.is_open:
            continue
        w = worst.setdefault(r.queue, [0, 0.0, 0, 0.0])
        if (
            r.probability_abandon is not None
            and r.probability_abandon > DEFAULT_MAX_ABANDON + 1e-12
        ):
            w[0] += 1
            w[1] = max(w[1], r.probability_abandon)
        if r.occupancy > DEFAULT_MAX_OCCUPANCY + 1e-12:
            w[2] += 1
            w[3] = max(w[3], r.occupancy)
    out = []
    for q, (n_ab, ab, n_occ, occ) in sorted(worst.items()):
        if n_ab:
            out.append(
                f"queue {q}: {int(n_ab)} interval(s) plan for more than "
                f"{DEFAULT_MAX_ABANDON:.0%} abandons (worst {ab:.1%}): callers are lost"
            )
        if n_occ:
            out.append(
                f"queue {q}: {int(n_occ)} interval(s) run agents above "
                f"{DEFAULT_MAX_OCCUPANCY:.0%} occupancy (worst {occ:.1%}): not sustainable"
            )
    return out


def daily_totals(rows: Iterable[PlanRow]) -> list[DailyTotal]:
    """Sum a plan per local day and queue, in agent-hours."""
    acc: dict[tuple[date, str], list[float]] = {}
    for r in rows:
        hours = r.interval_seconds / 3600.0
        a = acc.setdefault((r.start.date(), r.queue), [0.0, 0.0, 0.0])
        a[0] += r.forecast_calls
        a[1] += r.agents_required * hours
        a[2] += r.agents_scheduled * hours
    return [DailyTotal(d, q, *v) for (d, q), v in sorted(acc.items())]


def floor_intervals(rows: Iterable[PlanRow], team_leader_ratio: int) -> list[FloorInterval]:
    """Per interval, all queues together; one team leader per ``ratio`` agents on the floor.

    Leaders are pooled: 3 queues of 4 agents need one leader at ratio 12,
    not three.
    """
    acc: dict[datetime, list[float]] = {}
    first: dict[datetime, datetime] = {}
    seconds: dict[datetime, int] = {}
    for r in rows:
        key = r.start.astimezone(UTC)
        a = acc.setdefault(key, [0.0, 0.0, 0.0])
        first.setdefault(key, r.start)
        seconds.setdefault(key, r.interval_seconds)
        a[0] += r.forecast_calls
        a[1] += r.agents_required
        a[2] += r.agents_scheduled
    out = []
    for key in sorted(acc):
        calls, req, sched = acc[key]
        leaders = -(-int(sched) // team_leader_ratio)
        out.append(FloorInterval(first[key], seconds[key], calls, int(req), int(sched), leaders))
    return out


def _period(label: str, items: Sequence[FloorInterval], contract_hours: float) -> FloorPeriod:
    hours = [f.interval_seconds / 3600.0 for f in items]
    peak = max(items, key=lambda f: f.agents_scheduled)
    sched_h = sum(f.agents_scheduled * h for f, h in zip(items, hours, strict=True))
    return FloorPeriod(
        label=label,
        forecast_calls=sum(f.forecast_calls for f in items),
        required_agent_hours=sum(f.agents_required * h for f, h in zip(items, hours, strict=True)),
        scheduled_agent_hours=sched_h,
        team_leader_hours=sum(f.team_leaders * h for f, h in zip(items, hours, strict=True)),
        peak_agents=peak.agents_scheduled,
        peak_at=peak.start if peak.agents_scheduled > 0 else None,
        peak_team_leaders=max(f.team_leaders for f in items),
        fte=sched_h / contract_hours if contract_hours > 0 else 0.0,
    )


def floor_days(floor: Sequence[FloorInterval], settings: PlanSettings) -> list[FloorPeriod]:
    """Floor totals per local day; FTE against a day's share of the contract."""
    by: dict[date, list[FloorInterval]] = {}
    for f in floor:
        by.setdefault(f.start.date(), []).append(f)
    per_day = settings.contract_hours / settings.contract_days
    return [_period(str(d), by[d], per_day) for d in sorted(by)]


def floor_weeks(floor: Sequence[FloorInterval], settings: PlanSettings) -> list[FloorPeriod]:
    """Floor totals per ISO week; FTE = scheduled agent-hours / weekly contract hours.

    A week the plan covers only in part is labelled with the days it has.
    """
    by: dict[tuple[int, int], list[FloorInterval]] = {}
    for f in floor:
        iso = f.start.date().isocalendar()
        by.setdefault((iso.year, iso.week), []).append(f)
    out = []
    for (y, w), items in sorted(by.items()):
        days = len({f.start.date() for f in items})
        label = f"{y}-W{w:02d}" + ("" if days == 7 else f" ({days} days)")
        out.append(_period(label, items, settings.contract_hours))
    return out


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
                    _fmt(r.service_level, 4),
                    _fmt(r.asa_seconds, 1),
                    _fmt(r.occupancy, 4),
                    _fmt(r.probability_wait, 4),
                    _fmt(r.probability_abandon, 4),
                    _fmt(r.service_level_target, 3),
                    _fmt(r.target_seconds, 0),
                    _fmt(r.max_occupancy, 3),
                    _fmt(r.shrinkage, 3),
                    _fmt(r.patience_seconds, 0),
                    r.note,
                ]
            )


def write_floor_csv(floor: Iterable[FloorInterval], path: str | Path) -> None:
    """The floor view, one line per interval (all queues, pooled team leaders)."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                "interval_start",
                "interval_seconds",
                "forecast_calls",
                "agents_required",
                "agents_scheduled",
                "team_leaders",
            ]
        )
        for f in floor:
            w.writerow(
                [
                    f.start.isoformat(),
                    f.interval_seconds,
                    _fmt(f.forecast_calls, 2),
                    f.agents_required,
                    f.agents_scheduled,
                    f.team_leaders,
                ]
            )


def read_plan_csv(path: str | Path) -> list[PlanRow]:
    """Read a plan written by :func:`write_plan_csv` (for shifts and intraday)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read plan {path}: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in PLAN_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            f"{path} is not a plan from 'acd forecast plan' (lacks {', '.join(missing)})"
        )

    def num(v: str) -> float:
        return math.inf if v == "inf" else float(v)

    rows = []
    for row in reader:
        try:
            start = datetime.fromisoformat(row["interval_start"])
            if start.utcoffset() is None:
                raise ValueError("interval_start has no UTC offset")
            rows.append(
                PlanRow(
                    start=start,
                    interval_seconds=int(row["interval_seconds"]),
                    queue=row["queue"],
                    forecast_calls=num(row["forecast_calls"]),
                    aht_seconds=num(row["aht_seconds"]),
                    traffic_erlangs=num(row["traffic_erlangs"]),
                    agents_required=int(row["agents_required"]),
                    agents_scheduled=int(row["agents_scheduled"]),
                    service_level=num(row["service_level"]),
                    asa_seconds=num(row["asa_seconds"]),
                    occupancy=num(row["occupancy"]),
                    probability_wait=num(row["probability_wait"]),
                    probability_abandon=(
                        num(row["probability_abandon"]) if row["probability_abandon"] else None
                    ),
                    service_level_target=num(row["service_level_target"]),
                    target_seconds=num(row["target_seconds"]),
                    max_occupancy=num(row["max_occupancy"]),
                    shrinkage=num(row["shrinkage"]),
                    patience_seconds=(
                        num(row["patience_seconds"]) if row["patience_seconds"] else None
                    ),
                    note=row["note"],
                )
            )
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{path}: line {reader.line_num}: {exc}") from None
    if not rows:
        raise InvalidInput(f"{path}: the plan has no intervals")
    return rows
