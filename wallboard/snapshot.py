"""The wallboard snapshot: read the ACD's Redis state, compute, serialise.

One :class:`SnapshotBuilder` per app. It reads everything a board needs in two
pipelined round trips, computes the figures with :mod:`acd.core.metrics` and
returns the JSON contract of DESIGN.md (plus what the page needs: service
level over the last 60 minutes, median wait, the per-interval series, the
variant shown, thresholds and levels).
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from acd.core import metrics
from acd.core.intervals import INTERVAL_SECONDS, interval_start
from acd.core.routing import expected_wait
from acd.core.settings import Config, QueueConfig, Threshold
from acd.store.keys import Keys
from wallboard import figures

AGENT_STATES: tuple[str, ...] = (
    "logged_out",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
)

# Agents in these states will take the queue's next callers (for the
# expected wait of a new caller, as the ACD announces it).
_SERVING_STATES = frozenset({"available", "ringing", "on_call", "wrap_up"})
_DEFAULT_AHT = 180.0  # the ACD's assumption before any call was handled
# A waiting-set score is arrival - priority * 1e6: below now - 5e5 means priority > 0.
_VIP_SCORE_OFFSET = 5e5
# Interval counters the ACD may write that acd.core.metrics does not parse (yet):
# "lost" (callers the fallback queue took when an ACD process died) and
# "idle_seconds" (available time, for occupancy), and the outcome counters of
# dispositions, surveys and callbacks. Absent = 0.
_OUTCOME_COUNTERS = (
    "dispositioned", "resolved", "csat_answers", "csat_good",
    "callback_requested", "callback_answered", "callback_failed",
)
_EXTRA_COUNTERS = ("lost", "idle_seconds", *_OUTCOME_COUNTERS)
# Waiting calls whose kind is read per queue to count waiting callbacks (a
# longer queue is counted on its first this-many callers).
MAX_KIND_READS = 1000
# The ACD's own calls make the phone busy too: "on another call" is only
# news while the agent is not ringing or talking on an ACD call.
_OWN_CALL_STATES = frozenset({"ringing", "on_call"})
# An interval with fewer calls than this is a gap in the trend line, not a
# 0 % or 100 % spike.
MIN_TREND_CALLS = 3

# Closed intervals are re-read at most this often (a late write from another
# ACD instance still shows up within this delay).
_CLOSED_INTERVAL_TTL = 120.0

JsonObject = dict[str, Any]


class Level(enum.StrEnum):
    """Colour of a metric against its thresholds."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"


# Configuration names (acd.config.loader.THRESHOLD_METRICS) -> snapshot fields
# they colour. Rates are configured in percent; the snapshot holds shares.
_FIELDS_BY_CONFIG_NAME: Mapping[str, tuple[str, ...]] = {
    "service_level": ("service_level", "service_level_hour"),
    # A new caller's expected wait is judged by the same limits as a real wait.
    "longest_wait": ("longest_wait_seconds", "expected_wait_seconds"),
    "waiting": ("waiting",),
    "abandon_rate": ("abandon_rate",),
    "asa": ("asa_seconds",),
    "aht": ("aht_seconds",),
    "median_wait": ("median_wait_seconds",),
}
_PERCENT_METRICS = frozenset({"service_level", "abandon_rate"})

# Used when the configuration carries none (a Config built in code); the same
# values the configuration loader fills in.
DEFAULT_THRESHOLDS: Mapping[str, Threshold] = {
    "service_level": Threshold(amber=80.0, red=60.0, higher_is_better=True),
    "longest_wait": Threshold(amber=60.0, red=120.0, higher_is_better=False),
    "waiting": Threshold(amber=3.0, red=6.0, higher_is_better=False),
    "abandon_rate": Threshold(amber=5.0, red=10.0, higher_is_better=False),
    "asa": Threshold(amber=30.0, red=60.0, higher_is_better=False),
}


def effective_thresholds(configured: Mapping[str, Threshold]) -> dict[str, Threshold]:
    """Thresholds keyed by snapshot field, in snapshot units (shares for rates)."""
    result: dict[str, Threshold] = {}
    for name, t in (configured or DEFAULT_THRESHOLDS).items():
        if name in _PERCENT_METRICS:
            t = Threshold(amber=t.amber / 100, red=t.red / 100, higher_is_better=t.higher_is_better)
        for snapshot_field in _FIELDS_BY_CONFIG_NAME.get(name, (name,)):
            result[snapshot_field] = t
    return result


