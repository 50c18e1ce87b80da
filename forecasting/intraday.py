"""Intraday: today's actual calls and AHT against the plan, and a re-forecast
of the rest of the day.

The ACD's interval statistics (the interval CSV of DESIGN.md, exported for
today) are matched to the plan's intervals. Completed intervals give the
ratio actual / planned for calls and for AHT, each pulled toward 1 by a prior
of ``PRIOR_CALLS`` calls so that a quiet first half hour does not halve the
afternoon. The remaining intervals are re-forecast with those ratios and
re-staffed with the plan's own targets (Erlang C, or Erlang A where the plan
had a patience). :func:`needs_now` gives the figure a wallboard can show per
queue: "needed N / logged in M" for the current interval.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from forecasting.erlang import Targets, required_agents, scheduled_agents
from forecasting.erlang_a import required_agents_erlang_a
from forecasting.errors import InvalidInput
from forecasting.history import IntervalRecord
from forecasting.plan import DEFAULT_MAX_ABANDON, PlanRow

#: pseudo-calls pulling the observed ratios toward the plan
PRIOR_CALLS = 30.0
#: a queue running further than this from plan is called out
ALERT_RATIO = 0.15


@dataclass(frozen=True, slots=True)
class IntervalIntraday:
    """One plan interval of one queue, today."""

    start: datetime
    planned_calls: float
    actual_calls: float | None  # None: not complete yet
    planned_aht: float
    actual_aht: float | None
    planned_agents: int
    reforecast_calls: float
    reforecast_aht: float
    reforecast_agents: int
    reforecast_scheduled: int


@dataclass(frozen=True, slots=True)
class QueueIntraday:
    """One queue today: so far, and the rest of the day."""

    queue: str
    planned_calls_so_far: float
    actual_calls_so_far: float
    calls_ratio: float
    planned_aht: float
    actual_aht: float
    aht_ratio: float
    planned_calls_rest: float
    reforecast_calls_rest: float
    intervals: tuple[IntervalIntraday, ...]


@dataclass(frozen=True, slots=True)
class QueueNeed:
    """For a wallboard: agents needed now (re-forecast) against logged in."""

    queue: str
    interval_start: datetime
    planned_agents: int
    needed_agents: int
    logged_in: int | None


@dataclass(frozen=True, slots=True)
class IntradayReport:
    day: date
    now: datetime
    queues: tuple[QueueIntraday, ...]
    warnings: tuple[str, ...]

    def to_json(self, needs: Sequence[QueueNeed] = ()) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "now": self.now.isoformat(),
            "warnings": list(self.warnings),
            "needs": [
                {
                    "queue": n.queue,
                    "interval_start": n.interval_start.isoformat(),
                    "planned_agents": n.planned_agents,
                    "needed_agents": n.needed_agents,
                    "logged_in": n.logged_in,
                }
                for n in needs
            ],
            "queues": [
                {
                    "queue": q.queue,
                    "planned_calls_so_far": q.planned_calls_so_far,
                    "actual_calls_so_far": q.actual_calls_so_far,
                    "calls_ratio": q.calls_ratio,
                    "planned_aht": q.planned_aht,
                    "actual_aht": q.actual_aht,
                    "aht_ratio": q.aht_ratio,
                    "planned_calls_rest": q.planned_calls_rest,
                    "reforecast_calls_rest": q.reforecast_calls_rest,
                    "intervals": [
                        {
                            "start": i.start.isoformat(),
                            "planned_calls": i.planned_calls,
                            "actual_calls": i.actual_calls,
                            "planned_aht": i.planned_aht,
                            "actual_aht": i.actual_aht,
                            "planned_agents": i.planned_agents,
                            "reforecast_calls": i.reforecast_calls,
                            "reforecast_aht": i.reforecast_aht,
                            "reforecast_agents": i.reforecast_agents,
                            "reforecast_scheduled": i.reforecast_scheduled,
                        }
                        for i in q.intervals
                    ],
                }
                for q in self.queues
            ],
        }


def compare(
    rows: Sequence[PlanRow], actual: Sequence[IntervalRecord], now: datetime
) -> IntradayReport:
    """Compare today's actuals with the plan and re-forecast the rest of the day."""
    if now.utcoffset() is None:
        raise InvalidInput("now needs a UTC offset")
    tz = rows[0].start.tzinfo
    today = now.astimezone(tz).date()
    todays = [r for r in rows if r.start.date() == today]
    if not todays:
        days = sorted({r.start.date() for r in rows})
        raise InvalidInput(
            f"the plan has no intervals on {today} (it covers {days[0]} to {days[-1]})"
        )
    warnings: list[str] = []
    by_queue: dict[str, list[PlanRow]] = {}
    for r in todays:
        by_queue.setdefault(r.queue, []).append(r)
    # actual counters summed into the plan's intervals
    acc: dict[tuple[str, datetime], list[float]] = {}
    unmatched = 0
    starts = {q: sorted(r.start.astimezone(UTC) for r in qrows) for q, qrows in by_queue.items()}
    for rec in actual:
        if rec.queue not in by_queue:
            unmatched += 1
            continue
        t = rec.start.astimezone(UTC)
        ival = by_queue[rec.queue][0].interval_seconds
        key = next((s for s in starts[rec.queue] if s <= t < s + timedelta(seconds=ival)), None)
        if key is None:
            continue
        a = acc.setdefault((rec.queue, key), [0.0, 0.0, 0.0])
        a[0] += rec.offered
        a[1] += rec.answered
        a[2] += rec.handle_seconds
    if unmatched:
        extra = sorted({r.queue for r in actual} - set(by_queue))
        warnings.append(f"actuals for queues not in the plan ignored: {', '.join(extra)}")
    if not acc:
        warnings.append(f"no actual intervals for {today} match the plan: is the export for today?")
    out: list[QueueIntraday] = []
    for q in sorted(by_queue):
        qrows = sorted(by_queue[q], key=lambda r: r.start)
        done = [r for r in qrows if r.start + timedelta(seconds=r.interval_seconds) <= now]
        rest = [r for r in qrows if r.start + timedelta(seconds=r.interval_seconds) > now]
        p_calls = sum(r.forecast_calls for r in done)
        a_vals = [acc.get((q, r.start.astimezone(UTC)), [0.0, 0.0, 0.0]) for r in done]
        a_calls = sum(v[0] for v in a_vals)
        a_ans = sum(v[1] for v in a_vals)
        a_handle = sum(v[2] for v in a_vals)
        p_handle = sum(r.forecast_calls * r.aht_seconds for r in done)
        p_aht = p_handle / p_calls if p_calls > 0 else (qrows[0].aht_seconds or 0.0)
        ratio = (a_calls + PRIOR_CALLS) / (p_calls + PRIOR_CALLS)
        a_aht = a_handle / a_ans if a_ans > 0 else 0.0
        aht_ratio = (
            (a_handle + PRIOR_CALLS * p_aht) / ((a_ans + PRIOR_CALLS) * p_aht) if p_aht > 0 else 1.0
        )
        intervals = _restaff(qrows, done, rest, acc, q, ratio, aht_ratio)
        if (
            p_calls + a_calls >= 2 * PRIOR_CALLS
            and abs(a_calls / max(p_calls, 1e-9) - 1) > ALERT_RATIO
        ):
            warnings.append(
                f"queue {q}: {a_calls:.0f} calls so far against {p_calls:.0f} planned "
                f"({a_calls / max(p_calls, 1e-9) - 1:+.0%}); the rest of the day is re-forecast "
                f"x{ratio:.2f}"
            )
        if a_ans >= PRIOR_CALLS and p_aht > 0 and abs(a_aht / p_aht - 1) > ALERT_RATIO:
            warnings.append(f"queue {q}: AHT so far {a_aht:.0f} s against {p_aht:.0f} s planned")
        out.append(
            QueueIntraday(
                q,
                p_calls,
                a_calls,
                ratio,
                p_aht,
                a_aht,
                aht_ratio,
                sum(r.forecast_calls for r in rest),
                sum(r.forecast_calls for r in rest) * ratio,
                intervals,
            )
        )
    return IntradayReport(today, now, tuple(out), tuple(warnings))


