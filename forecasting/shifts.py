"""Shift schedules: how many agents to put on each shift so every interval's
requirement is covered at minimum paid hours.

Shift templates (TOML, times local, lengths ``HH:MM``)::

    [[shift]]
    name = "early"
    start_earliest = "06:30"
    start_latest = "09:00"
    start_step = "00:30"            # default: the plan interval
    length = "08:30"
    days = ["mon", "tue", "wed", "thu", "fri"]   # default: every day
    breaks = [
      { length = "00:15", earliest = "01:30", latest = "03:00" },
      { length = "00:30", earliest = "03:30", latest = "05:00", paid = false },
    ]

``earliest``/``latest`` are the window for the break's start, measured from
the shift start. The integer program (SciPy ``milp``, HiGHS) has one
variable per shift start (agents on it) and one per (shift start, break,
break start) counting the agents of that shift taking that break then; the
break counts of each shift start add up to its agents (the implicit break
formulation of Bechtold and Jacobs), so breaks are placed where the floor
can spare them without enumerating every combination. An agent on a break
for part of an interval counts for the rest of it (15 minutes out of 30
counts as half an agent there). Requirements the templates cannot reach are
reported as under-staffing, never silently dropped.

:func:`greedy_cover` is the comparison: repeatedly add the shift (breaks in
the middle of their windows) that covers the most uncovered requirement per
paid hour.
"""

from __future__ import annotations

import csv
import time as clock
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from forecasting.calendar import WEEKDAYS
from forecasting.erlang import scheduled_agents
from forecasting.errors import InvalidInput
from forecasting.plan import PlanRow

FloatArray = NDArray[np.float64]
#: cost of one agent-hour of under-staffing, in paid hours (covering wins)
UNDER_PENALTY = 1000.0


@dataclass(frozen=True, slots=True)
class BreakRule:
    """A break of ``minutes`` starting between ``earliest`` and ``latest`` after the shift start."""

    minutes: int
    earliest: int  # minutes after the shift start
    latest: int
    paid: bool = True


@dataclass(frozen=True, slots=True)
class ShiftTemplate:
    """A family of shifts: same length and break rules, starts within a window."""

    name: str
    start_earliest: time
    start_latest: time
    length_minutes: int
    breaks: tuple[BreakRule, ...] = ()
    start_step_minutes: int | None = None
    days: frozenset[int] = frozenset(range(7))

    @property
    def paid_hours(self) -> float:
        unpaid = sum(b.minutes for b in self.breaks if not b.paid)
        return (self.length_minutes - unpaid) / 60.0


@dataclass(frozen=True, slots=True)
class Requirement:
    """Agents needed per interval on one time line (real instants, local zone)."""

    starts: tuple[datetime, ...]
    interval_seconds: int
    required: NDArray[np.int64]

    @property
    def agent_hours(self) -> float:
        return float(self.required.sum()) * self.interval_seconds / 3600.0


@dataclass(frozen=True, slots=True)
class BreakPlacement:
    start: datetime
    minutes: int
    agents: int