# Snapshot fields shown as whole percent (the rest: seconds or counts, shown
# whole): the registry's percent figures, and the abandon rate that colours
# the abandoned count.
SHARE_FIELDS = figures.SHARE_FIELDS | {"abandon_rate"}
# Live figures: the only ones that may flash red or sound. Today's cumulative
# figures only change colour (they would otherwise flash all day).
LIVE_FIELDS = figures.LIVE_FIELDS


def as_displayed(metric: str, value: float) -> float:
    """The value as the page shows it: shares to whole percent (halves up, as
    the page's Math.round), seconds and counts to whole units (floor, as the
    page's m:ss). Colours are decided on this, so "92%" is never amber under
    a red-at-92 rule because the exact figure was 92.3."""
    if metric in SHARE_FIELDS:
        return math.floor(value * 100 + 0.5) / 100
    return float(math.floor(value))


def classify(
    value: float | None, threshold: Threshold | None, metric: str = ""
) -> Level | None:
    """Green, amber or red (:meth:`Threshold.level`) of the value as displayed;
    None without a value or threshold."""
    if value is None or threshold is None:
        return None
    return Level(threshold.level(as_displayed(metric, value) if metric else value))


def display_name(name: str) -> str:
    """A readable default for a queue identifier: ``tech_support`` -> ``Tech support``."""
    text = name.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else name


