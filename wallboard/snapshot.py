"""The wallboard snapshot: read the ACD's Redis state, compute, serialise.

One :class:`SnapshotBuilder` per app. It reads the board through the store's
readers (:class:`acd.store.store.Store`: the wallboard never builds a key or
parses a hash), computes the figures with :mod:`acd.core.metrics` and returns
the JSON contract of docs/contracts.md (plus what the page needs: service
level over the last 60 minutes, median wait, the per-interval series, the
variant shown, thresholds and levels).

Reading a 200-agent, 12-queue board whole is some 300 Redis commands. The
live stream (:meth:`SnapshotBuilder.build_live`) reads less: the hub tells the
builder of every change message (:meth:`SnapshotBuilder.note_change`), and a
live build re-reads what the changes since the last build name (the agents,
and the queues' callers and current intervals) and reuses the rest. Nothing
drifts: every agent and queue is re-read at least every ``refresh_seconds``
whatever the messages said, today's earlier intervals when a message's
``intervals`` names them (a late count, such as the talk time of a call that
arrived an hour ago, lands in its arrival's interval) and at least every
``closed_refresh_seconds``, and a message that names nothing, or a new
subscription, makes the next build read everything.
Clock-driven figures (longest wait, the rolling hour, ongoing idle time) are
computed from the clock on every build.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from acd.core import metrics
from acd.core.intervals import INTERVAL_SECONDS, interval_start
from acd.core.models import AgentState, AgentView
from acd.core.routing import expected_wait
from acd.core.settings import DEFAULT_THRESHOLDS, Config, QueueConfig, Threshold
from acd.store.store import IntervalRecord, QueueHead, Store
from wallboard import figures

AGENT_STATES: tuple[str, ...] = tuple(s.value for s in AgentState)

# Agents in these states will take the queue's next callers (for the
# expected wait of a new caller, as the ACD announces it).
_SERVING_STATES = frozenset({"available", "ringing", "on_call", "wrap_up"})
_DEFAULT_AHT = 180.0  # the ACD's assumption before any call was handled
# Interval counters the ACD may write that acd.core.metrics does not parse (yet):
# "lost" (callers the fallback queue took when an ACD process died) and
# "idle_seconds" (available time, for occupancy), and the outcome counters of
# dispositions, surveys and callbacks. Absent = 0.
_OUTCOME_COUNTERS = (
    "dispositioned", "resolved", "csat_answers", "csat_good",
    "callback_requested", "callback_answered", "callback_failed",
)
# An interval with fewer calls than this is a gap in the trend line, not a
# 0 % or 100 % spike.
MIN_TREND_CALLS = 3

# Live builds re-read every agent and queue head at least this often (seconds),
# whatever the change messages named.
REFRESH_SECONDS = 1.0
# Today's earlier intervals are re-read at least this often (on every build,
# the current and previous interval of each queue a change named).
CLOSED_REFRESH_SECONDS = 5.0
# Caller labels kept for the live board (a label never changes for a call).
_MAX_CALLER_LABELS = 10_000
# Agents and queues whose changes are counted before the counts start again.
_MAX_NAMES = 10_000
# How far back a message's ``intervals`` may reach (a call's arrival to its
# survey answer): older starts are read as this far back.
_LATE_COUNT_HORIZON = 86400

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


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class _Cached:
    """A value read from the store: at which change count, and until when
    (the builder's clock) it may be reused."""

    value: Any
    generation: int
    expires: float


@dataclass(frozen=True, slots=True)
class _Reading:
    """What one build read (or reused): agents in board order, the queues'
    callers, today's and the rolling hour's interval counters."""

    agents: list[AgentView]
    available: frozenset[str]  # agents in the available set now
    heads: dict[str, QueueHead]
    cells: dict[tuple[str, int], IntervalRecord]
    callers: dict[str, str]


_EMPTY_RECORD = IntervalRecord.from_hash({})


def _same_objects(a: Sequence[object], b: Sequence[object]) -> bool:
    """The same objects in the same order. A memo keeps the objects it was
    computed from, never their ``id()``: a freed object's id is soon another's."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


class SnapshotBuilder:
    """Builds snapshots for boards from the store. :meth:`build` reads the
    board whole (today's earlier intervals from a cache); :meth:`build_live`
    re-reads only what the change messages since the last build named (see
    the module's docstring for the rules that keep it exact)."""

    def __init__(
        self,
        config: Config,
        redis: aioredis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        variant: metrics.ServiceLevelVariant = metrics.ServiceLevelVariant.DEFAULT,
        refresh_seconds: float = REFRESH_SECONDS,
        closed_refresh_seconds: float = CLOSED_REFRESH_SECONDS,
    ) -> None:
        self._config = config
        self._store = Store(redis, config.redis)
        self._clock = clock
        self._variant = variant
        self._refresh = refresh_seconds
        self._closed_refresh = closed_refresh_seconds
        self._thresholds = effective_thresholds(config.wallboard.thresholds)
        base = dict(config.wallboard.thresholds or DEFAULT_THRESHOLDS)
        self._queue_thresholds = {
            name: effective_thresholds({**base, **settings.thresholds})
            for name, settings in config.wallboard.queue_display.items()
        }
        # Config.agent is a scan: once per agent per update was 40,000 compares.
        self._agents = {a.id: a for a in config.agents}
        # Change counts from the messages: a cached value read at an older
        # count is stale. ``_epoch`` counts "anything may have changed".
        self._epoch = 0
        self._agent_changes: dict[str, int] = {}
        self._queue_changes: dict[str, int] = {}
        # Earlier intervals a message said were counted in (a late count):
        # a cached cell read at an older count is stale.
        self._cell_changes: dict[tuple[str, int], int] = {}
        self._agent_cache: dict[str, _Cached] = {}
        self._head_cache: dict[str, _Cached] = {}
        self._cells: dict[tuple[str, int], _Cached] = {}
        self._caller_labels: dict[str, str] = {}
        # Expiry jitter: cached values read together expire apart, so the
        # re-reads spread over builds instead of landing on one.
        self._jitter = random.Random(0)
        # Sum of a queue's closed intervals today, keyed by the identity of the
        # cached counters it was summed from: summing ~96 intervals per queue on
        # every update was most of the build time on a 12-queue board.
        self._closed_sums: dict[
            str, tuple[tuple[IntervalRecord, ...], metrics.IntervalCounters, dict[str, float]]
        ] = {}
        self._series_memo: dict[
            str, tuple[int | None, tuple[metrics.IntervalCounters, ...], JsonObject]
        ] = {}
        self._thresholds_memo: dict[str, JsonObject] = {}
        # An agent's JSON while its view (the same object) and caller are unchanged.
        self._agent_json_memo: dict[str, tuple[AgentView, str, JsonObject]] = {}

    @property
    def store(self) -> Store:
        """The store the board is read through."""
        return self._store

    def sibling(self) -> SnapshotBuilder:
        """A builder with the same settings and caches of its own: for live
        builds told of changes by another subscription (the desk's hub)."""
        return SnapshotBuilder(
            self._config, self._store.redis, clock=self._clock, variant=self._variant,
            refresh_seconds=self._refresh, closed_refresh_seconds=self._closed_refresh,
        )

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

    # ---- what changed (told by the live hub) -----------------------------------

    def note_change(self, message: Mapping[str, object] | None) -> None:
        """One change message of the ACD (``kind``, ``queue``, ``agent``), or
        None when changes may have been missed: what it names is re-read by
        the next live build. A message naming neither a queue nor an agent
        means anything may have changed."""
        queue = str(message.get("queue") or "") if message is not None else ""
        agent = str(message.get("agent") or "") if message is not None else ""
        if not queue and not agent:
            self._epoch += 1
            return
        if len(self._queue_changes) + len(self._agent_changes) > _MAX_NAMES:
            # Names no board shows (messages are not checked against the
            # configuration): start the counts again, everything is news.
            self._queue_changes.clear()
            self._agent_changes.clear()
            self._epoch += 1
        if queue:
            self._queue_changes[queue] = self._queue_changes.get(queue, 0) + 1
        intervals = message.get("intervals") if message is not None else None
        if isinstance(intervals, Mapping):
            self._note_intervals(intervals)
        if agent:
            self._agent_changes[agent] = self._agent_changes.get(agent, 0) + 1
            # Leaving the available set adds idle time to each of its queues.
            configured = self._agents.get(agent)
            for q in configured.queues if configured else ():
                self._queue_changes[q] = self._queue_changes.get(q, 0) + 1

    def _note_intervals(self, intervals: Mapping[object, object]) -> None:
        """A message's ``intervals`` (queue -> the oldest interval start its
        counters changed in): each of the queue's intervals from there to now
        is read again by the next build, whether live or whole. The current
        and previous intervals go by the queue's change count (a script may
        count in a queue its message does not name); earlier ones by their own."""
        recent_from = interval_start(self._clock()) - INTERVAL_SECONDS
        for name, since in intervals.items():
            try:
                first = interval_start(float(since))  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                continue
            queue = str(name)
            self._queue_changes[queue] = self._queue_changes.get(queue, 0) + 1
            # A late count is hours old at most; a far-off start is noise.
            first = max(first, recent_from - _LATE_COUNT_HORIZON)
            for start in range(first, recent_from, INTERVAL_SECONDS):
                cell = (queue, start)
                self._cell_changes[cell] = self._cell_changes.get(cell, 0) + 1

    def _generation(self, counts: Mapping[str, int], name: str) -> int:
        # epoch in the high bits: a value read before an "everything" note is stale too
        return (self._epoch << 32) + counts.get(name, 0)

    def _fresh(self, cached: _Cached | None, generation: int, now: float) -> bool:
        return cached is not None and cached.generation == generation and now < cached.expires

    def _expiry(self, now: float, period: float) -> float:
        return now + period * (0.5 + 0.5 * self._jitter.random())

    # ---- reading ------------------------------------------------------------------

    async def _read(self, board: Board, now: float, *, live: bool) -> tuple[list[str], _Reading]:
        cfg = self._config
        store = self._store
        queue_names = list(board.queues)
        if not queue_names and not cfg.queues:
            # No queues configured: show whatever the ACD has seen.
            queue_names = await store.known_queues()
        if cfg.agents:
            wanted = set(queue_names)
            agent_ids = [a.id for a in cfg.agents if not a.queues or wanted & set(a.queues)]
        else:
            agent_ids = await store.known_agent_ids()

        # Agents and queue heads: a whole build reads them all; a live build
        # what changed or expired.
        agent_gens = {a: self._generation(self._agent_changes, a) for a in agent_ids}
        queue_gens = {q: self._generation(self._queue_changes, q) for q in queue_names}
        agents_to_read = [
            a for a in agent_ids
            if not live or not self._fresh(self._agent_cache.get(a), agent_gens[a], now)
        ]
        heads_to_read = [
            q for q in queue_names
            if not live or not self._fresh(self._head_cache.get(q), queue_gens[q], now)
        ]
        # Interval counters: today's and the rolling hour's. The current and
        # previous interval (where nearly every count lands) of a queue are
        # re-read on every whole build and after every change naming it;
        # earlier ones when they expire.
        today = metrics.today_interval_starts(now, cfg.wallboard.timezone)
        window = metrics.rolling_window_weights(now)
        starts = sorted(set(today) | {s for s, _ in window})
        recent_from = interval_start(now) - INTERVAL_SECONDS
        # An earlier interval is also read again after a message said it was
        # counted in (its own change count); it ignores the queue's count.
        cells_to_read: list[tuple[str, int]] = []
        cell_gens: dict[tuple[str, int], int] = {}
        for q in queue_names:
            generation = queue_gens[q]
            for s in starts:
                cell = (q, s)
                cached = self._cells.get(cell)
                if s >= recent_from:
                    cell_gens[cell] = generation
                    if not live or not self._fresh(cached, generation, now):
                        cells_to_read.append(cell)
                else:
                    cell_gens[cell] = self._cell_changes.get(cell, 0)
                    if not self._fresh(cached, cell_gens[cell], now):
                        cells_to_read.append(cell)

        agent_views, heads, available, records = await asyncio.gather(
            store.board_agents(agents_to_read),
            store.queue_heads(heads_to_read, now),
            store.available_agent_ids(),
            store.interval_counters_many(cells_to_read),
        )
        for i, view in enumerate(agent_views):
            previous = self._agent_cache.get(view.id)
            if previous is not None and previous.value == view:
                view = agent_views[i] = previous.value  # the same object: its JSON is reused
            self._agent_cache[view.id] = _Cached(
                view, agent_gens[view.id], self._expiry(now, self._refresh)
            )
        for q, head in heads.items():
            self._head_cache[q] = _Cached(head, queue_gens[q], self._expiry(now, self._refresh))
        for (q, s), record in records.items():
            period = self._closed_refresh if s < recent_from else self._refresh
            previous = self._cells.get((q, s))
            if previous is not None and previous.value == record:
                record = previous.value  # the same object: the day's sums stay memoised
            self._cells[(q, s)] = _Cached(record, cell_gens[(q, s)], self._expiry(now, period))
        self._prune(now)

        fresh_views = {v.id: v for v in agent_views}
        views = [fresh_views.get(a) or self._agent_cache[a].value for a in agent_ids]
        all_heads = {q: heads.get(q) or self._head_cache[q].value for q in queue_names}
        cells = {
            (q, s): self._cells[(q, s)].value for q in queue_names for s in starts
        }
        # The callers named on screen; a call's label never changes.
        call_ids = [h.oldest_call for h in all_heads.values() if h.oldest_call]
        call_ids += [v.call_id for v in views if v.call_id]
        unknown = [c for c in dict.fromkeys(call_ids) if c not in self._caller_labels]
        if unknown:
            labels = await store.caller_labels(unknown)
            if len(self._caller_labels) > _MAX_CALLER_LABELS:
                self._caller_labels.clear()
            # A label not known yet (a call being set up) is asked again.
            self._caller_labels.update({c: t for c, t in labels.items() if t})
            callers = {c: self._caller_labels.get(c) or labels.get(c, "") for c in call_ids}
        else:
            callers = {c: self._caller_labels[c] for c in call_ids}
        return queue_names, _Reading(views, frozenset(available), all_heads, cells, callers)

    def _prune(self, now: float) -> None:
        if len(self._cells) > 8192:
            horizon = now - 2 * 86400
            self._cells = {k: v for k, v in self._cells.items() if k[1] >= horizon}
        if len(self._cell_changes) > 8192:
            horizon = now - 2 * 86400
            self._cell_changes = {k: v for k, v in self._cell_changes.items() if k[1] >= horizon}

    # ---- building -----------------------------------------------------------------

    async def build(self, board: Board, last_change_at: float | None = None) -> JsonObject:
        """The snapshot of one board, read from the store now (today's earlier
        intervals from a cache that expires in ``closed_refresh_seconds``)."""
        now = self._clock()
        queue_names, reading = await self._read(board, now, live=False)
        return self._snapshot(board, now, last_change_at, queue_names, reading)

    async def build_live(self, board: Board, last_change_at: float | None = None) -> JsonObject:
        """The snapshot of one board for the live stream: what the change
        messages since the last build named is read again, the rest reused
        (each at most ``refresh_seconds`` old)."""
        now = self._clock()
        queue_names, reading = await self._read(board, now, live=True)
        return self._snapshot(board, now, last_change_at, queue_names, reading)

    def _snapshot(
        self,
        board: Board,
        now: float,
        last_change_at: float | None,
        queue_names: list[str],
        reading: _Reading,
    ) -> JsonObject:
        cfg = self._config
        timezone = cfg.wallboard.timezone
        today = metrics.today_interval_starts(now, timezone)
        window = metrics.rolling_window_weights(now)
        closed_before = interval_start(now) - INTERVAL_SECONDS
        counters = {cell: record.counters for cell, record in reading.cells.items()}
        heads = reading.heads
        callers = reading.callers
        oldest = {
            q: (h.oldest_call, h.oldest_arrival) if h.oldest_arrival is not None else None
            for q, h in heads.items()
        }
        idle_now = self._ongoing_idle(reading, now, metrics.local_day_start(now, timezone))

        agents = [self._agent_json(view, callers) for view in reading.agents]
        # Each queue's agents, found in one pass (an agent without queues serves all).
        members: dict[str, list[JsonObject]] = {q: [] for q in queue_names}
        for a in agents:
            for q in a["queues"] or queue_names:
                if q in members:
                    members[q].append(a)
        days = {q: self._day_total(q, today, reading.cells, closed_before) for q in queue_names}
        day_totals = {q: day[0] for q, day in days.items()}
        day_values = {q: day[1] for q, day in days.items()}
        queues = [
            self._queue_json(
                q, now, today, window, counters, day_values, heads[q].waiting, oldest[q],
                heads[q].vip_waiting, callers, members[q], day_totals[q],
                heads[q].callbacks_waiting, idle_now.get(q, 0.0),
            )
            for q in queue_names
        ]
        board_idle_now = sum(idle_now.get(q, 0.0) for q in queue_names)
        totals = self._totals_json(day_totals, queues, agents, day_values, board_idle_now)
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
        cells: Mapping[tuple[str, int], IntervalRecord],
        closed_before: int,
    ) -> tuple[metrics.IntervalCounters, dict[str, float]]:
        """Today's counters of ``queue`` summed, and its other counted values
        (lost, idle time, outcomes) summed by name."""
        closed = tuple(cells.get((queue, s), _EMPTY_RECORD) for s in today if s < closed_before)
        memo = self._closed_sums.get(queue)
        if memo is None or not _same_objects(memo[0], closed):
            memo = (closed, _total([c.counters for c in closed]), _sum_values(closed))
            self._closed_sums[queue] = memo
        open_ = [cells.get((queue, s), _EMPTY_RECORD) for s in today if s >= closed_before]
        values = dict(memo[2])
        for record in open_:
            for name, amount in record.values.items():
                values[name] = values.get(name, 0.0) + amount
        return _total([memo[1], *(c.counters for c in open_)]), values

    def _ongoing_idle(self, reading: _Reading, now: float, day_start: float) -> dict[str, float]:
        """Idle time of the stretches running now (agents in the available set
        since ``avail_since``), per queue as the counters will count it when
        they end: each of the agent's queues, from local midnight at most."""
        idle: dict[str, float] = {}
        for view in reading.agents:
            if view.id not in reading.available or not view.avail_since:
                continue
            seconds = now - max(view.avail_since, day_start)
            configured = self._agents.get(view.id)
            if seconds <= 0 or configured is None:
                continue
            for q in configured.queues:
                idle[q] = idle.get(q, 0.0) + seconds
        return idle

    def _agent_json(self, view: AgentView, callers: Mapping[str, str]) -> JsonObject:
        caller = callers.get(view.call_id, "") if view.call_id else ""
        memo = self._agent_json_memo.get(view.id)
        if memo is not None and memo[0] is view and memo[1] == caller:
            return memo[2]
        configured = self._agents.get(view.id)
        name = view.name if view.name and view.name != view.id else ""
        state = view.state
        result: JsonObject = {
            "id": view.id,
            "name": name or (configured.name if configured else view.id),
            "state": state.value,
            "state_since": view.state_since or None,
            "pause_reason": view.pause_reason if state is AgentState.PAUSED else "",
            "queues": sorted(configured.queues) if configured else [],
            "current_queue": view.queue,
            "caller": caller,
            "reachable": view.reachable,
            # In use on a call the ACD did not make (device state INUSE/BUSY/...).
            "phone_busy": view.phone_busy,
            "pending": view.pending,
            "pending_reason": view.pending_reason,
            "calls": view.calls,
        }
        self._agent_json_memo[view.id] = (view, caller, result)
        return result

    def _queue_json(
        self,
        name: str,
        now: float,
        today: Sequence[int],
        window: Sequence[tuple[int, float]],
        counters: Mapping[tuple[str, int], metrics.IntervalCounters],
        day_values: Mapping[str, Mapping[str, float]],
        waiting: int,
        oldest: tuple[str, float] | None,
        vip_waiting: int,
        callers: Mapping[str, str],
        agents: Sequence[JsonObject],
        day_total: metrics.IntervalCounters,
        callbacks_waiting: int = 0,
        idle_now: float = 0.0,
    ) -> JsonObject:
        qc = self._config.queue(name) or QueueConfig(name=name)
        settings = self._config.wallboard.queue_display.get(name)
        thresholds = self.queue_thresholds(name)
        lost = day_values[name].get("lost", 0.0)
        # counted idle time, and the stretches running now
        idle = _idle_today(day_values, [name]) + idle_now
        outcomes = _outcome_totals(day_values, [name])
        per_interval = {s: counters.get((name, s), metrics.EMPTY) for s in today}
        day = metrics.figures(day_total, self._variant)
        hour_counters = _total(
            [counters.get((name, s), metrics.EMPTY) for s, _ in window], [w for _, w in window]
        )
        hour = metrics.service_level(hour_counters, self._variant)
        oldest_arrival = oldest[1] if oldest else None
        longest = metrics.longest_wait_seconds(oldest_arrival, now)

        # agents: the queue's own
        counts = _agent_counts(agents)
        serving = sum(
            1
            for a in agents
            if a["state"] in _SERVING_STATES
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
            "thresholds": self._thresholds_json_of(name, thresholds),
            "series": self._series(name, today, per_interval),
        }

    def _series(
        self, queue: str, today: Sequence[int], per_interval: Mapping[int, metrics.IntervalCounters]
    ) -> JsonObject:
        """The day's per-interval trend; recomputed only when one of the
        intervals' counters is a new reading (most updates change none)."""
        first = today[0] if today else None
        counters = tuple(per_interval.values())
        memo = self._series_memo.get(queue)
        if memo is not None and memo[0] == first and _same_objects(memo[1], counters):
            return memo[2]
        series: JsonObject = {
            "start": today[0] if today else None,
            "step": INTERVAL_SECONDS,
            "service_level": [
                _round(metrics.service_level(c, self._variant), 4) for c in per_interval.values()
            ],
            "offered": [round(c.offered) for c in per_interval.values()],
            # the service level's denominator: few calls -> a gap, not a spike
            "calls": [round(_sl_calls(c, self._variant)) for c in per_interval.values()],
        }
        self._series_memo[queue] = (first, counters, series)
        return series

    def _thresholds_json_of(self, queue: str, thresholds: Mapping[str, Threshold]) -> JsonObject:
        cached = self._thresholds_memo.get(queue)
        if cached is None:
            cached = self._thresholds_memo[queue] = _thresholds_json(thresholds)
        return cached

    def _totals_json(
        self,
        day_totals: Mapping[str, metrics.IntervalCounters],
        queues: Sequence[JsonObject],
        agents: Sequence[JsonObject],
        day_values: Mapping[str, Mapping[str, float]],
        idle_now: float = 0.0,
    ) -> JsonObject:
        """The whole board: counters summed over its queues, agents counted once."""
        summed = _total(list(day_totals.values()))
        day = metrics.figures(summed, self._variant)
        outcomes = _outcome_totals(day_values, list(day_totals))
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
                summed, _idle_today(day_values, list(day_totals)) + idle_now,
                board_counts["logged_in"],
                outcomes)),
            "callbacks_waiting": sum(q["callbacks_waiting"] for q in queues),
            "agents": board_counts,
            "levels": _levels(values, self._thresholds),
        }