@dataclass(frozen=True, slots=True)
class ScheduledShift:
    template: str
    start: datetime
    end: datetime
    agents: int
    paid_hours: float
    breaks: tuple[BreakPlacement, ...]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A solved schedule and how well it covers the requirement."""

    status: str
    shifts: tuple[ScheduledShift, ...]
    coverage: FloatArray
    required: NDArray[np.int64]
    interval_seconds: int
    seconds: float

    @property
    def agents(self) -> int:
        return sum(s.agents for s in self.shifts)

    @property
    def paid_hours(self) -> float:
        return sum(s.agents * s.paid_hours for s in self.shifts)

    @property
    def over_hours(self) -> float:
        h = self.interval_seconds / 3600.0
        return float(np.maximum(self.coverage - self.required, 0.0).sum() * h)

    @property
    def under_hours(self) -> float:
        h = self.interval_seconds / 3600.0
        return float(np.maximum(self.required - self.coverage, 0.0).sum() * h)


# --- templates ---------------------------------------------------------------


def _minutes(value: object, where: str) -> int:
    text = str(value)
    try:
        hh, mm = text.split(":")
        m = int(hh) * 60 + int(mm)
    except ValueError:
        raise InvalidInput(f"{where}: expected HH:MM, got {value!r}") from None
    if m < 0 or not 0 <= int(mm) < 60:
        raise InvalidInput(f"{where}: expected HH:MM, got {value!r}")
    return m


def _clock(value: object, where: str) -> time:
    m = _minutes(value, where)
    if m >= 24 * 60:
        raise InvalidInput(f"{where}: a time of day must be before 24:00, got {value!r}")
    return time(m // 60, m % 60)


def parse_templates(data: dict[str, Any], source: str = "shifts") -> list[ShiftTemplate]:
    """Shift templates from parsed TOML (``[[shift]]`` tables)."""
    entries = data.get("shift")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{source}: expected at least one [[shift]] table")
    allowed = {"name", "start_earliest", "start_latest", "start_step", "length", "breaks", "days"}
    out: list[ShiftTemplate] = []
    for i, e in enumerate(entries, start=1):
        where = f"{source}: shift #{i}"
        if not isinstance(e, dict):
            raise InvalidInput(f"{where}: expected a table")
        bad = set(e) - allowed
        if bad:
            raise InvalidInput(f"{where}: unknown key {sorted(bad)[0]!r}")
        for key in ("name", "start_earliest", "start_latest", "length"):
            if key not in e:
                raise InvalidInput(f"{where}: missing {key!r}")
        name = str(e["name"])
        where = f"{source}: shift {name!r}"
        s0 = _clock(e["start_earliest"], f"{where}.start_earliest")
        s1 = _clock(e["start_latest"], f"{where}.start_latest")
        if s1 < s0:
            raise InvalidInput(f"{where}: start_latest is before start_earliest")
        length = _minutes(e["length"], f"{where}.length")
        if not 30 <= length <= 16 * 60:
            raise InvalidInput(f"{where}.length: must be 00:30 to 16:00")
        step = _minutes(e["start_step"], f"{where}.start_step") if "start_step" in e else None
        if step is not None and step <= 0:
            raise InvalidInput(f"{where}.start_step: must be > 00:00")
        breaks: list[BreakRule] = []
        for j, b in enumerate(e.get("breaks", []) or [], start=1):
            bw = f"{where}.breaks #{j}"
            if not isinstance(b, dict) or not {"length", "earliest", "latest"} <= set(b):
                raise InvalidInput(f"{bw}: expected length, earliest, latest (and paid)")
            rule = BreakRule(
                _minutes(b["length"], f"{bw}.length"),
                _minutes(b["earliest"], f"{bw}.earliest"),
                _minutes(b["latest"], f"{bw}.latest"),
                bool(b.get("paid", True)),
            )
            if rule.minutes <= 0 or rule.latest < rule.earliest:
                raise InvalidInput(f"{bw}: needs a length > 0 and earliest <= latest")
            if rule.latest + rule.minutes > length:
                raise InvalidInput(f"{bw}: the break can end after the shift")
            breaks.append(rule)
        days = frozenset(range(7))
        if "days" in e:
            try:
                days = frozenset(WEEKDAYS.index(_day(str(d))) for d in e["days"])
            except ValueError:
                raise InvalidInput(f"{where}.days: expected weekday names (mon..sun)") from None
        out.append(ShiftTemplate(name, s0, s1, length, tuple(breaks), step, days))
    return out


def _day(text: str) -> str:
    t = text.strip().lower()
    for full in WEEKDAYS:
        if full.startswith(t) and len(t) >= 3:
            return full
    raise ValueError(text)


def load_templates(path: str | Path) -> list[ShiftTemplate]:
    """Read shift templates from a TOML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read shift templates {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    return parse_templates(data, str(path))


# --- requirement -------------------------------------------------------------


def floor_requirement(
    rows: Sequence[PlanRow], queues: Iterable[str] | None = None, absence: float = 0.0
) -> Requirement:
    """Agents on the phones per interval, summed over ``queues`` (default: all).

    Breaks are placed by the schedule, so only unplanned shrinkage
    (``absence``) is added on top of the plan's ``agents_required``.
    """
    wanted = set(queues) if queues else None
    if wanted is not None:
        known = {r.queue for r in rows}
        unknown = sorted(wanted - known)
        if unknown:
            raise InvalidInput(
                f"--queue {unknown[0]} is not in the plan (queues: {', '.join(sorted(known))})"
            )
    acc: dict[datetime, int] = {}
    local: dict[datetime, datetime] = {}
    seconds = {r.interval_seconds for r in rows}
    if len(seconds) != 1:
        raise InvalidInput("the plan mixes interval lengths; plan all queues with one --interval")
    for r in rows:
        if wanted is not None and r.queue not in wanted:
            continue
        key = r.start.astimezone(UTC)
        acc[key] = acc.get(key, 0) + r.agents_required
        local.setdefault(key, r.start)
    keys = sorted(acc)
    required = scheduled_agents(np.array([acc[k] for k in keys], dtype=np.int64), absence)
    return Requirement(tuple(local[k] for k in keys), seconds.pop(), required)


# --- candidates --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    template: ShiftTemplate
    start: datetime  # aware, local
    cover: FloatArray  # fraction of each interval the shift spans
    #: per break rule: (break start offsets in minutes, coverage lost per offset)
    breaks: tuple[tuple[tuple[int, ...], tuple[FloatArray, ...]], ...]


def _overlap(t0: NDArray[np.float64], ival: float, a: float, b: float) -> NDArray[np.float64]:
    """Fraction of each interval ``[t0, t0 + ival)`` inside ``[a, b)`` (epoch seconds)."""
    lo = np.maximum(t0, a)
    hi = np.minimum(t0 + ival, b)
    return np.asarray(np.clip(hi - lo, 0.0, None) / ival, dtype=np.float64)


def _candidates(req: Requirement, templates: Sequence[ShiftTemplate]) -> list[_Candidate]:
    tz = req.starts[0].tzinfo
    t0 = np.array([s.timestamp() for s in req.starts])
    ival = float(req.interval_seconds)
    first_day = req.starts[0].date() - timedelta(days=1)
    last_day = req.starts[-1].date()
    horizon = (t0[0], t0[-1] + ival)
    out: list[_Candidate] = []
    day = first_day
    while day <= last_day:
        for tpl in templates:
            if day.weekday() not in tpl.days:
                continue
            step = tpl.start_step_minutes or max(req.interval_seconds // 60, 1)
            m = tpl.start_earliest.hour * 60 + tpl.start_earliest.minute
            last = tpl.start_latest.hour * 60 + tpl.start_latest.minute
            while m <= last:
                start = datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=tz)
                # A wall time that does not exist (clocks forward) is skipped.
                if start.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == start.replace(
                    tzinfo=None
                ):
                    a = start.timestamp()
                    b = a + tpl.length_minutes * 60
                    if b > horizon[0] and a < horizon[1]:
                        cover = _overlap(t0, ival, a, b)
                        rules = []
                        for br in tpl.breaks:
                            bstep = min(15, step) if br.minutes % 15 == 0 else 5
                            offs = tuple(range(br.earliest, br.latest + 1, bstep))
                            lost = tuple(
                                _overlap(t0, ival, a + o * 60, a + (o + br.minutes) * 60)
                                for o in offs
                            )
                            rules.append((offs, lost))
                        out.append(_Candidate(tpl, start, cover, tuple(rules)))
                m += step
        day += timedelta(days=1)
    if not out:
        raise InvalidInput("no shift template starts inside the plan's days")
    return out


# --- solvers -----------------------------------------------------------------


def _blocks(cands: Sequence[_Candidate]) -> list[tuple[int, int, list[int]]]:
    """Independent sub-problems: runs of intervals no shift spans across
    (usually one per day), each with the candidates inside it."""
    spans = []
    for j, c in enumerate(cands):
        nz = np.flatnonzero(c.cover)
        if nz.size:
            spans.append((int(nz[0]), int(nz[-1]), j))
    spans.sort()
    out: list[tuple[int, int, list[int]]] = []
    for lo, hi, j in spans:
        if out and lo <= out[-1][1]:
            plo, phi, js = out[-1]
            out[-1] = (plo, max(phi, hi), [*js, j])
        else:
            out.append((lo, hi, [j]))
    return out


def solve_schedule(
    req: Requirement,
    templates: Sequence[ShiftTemplate],
    *,
    time_limit: float = 60.0,
    mip_gap: float | None = None,
    progress: Callable[[int, int, datetime], None] | None = None,
) -> Schedule:
    """Minimum paid hours covering ``req`` (integer program, HiGHS via SciPy).

    The time line is split where no shift spans across (nights), and each
    part is solved on its own; the optimum of the whole is the sum of theirs.
    ``progress(i, parts, first interval)`` is told before part ``i`` (from 0)
    is solved.
    """
    began = clock.perf_counter()
    cands = _candidates(req, templates)
    y_index: list[tuple[int, int, int]] = []  # (candidate, rule, offset index)
    y_of: dict[int, list[int]] = {}
    for j, c in enumerate(cands):
        for b, (offs, _) in enumerate(c.breaks):
            for k in range(len(offs)):
                y_of.setdefault(j, []).append(len(y_index))
                y_index.append((j, b, k))
    x = np.zeros(len(cands), dtype=np.int64)
    y = np.zeros(len(y_index), dtype=np.int64)
    statuses: list[str] = []
    blocks = _blocks(cands)
    for i, (lo, hi, js) in enumerate(blocks):
        if progress is not None:
            progress(i, len(blocks), req.starts[lo])
        left = max(time_limit - (clock.perf_counter() - began), 1.0)
        ys = [col for j in js for col in y_of.get(j, [])]
        xs_sol, ys_sol, status = _solve_block(req, cands, y_index, lo, hi, js, ys, left, mip_gap)
        x[js] = xs_sol
        y[ys] = ys_sol
        statuses.append(status)
    bad = [s for s in statuses if s != "optimal"]
    status = "optimal" if not bad else bad[0]
    return _schedule(req, cands, x, y, y_index, status, clock.perf_counter() - began)


def _solve_block(
    req: Requirement,
    cands: Sequence[_Candidate],
    y_index: Sequence[tuple[int, int, int]],
    lo: int,
    hi: int,
    js: Sequence[int],
    ys: Sequence[int],
    time_limit: float,
    mip_gap: float | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], str]:
    p = hi - lo + 1
    n_x, n_y = len(js), len(ys)
    n = n_x + n_y + p
    cost = np.zeros(n)
    cost[:n_x] = [cands[j].template.paid_hours for j in js]
    cost[n_x + n_y :] = UNDER_PENALTY * req.interval_seconds / 3600.0
    r_i: list[int] = []
    c_i: list[int] = []
    v: list[float] = []
    for col, j in enumerate(js):
        part = cands[j].cover[lo : hi + 1]
        nz = np.flatnonzero(part)
        r_i += nz.tolist()
        c_i += [col] * nz.size
        v += part[nz].tolist()
    for col, yc in enumerate(ys):
        j, b, k = y_index[yc]
        part = cands[j].breaks[b][1][k][lo : hi + 1]
        nz = np.flatnonzero(part)
        r_i += nz.tolist()
        c_i += [n_x + col] * nz.size
        v += (-part[nz]).tolist()
    r_i += list(range(p))
    c_i += list(range(n_x + n_y, n))
    v += [1.0] * p
    cover = sparse.csr_matrix((v, (r_i, c_i)), shape=(p, n))
    constraints = [
        LinearConstraint(cover, lb=req.required[lo : hi + 1].astype(np.float64), ub=np.inf)
    ]
    # the break counts of each shift start add up to its agents
    e_r: list[int] = []
    e_c: list[int] = []
    e_v: list[float] = []
    local = {j: col for col, j in enumerate(js)}
    rule_row: dict[tuple[int, int], int] = {}
    for col, yc in enumerate(ys):
        j, b, _ = y_index[yc]
        row = rule_row.setdefault((j, b), len(rule_row))
        e_r.append(row)
        e_c.append(n_x + col)
        e_v.append(1.0)
    for (j, _b), row in rule_row.items():
        e_r.append(row)
        e_c.append(local[j])
        e_v.append(-1.0)
    if rule_row:
        eq = sparse.csr_matrix((e_v, (e_r, e_c)), shape=(len(rule_row), n))
        constraints.append(LinearConstraint(eq, lb=0.0, ub=0.0))
    # Integer slack too: with every cost a multiple of the same step HiGHS can
    # prove optimality from the objective's granularity.
    integrality = np.ones(n)
    options: dict[str, Any] = {"time_limit": time_limit, "disp": False}
    if mip_gap is not None:
        options["mip_rel_gap"] = mip_gap
    res = milp(
        cost,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0, np.inf),
        options=options,
    )
    if res.x is None:
        raise InvalidInput(f"the shift solver found no schedule: {res.message}")
    status = "optimal" if res.status == 0 else f"best found in the time limit ({res.message})"
    return (
        np.rint(res.x[:n_x]).astype(np.int64),
        np.rint(res.x[n_x : n_x + n_y]).astype(np.int64),
        status,
    )