@dataclass(frozen=True, slots=True)
class Board:
    """Which queues a wallboard shows. ``name`` is the configured board, if any."""

    queues: tuple[str, ...]
    name: str = ""
    title: str = ""

    @property
    def key(self) -> str:
        """Identity of the payload: sockets with the same key share bytes."""
        return ",".join(self.queues)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _float(value: object) -> float | None:
    try:
        number = float(_text(value))
    except ValueError:
        return None
    return number if number == number else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class SnapshotBuilder:
    """Builds snapshots for boards from Redis. Holds a small cache of closed
    intervals' counters so a busy day does not re-read 96 hashes per queue on
    every update."""

    def __init__(
        self,
        config: Config,
        redis: aioredis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        variant: metrics.ServiceLevelVariant = metrics.ServiceLevelVariant.DEFAULT,
    ) -> None:
        self._config = config
        self._redis = redis
        self._keys = Keys(config.redis.key_prefix)
        self._clock = clock
        self._variant = variant
        self._thresholds = effective_thresholds(config.wallboard.thresholds)
        base = dict(config.wallboard.thresholds or DEFAULT_THRESHOLDS)
        self._queue_thresholds = {
            name: effective_thresholds({**base, **settings.thresholds})
            for name, settings in config.wallboard.queue_display.items()
        }
        # Config.agent is a scan: once per agent per update was 40,000 compares.
        self._agents = {a.id: a for a in config.agents}
        self._cache: dict[tuple[str, int], tuple[metrics.IntervalCounters, float]] = {}
        self._extra_cache: dict[tuple[str, int], dict[str, float]] = {}
        # Sum of a queue's closed intervals today, keyed by the identity of the
        # cached counters it was summed from: summing ~96 intervals per queue on
        # every update was most of the build time on a 12-queue board.
        self._closed_sums: dict[str, tuple[tuple[int, ...], metrics.IntervalCounters]] = {}

    @property
    def thresholds(self) -> Mapping[str, Threshold]:
        return self._thresholds

    def queue_thresholds(self, queue: str) -> Mapping[str, Threshold]:
        """The board's thresholds with the queue's own overrides applied."""
        return self._queue_thresholds.get(queue, self._thresholds)

    def board(self, queues: str | None = None, board: str | None = None) -> Board:
        """Resolve ``?queues=a,b`` or ``?board=NAME``; raises LookupError with a
        message for the user on an unknown name."""
        known = [q.name for q in self._config.queues]
        if board:
            for b in self._config.wallboard.boards:
                if b.name == board:
                    return Board(
                        queues=tuple(b.queues),
                        name=b.name,
                        title=b.title or self._config.wallboard.title or b.name,
                    )
            names = ", ".join(b.name for b in self._config.wallboard.boards) or "none configured"
            raise LookupError(f"unknown board {board!r} (boards: {names})")
        if queues:
            wanted = tuple(dict.fromkeys(q.strip() for q in queues.split(",") if q.strip()))
            unknown = [q for q in wanted if known and q not in known]
            if unknown:
                raise LookupError(
                    f"unknown queue {', '.join(map(repr, unknown))} (queues: {', '.join(known)})"
                )
            return Board(queues=wanted, title=self._config.wallboard.title)
        return Board(queues=tuple(known), title=self._config.wallboard.title)

    async def build(self, board: Board, last_change_at: float | None = None) -> JsonObject:
        """Read Redis and compute the snapshot of one board."""
        now = self._clock()
        keys = self._keys
        cfg = self._config
        timezone = cfg.wallboard.timezone
        queue_names = list(board.queues)
        if not queue_names and not cfg.queues:
            # No queues configured: show whatever the ACD has seen.
            queue_names = sorted(_text(q) for q in await self._redis.smembers(keys.queues))

        if cfg.agents:
            wanted = set(queue_names)
            agent_ids = [a.id for a in cfg.agents if not a.queues or wanted & set(a.queues)]
        else:
            agent_ids = sorted(_text(a) for a in await self._redis.smembers(keys.agents))

        today = metrics.today_interval_starts(now, timezone)
        window = metrics.rolling_window_weights(now)
        starts = sorted(set(today) | {s for s, _ in window})
        closed_before = interval_start(now) - INTERVAL_SECONDS
        to_read: list[tuple[str, int]] = []
        counters: dict[tuple[str, int], metrics.IntervalCounters] = {}
        extras: dict[tuple[str, int], dict[str, float]] = {}
        for q in queue_names:
            for s in starts:
                cached = self._cache.get((q, s))
                if s < closed_before and cached and now - cached[1] < _CLOSED_INTERVAL_TTL:
                    counters[(q, s)] = cached[0]
                    extras[(q, s)] = self._extra_cache.get((q, s), {})
                else:
                    to_read.append((q, s))

        pipe = self._redis.pipeline(transaction=False)
        for q in queue_names:
            pipe.zcard(keys.waiting(q))
            pipe.zrange(keys.arrivals(q), 0, 0, withscores=True)
            pipe.zcount(keys.waiting(q), "-inf", now - _VIP_SCORE_OFFSET)
            pipe.zrange(keys.waiting(q), 0, MAX_KIND_READS - 1)
        for agent_id in agent_ids:
            pipe.hgetall(keys.agent(agent_id))
        for q, s in to_read:
            pipe.hgetall(keys.stats(q, s))
        replies: list[Any] = await pipe.execute()

        pos = 0
        waiting: dict[str, int] = {}
        vip: dict[str, int] = {}
        oldest: dict[str, tuple[str, float] | None] = {}
        waiting_ids: dict[str, list[str]] = {}
        for q in queue_names:
            waiting[q] = int(replies[pos])
            head = replies[pos + 1]
            oldest[q] = (_text(head[0][0]), float(head[0][1])) if head else None
            vip[q] = int(replies[pos + 2])
            waiting_ids[q] = [_text(c) for c in replies[pos + 3]]
            pos += 4
        agent_rows: dict[str, dict[str, str]] = {}
        for agent_id in agent_ids:
            agent_rows[agent_id] = {_text(k): _text(v) for k, v in replies[pos].items()}
            pos += 1
        for q, s in to_read:
            raw = replies[pos]
            c = metrics.IntervalCounters.from_hash(raw)
            pos += 1
            counters[(q, s)] = c
            extra = {name: _float(raw.get(name)) or 0.0 for name in _EXTRA_COUNTERS}
            extras[(q, s)] = extra
            if s < closed_before:
                self._cache[(q, s)] = (c, now)
                self._extra_cache[(q, s)] = extra
        self._prune_cache(now)

        # Second round trip: the callers we name on screen.
        call_ids = [o[0] for o in oldest.values() if o is not None]
        call_ids += [row["call_id"] for row in agent_rows.values() if row.get("call_id")]
        callers: dict[str, str] = {}
        callbacks = dict.fromkeys(queue_names, 0)
        kind_reads = [(q, c) for q in queue_names for c in waiting_ids[q]]
        if call_ids or kind_reads:
            pipe = self._redis.pipeline(transaction=False)
            for call_id in call_ids:
                pipe.hmget(keys.call(call_id), ["caller_name", "caller_id"])
            for _, call_id in kind_reads:
                pipe.hget(keys.call(call_id), "kind")
            replies = await pipe.execute()
            for call_id, (name, number) in zip(call_ids, replies, strict=False):
                callers[call_id] = _text(name) or _text(number)
            for (q, _), kind in zip(kind_reads, replies[len(call_ids):], strict=True):
                callbacks[q] += _text(kind) == "callback"

        agents = [
            self._agent_json(agent_id, agent_rows[agent_id], callers) for agent_id in agent_ids
        ]
        day_totals = {q: self._day_total(q, today, counters, closed_before) for q in queue_names}
        queues = [
            self._queue_json(
                q, now, today, window, counters, extras, waiting[q], oldest[q], vip[q],
                callers, agents, day_totals[q], callbacks[q],
            )
            for q in queue_names
        ]
        totals = self._totals_json(day_totals, queues, agents, extras, today)
        return {
            # generated_at and last_change_at first: cheap to find for latency probes.
            "generated_at": now,
            "last_change_at": last_change_at,
            "type": "snapshot",
            "board": {"name": board.name, "title": board.title, "queues": queue_names},
            "timezone": timezone,
            "day_start": metrics.local_day_start(now, timezone),
            "interval_seconds": INTERVAL_SECONDS,
            "service_level_variant": self._variant.value,
            "thresholds": _thresholds_json(self._thresholds),
            "live_metrics": sorted(LIVE_FIELDS),
            "metrics": figures.descriptors(),
            "limits": {
                "paused": cfg.wallboard.pause_alert_seconds,
                "wrap_up": cfg.wallboard.wrap_up_alert_seconds,
            },
            "min_trend_calls": MIN_TREND_CALLS,
            "totals": totals,
            "queues": queues,
            "agents": agents,
        }

    def _day_total(
        self,
        queue: str,
        today: Sequence[int],
        counters: Mapping[tuple[str, int], metrics.IntervalCounters],
        closed_before: int,
    ) -> metrics.IntervalCounters:
        closed = [counters.get((queue, s), metrics.EMPTY) for s in today if s < closed_before]
        identity = tuple(id(c) for c in closed)
        memo = self._closed_sums.get(queue)
        if memo is None or memo[0] != identity:
            memo = (identity, metrics.total(closed))
            self._closed_sums[queue] = memo
        open_ = [counters.get((queue, s), metrics.EMPTY) for s in today if s >= closed_before]
        return metrics.total([memo[1], *open_])

    def _prune_cache(self, now: float) -> None:
        if len(self._cache) > 4096:
            horizon = now - 2 * 86400
            self._cache = {k: v for k, v in self._cache.items() if k[1] >= horizon}
            self._extra_cache = {k: v for k, v in self._extra_cache.items() if k[1] >= horizon}

    def _agent_json(
        self, agent_id: str, row: Mapping[str, str], callers: Mapping[str, str]
    ) -> JsonObject:
        configured = self._agents.get(agent_id)
        state = row.get("state") or "logged_out"
        if state not in AGENT_STATES:
            state = "logged_out"
        call_id = row.get("call_id", "")
        pending = row.get("pending", "")
        if pending not in ("pause", "logout") or state == "logged_out":
            pending = ""
        return {
            "id": agent_id,
            "name": row.get("name") or (configured.name if configured else agent_id),
            "state": state,
            "state_since": _float(row.get("state_since")),
            "pause_reason": row.get("pause_reason", "") if state == "paused" else "",
            "queues": sorted(configured.queues) if configured else [],
            "current_queue": row.get("queue", ""),
            "caller": callers.get(call_id, "") if call_id else "",
            "reachable": row.get("reachable", "1") != "0",
            # In use on a call the ACD did not make (device state INUSE/BUSY/...).
            "phone_busy": row.get("phone_busy", "") == "1" and state not in _OWN_CALL_STATES,
            "pending": pending,
            "pending_reason": row.get("pending_reason", "") if pending == "pause" else "",
            "calls": int(_float(row.get("calls")) or 0),
        }

    def _queue_json(
        self,
        name: str,
        now: float,
        today: Sequence[int],
        window: Sequence[tuple[int, float]],
        counters: Mapping[tuple[str, int], metrics.IntervalCounters],
        extras: Mapping[tuple[str, int], Mapping[str, float]],
        waiting: int,
        oldest: tuple[str, float] | None,
        vip_waiting: int,
        callers: Mapping[str, str],
        agents: Sequence[JsonObject],
        day_total: metrics.IntervalCounters,
        callbacks_waiting: int = 0,
    ) -> JsonObject:
        qc = self._config.queue(name) or QueueConfig(name=name)
        settings = self._config.wallboard.queue_display.get(name)
        thresholds = self.queue_thresholds(name)
        lost = sum(extras.get((name, s), {}).get("lost", 0.0) for s in today)
        idle = _idle_today(extras, [name], today)
        outcomes = _outcome_totals(extras, [name], today)
        per_interval = {s: counters.get((name, s), metrics.EMPTY) for s in today}
        day = metrics.figures(day_total, self._variant)
        hour_counters = metrics.window_total(
            {s: counters.get((name, s), metrics.EMPTY) for s, _ in window}, window
        )
        hour = metrics.service_level(hour_counters, self._variant)
        oldest_arrival = oldest[1] if oldest else None
        longest = metrics.longest_wait_seconds(oldest_arrival, now)

        counts = _agent_counts(a for a in agents if name in a["queues"] or not a["queues"])
        serving = sum(
            1
            for a in agents
            if (name in a["queues"] or not a["queues"])
            and a["state"] in _SERVING_STATES
            and a["reachable"]
            and not a["phone_busy"]
        )
        aht_recent = metrics.aht_seconds(hour_counters) or day.aht_seconds or _DEFAULT_AHT
        # The wait a caller arriving now should expect (as the ACD announces it);
        # unknown while nobody serves the queue.
        ewt = expected_wait(waiting + 1, serving, aht_recent) if serving else None

        values: dict[str, float | None] = {
            "service_level": day.service_level,
            "service_level_hour": hour,
            "abandon_rate": day.abandon_rate,
            "longest_wait_seconds": longest,
            "asa_seconds": day.asa_seconds,
            "aht_seconds": day.aht_seconds,
            "median_wait_seconds": day.median_wait_seconds,
            "waiting": float(waiting),
            "expected_wait_seconds": ewt,
        }
        levels = _levels(values, thresholds)
        series_sl = [
            _round(metrics.service_level(c, self._variant), 4) for c in per_interval.values()
        ]
        return {
            "name": name,
            "display_name": (settings.display_name if settings else "") or display_name(name),
            "waiting": waiting,
            "longest_wait_seconds": _round(longest, 1),
            "oldest_arrival": oldest_arrival,
            "longest_waiting_caller": callers.get(oldest[0], "") if oldest else "",
            "service_level": _round(day.service_level, 4),
            "service_level_hour": _round(hour, 4),
            "service_level_target_seconds": qc.service_level_seconds,
            "short_abandon_seconds": qc.short_abandon_seconds,
            "offered": day.offered,
            "answered": day.answered,
            "abandoned": day.abandoned,
            "short_abandoned": day.short_abandoned,
            "timed_out": day.timed_out,
            "lost": round(lost),
            "vip_waiting": vip_waiting,
            "expected_wait_seconds": _round(ewt, 1),
            "abandon_rate": _round(day.abandon_rate, 4),
            "asa_seconds": _round(day.asa_seconds, 1),
            "aht_seconds": _round(day.aht_seconds, 1),
            "median_wait_seconds": _round(day.median_wait_seconds, 1),
            **_outcome_json(outcomes, day_total.handled),
            **figures.computed(figures.Facts(day_total, idle, counts["logged_in"], outcomes)),
            "callbacks_waiting": callbacks_waiting,
            "agents": counts,
            "levels": levels,
            "thresholds": _thresholds_json(thresholds),
            "series": {
                "start": today[0] if today else None,
                "step": INTERVAL_SECONDS,
                "service_level": series_sl,
                "offered": [round(c.offered) for c in per_interval.values()],
                # the service level's denominator: few calls -> a gap, not a spike
                "calls": [round(_sl_calls(c, self._variant)) for c in per_interval.values()],
            },
        }

    def _totals_json(
        self,
        day_totals: Mapping[str, metrics.IntervalCounters],
        queues: Sequence[JsonObject],
        agents: Sequence[JsonObject],
        extras: Mapping[tuple[str, int], Mapping[str, float]],
        today: Sequence[int],
    ) -> JsonObject:
        """The whole board: counters summed over its queues, agents counted once."""
        summed = metrics.total(day_totals.values())
        day = metrics.figures(summed, self._variant)
        outcomes = _outcome_totals(extras, list(day_totals), today)
        longest = [q["longest_wait_seconds"] for q in queues if q["longest_wait_seconds"]]
        arrivals = [q["oldest_arrival"] for q in queues if q["oldest_arrival"] is not None]
        board_counts = _agent_counts(agents)
        values: dict[str, float | None] = {
            "service_level": day.service_level,
            "abandon_rate": day.abandon_rate,
            "asa_seconds": day.asa_seconds,
            "waiting": float(sum(q["waiting"] for q in queues)),
        }
        return {
            "waiting": sum(q["waiting"] for q in queues),
            "vip_waiting": sum(q["vip_waiting"] for q in queues),
            "longest_wait_seconds": max(longest) if longest else None,
            "oldest_arrival": min(arrivals) if arrivals else None,
            "service_level": _round(day.service_level, 4),
            "offered": day.offered,
            "answered": day.answered,
            "abandoned": day.abandoned,
            "timed_out": day.timed_out,
            "lost": sum(q["lost"] for q in queues),
            "abandon_rate": _round(day.abandon_rate, 4),
            "asa_seconds": _round(day.asa_seconds, 1),
            "aht_seconds": _round(day.aht_seconds, 1),
            **_outcome_json(outcomes, summed.handled),
            **figures.computed(figures.Facts(
                summed, _idle_today(extras, list(day_totals), today), board_counts["logged_in"],
                outcomes)),
            "callbacks_waiting": sum(q["callbacks_waiting"] for q in queues),
            "agents": board_counts,
            "levels": _levels(values, self._thresholds),
        }