def _restaff(
    qrows: Sequence[PlanRow],
    done: Sequence[PlanRow],
    rest: Sequence[PlanRow],
    acc: Mapping[tuple[str, datetime], list[float]],
    queue: str,
    ratio: float,
    aht_ratio: float,
) -> tuple[IntervalIntraday, ...]:
    calls = np.array([r.forecast_calls * ratio for r in rest])
    aht = np.array([max(r.aht_seconds, 1e-9) * aht_ratio for r in rest])
    ival = np.array([float(r.interval_seconds) for r in rest])
    agents = np.zeros(len(rest), dtype=np.int64)
    sched = np.zeros(len(rest), dtype=np.int64)
    if rest:
        r0 = rest[0]
        traffic = calls * aht / ival
        if r0.patience_seconds is None:
            agents = required_agents(
                traffic,
                aht,
                Targets(
                    np.array([r.service_level_target for r in rest]),
                    np.array([r.target_seconds for r in rest]),
                    None,
                    np.array([r.max_occupancy for r in rest]),
                ),
            )
        else:
            agents = required_agents_erlang_a(
                traffic,
                aht,
                r0.patience_seconds,
                service_level=np.array([r.service_level_target for r in rest]),
                target_seconds=np.array([r.target_seconds for r in rest]),
                # the plan CSV does not carry the abandon cap: the default one
                max_abandon=DEFAULT_MAX_ABANDON,
                max_occupancy=np.array([r.max_occupancy for r in rest]),
            )
        sched = scheduled_agents(agents, np.array([r.shrinkage for r in rest]))
    out: list[IntervalIntraday] = []
    for r in done:
        v = acc.get((queue, r.start.astimezone(UTC)), [0.0, 0.0, 0.0])
        out.append(
            IntervalIntraday(
                r.start,
                r.forecast_calls,
                v[0],
                r.aht_seconds,
                v[2] / v[1] if v[1] > 0 else None,
                r.agents_required,
                v[0],
                v[2] / v[1] if v[1] > 0 else r.aht_seconds,
                r.agents_required,
                r.agents_scheduled,
            )
        )
    for i, r in enumerate(rest):
        out.append(
            IntervalIntraday(
                r.start,
                r.forecast_calls,
                None,
                r.aht_seconds,
                None,
                r.agents_required,
                float(calls[i]),
                float(aht[i]),
                int(agents[i]),
                int(sched[i]),
            )
        )
    return tuple(out)