def _schedule(
    req: Requirement,
    cands: Sequence[_Candidate],
    x: NDArray[np.int64],
    y: NDArray[np.int64],
    y_index: Sequence[tuple[int, int, int]],
    status: str,
    seconds: float,
) -> Schedule:
    coverage = np.zeros(len(req.starts))
    placements: dict[int, list[BreakPlacement]] = {}
    for j, c in enumerate(cands):
        coverage += x[j] * c.cover
    for col, (j, b, k) in enumerate(y_index):
        if y[col] <= 0:
            continue
        c = cands[j]
        off = c.breaks[b][0][k]
        coverage -= y[col] * c.breaks[b][1][k]
        placements.setdefault(j, []).append(
            BreakPlacement(
                c.start + timedelta(minutes=off), c.template.breaks[b].minutes, int(y[col])
            )
        )
    shifts = tuple(
        ScheduledShift(
            c.template.name,
            c.start,
            c.start + timedelta(minutes=c.template.length_minutes),
            int(x[j]),
            c.template.paid_hours,
            tuple(sorted(placements.get(j, []), key=lambda b: b.start)),
        )
        for j, c in enumerate(cands)
        if x[j] > 0
    )
    shifts = tuple(sorted(shifts, key=lambda s: (s.start, s.template)))
    return Schedule(status, shifts, coverage, req.required, req.interval_seconds, seconds)