def _idle_today(
    extras: Mapping[tuple[str, int], Mapping[str, float]],
    queues: Sequence[str],
    today: Sequence[int],
) -> float:
    return sum(extras.get((q, s), {}).get("idle_seconds", 0.0) for q in queues for s in today)


def _outcome_totals(
    extras: Mapping[tuple[str, int], Mapping[str, float]],
    queues: Sequence[str],
    today: Sequence[int],
) -> dict[str, float]:
    return {
        name: sum(extras.get((q, s), {}).get(name, 0.0) for q in queues for s in today)
        for name in _OUTCOME_COUNTERS
    }


def _outcome_json(outcomes: Mapping[str, float], handled: float) -> JsonObject:
    """Resolution rate (resolved / handled), CSAT (4-5 scores / answers) and
    the callback and disposition counts behind them, today."""
    answers = outcomes["csat_answers"]
    return {
        "resolved": round(outcomes["resolved"]),
        "dispositioned": round(outcomes["dispositioned"]),
        "handled": round(handled),
        "csat_answers": round(answers),
        "callbacks_requested": round(outcomes["callback_requested"]),
        "callbacks_answered": round(outcomes["callback_answered"]),
        "callbacks_failed": round(outcomes["callback_failed"]),
    }


def _agent_counts(agents: Iterable[JsonObject]) -> dict[str, int]:
    counts = dict.fromkeys(
        (*AGENT_STATES[1:], "logged_in", "unreachable", "phone_busy", "pending"), 0
    )
    for a in agents:
        if a["state"] != "logged_out":
            counts["logged_in"] += 1
            counts[a["state"]] += 1
            counts["unreachable"] += not a["reachable"]
            counts["phone_busy"] += a["phone_busy"]
            counts["pending"] += bool(a["pending"])
    return counts


def _levels(values: Mapping[str, float | None], thresholds: Mapping[str, Threshold]) -> JsonObject:
    return {
        metric: level.value
        for metric, value in values.items()
        if (level := classify(value, thresholds.get(metric), metric)) is not None
    }


def _thresholds_json(thresholds: Mapping[str, Threshold]) -> JsonObject:
    return {
        name: {"amber": t.amber, "red": t.red, "higher_is_better": t.higher_is_better}
        for name, t in sorted(thresholds.items())
    }


def _sl_calls(c: metrics.IntervalCounters, variant: metrics.ServiceLevelVariant) -> float:
    if variant is metrics.ServiceLevelVariant.DEFAULT:
        return c.answered + (c.abandoned - c.short_abandoned) + c.timed_out
    if variant is metrics.ServiceLevelVariant.ANSWERED:
        return c.answered
    return c.offered


def dumps(snapshot: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN is refused so it can never reach a screen."""
    return json.dumps(snapshot, separators=(",", ":"), allow_nan=False).encode()