def needs_now(
    report: IntradayReport, now: datetime, logged_in: Mapping[str, int] | None = None
) -> list[QueueNeed]:
    """Per queue, the current interval's re-forecast need against agents logged in."""
    logged_in = logged_in or {}
    out = []
    for q in report.queues:
        current = next(
            (i for i in q.intervals if i.start <= now < i.start + timedelta(seconds=_ival(q))),
            None,
        )
        if current is None:
            continue
        out.append(
            QueueNeed(
                q.queue,
                current.start,
                current.planned_agents,
                current.reforecast_agents,
                logged_in.get(q.queue),
            )
        )
    return out


def _ival(q: QueueIntraday) -> float:
    if len(q.intervals) >= 2:
        return (q.intervals[1].start - q.intervals[0].start).total_seconds()
    return 1800.0


def read_snapshot(path: str | Path) -> dict[str, int]:
    """Agents logged in per queue from a wallboard ``/api/snapshot`` JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read snapshot {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not JSON: {exc}") from None
    out: dict[str, int] = {}
    queues = data.get("queues") if isinstance(data, dict) else None
    if not isinstance(queues, list):
        raise InvalidInput(f"{path}: expected a wallboard snapshot with a 'queues' list")
    for q in queues:
        try:
            out[str(q["name"])] = int(q["agents"]["logged_in"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(f"{path}: each queue needs name and agents.logged_in") from None
    return out