def greedy_cover(req: Requirement, templates: Sequence[ShiftTemplate]) -> Schedule:
    """A greedy cover for comparison: breaks mid-window, best gain per paid hour first."""
    began = clock.perf_counter()
    cands = _candidates(req, templates)
    pattern = np.array(
        [
            c.cover - sum((lost[len(lost) // 2] for _, lost in c.breaks), np.zeros_like(c.cover))
            for c in cands
        ]
    )
    paid = np.array([c.template.paid_hours for c in cands])
    deficit = req.required.astype(np.float64).copy()
    x = np.zeros(len(cands), dtype=np.int64)
    while True:
        gain = np.minimum(pattern, np.maximum(deficit, 0.0)[None, :]).sum(axis=1)
        best = int(np.argmax(gain / paid))
        if gain[best] <= 1e-9:
            break
        x[best] += 1
        deficit -= pattern[best]
    y_index: list[tuple[int, int, int]] = []
    y: list[int] = []
    for j, c in enumerate(cands):
        for b, (offs, _) in enumerate(c.breaks):
            y_index.append((j, b, len(offs) // 2))
            y.append(int(x[j]))
    return _schedule(
        req,
        cands,
        x,
        np.array(y, dtype=np.int64),
        y_index,
        "greedy",
        clock.perf_counter() - began,
    )


def write_schedule_csv(schedule: Schedule, path: str | Path) -> None:
    """One line per shift start with agents, and one per break placement."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["kind", "template", "start", "end", "agents", "paid_hours"])
        for s in schedule.shifts:
            w.writerow(
                [
                    "shift",
                    s.template,
                    s.start.isoformat(),
                    s.end.isoformat(),
                    s.agents,
                    f"{s.paid_hours:g}",
                ]
            )
            for b in s.breaks:
                end = b.start + timedelta(minutes=b.minutes)
                w.writerow(
                    ["break", s.template, b.start.isoformat(), end.isoformat(), b.agents, ""]
                )