_COUNTER_FIELDS = tuple(
    f.name for f in dataclasses.fields(metrics.IntervalCounters) if f.name != "wait_histogram"
)


def _total(
    counters: Sequence[metrics.IntervalCounters], weights: Sequence[float] | None = None
) -> metrics.IntervalCounters:
    """:func:`metrics.total` (with weights: :func:`metrics.window_total`) in
    one pass: the same sums in the same order, one object made instead of one
    per term (adding counters pairwise was half the build of a 12-queue board)."""
    if not counters:
        return metrics.EMPTY
    if weights is None:
        sums = {name: sum(getattr(c, name) for c in counters) for name in _COUNTER_FIELDS}
        histogram = tuple(map(sum, zip(*(c.wait_histogram for c in counters), strict=True)))
        return metrics.IntervalCounters(**sums, wait_histogram=histogram)
    terms = list(zip(counters, weights, strict=True))
    sums = {
        name: sum(getattr(c, name) * w if w != 1.0 else getattr(c, name) for c, w in terms)
        for name in _COUNTER_FIELDS
    }
    rows = [c.wait_histogram if w == 1.0 else tuple(v * w for v in c.wait_histogram)
            for c, w in terms]
    histogram = tuple(map(sum, zip(*rows, strict=True)))
    return metrics.IntervalCounters(**sums, wait_histogram=histogram)


def _sum_values(records: Iterable[IntervalRecord]) -> dict[str, float]:
    summed: dict[str, float] = {}
    for record in records:
        for name, amount in record.values.items():
            summed[name] = summed.get(name, 0.0) + amount
    return summed


def _idle_today(day_values: Mapping[str, Mapping[str, float]], queues: Sequence[str]) -> float:
    return sum(day_values[q].get("idle_seconds", 0.0) for q in queues)


def _outcome_totals(
    day_values: Mapping[str, Mapping[str, float]], queues: Sequence[str]
) -> dict[str, float]:
    return {
        name: sum(day_values[q].get(name, 0.0) for q in queues) for name in _OUTCOME_COUNTERS
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
