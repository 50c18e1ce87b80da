"""The Redis store: the authority for agents, waiting calls and statistics.

Reads are plain commands; every change runs one Lua script from
:mod:`acd.store.scripts` so it is atomic across ACD processes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from acd.core.agent_rules import Command, Status
from acd.core.errors import AcdError, CallActive, InvalidTransition, UnknownAgent, UnknownCall
from acd.core.metrics import IntervalCounters, parse_numbers
from acd.core.models import (
    AgentState,
    AgentView,
    CallState,
    CallView,
    Exit,
    Left,
    waiting_score,
)
from acd.core.routing import ring_end
from acd.core.settings import AgentConfig, RedisConfig
from acd.store import scripts as lua
from acd.store.keys import Keys


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Outcome of an agent command: done now or pending (after the call), and
    the agent's state after it."""

    status: Status
    state: AgentState


# Coded script errors ("ACD <code> <json>") -> the domain error and its message.
SCRIPT_ERRORS: dict[str, tuple[type[AcdError], str]] = {
    "unknown_agent": (UnknownAgent, "no agent {agent!r}"),
    "invalid_transition": (InvalidTransition, "agent {agent} cannot {action} while {state}"),
    "unknown_call": (UnknownCall, "no call {call!r}"),
    "not_yours": (InvalidTransition, "call {call} was not handled by agent {agent}"),
    "call_active": (CallActive, "call {call} is already live"),
}


def script_error(exc: ResponseError) -> AcdError | None:
    """The domain error a script reported, or None for any other Redis error."""
    text = str(exc)
    if not text.startswith("ACD "):
        return None
    code, _, payload = text[4:].partition(" ")
    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    cls, template = SCRIPT_ERRORS.get(code, (AcdError, code))
    try:
        message = template.format(**data)
    except (KeyError, IndexError, ValueError):
        message = f"{code} {payload}".strip()
    return cls(message, **{str(k): v for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class Heartbeat:
    reregistered: bool  # the instance was not registered: reaped, or Redis lost it
    generation: str  # "" when the marker is gone (Redis came back empty)


@dataclass(frozen=True, slots=True)
class LeaveResult:
    outcome: Left  # NONE when the call had already left
    wait: float


def _str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _strs(values: Any) -> list[str]:
    return [_str(v) for v in values]


def _map(raw: Any) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in raw.items()}


def _call_state(raw: object) -> CallState | None:
    try:
        return CallState(_str(raw)) if raw else None
    except ValueError:
        return None


_ROUTING_FIELDS = ("queue", "arrival", "queue_arrival", "priority", "state", "agent", "owner",
                   "tried", "kind", "not_before")


class Store:
    """Typed operations over the Redis layout of :mod:`acd.store.keys`."""

    def __init__(self, redis: aioredis.Redis, config: RedisConfig) -> None:
        self.redis = redis
        self.keys = Keys(config.key_prefix)
        self._retention = str(int(config.retention_days * 86400))
        self._maxlen = str(config.stream_max_len)
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(getattr(lua, name))
            for name in (
                "ENSURE_AGENT",
                "AGENT_COMMAND",
                "SET_REACHABLE",
                "ENQUEUE",
                "CLAIM_FIRST",
                "RING_MISSED",
                "ANSWERED",
                "AGENT_ANSWERED",
                "CALL_FINISHED",
                "WRAP_UP_EXPIRED",
                "LEAVE",
                "ORPHAN_ENDED",
                "SET_PHONE_BUSY",
                "EXPIRE_RESERVATIONS",
                "REAP_INSTANCE",
                "SET_DISPOSITION",
                "SURVEY",
                "CALLBACK_REQUESTED",
                "CALLBACK_RUNNING",
                "CALLBACK_FAILED",
                "PRUNE_WAITING",
                "REASSERT_RING",
                "ADD_COUNTERS",
            )
        }
        # Every script declares this key; all the others share its hash tag.
        self._anchor = [self.keys.agents]

    async def _run(self, script: str, now: float, *args: object) -> Any:
        argv = [self.keys.prefix, repr(float(now)), self._retention, self._maxlen]
        argv.extend(str(a) for a in args)
        try:
            return await self._scripts[script](keys=self._anchor, args=argv)
        except ResponseError as exc:
            error = script_error(exc)
            if error is None:
                raise
            raise error from None

    # ---- agents ------------------------------------------------------------

    async def ensure_agents(self, agents: Sequence[AgentConfig], now: float) -> None:
        for agent in agents:
            endpoint = agent.endpoint
            await self._run("ENSURE_AGENT", now, agent.id, agent.name, endpoint,
                            ",".join(agent.queues))

    async def agent_command(
        self, agent_id: str, action: Command, now: float, reason: str = "", by: str = ""
    ) -> CommandResult:
        status, state = await self._run(
            "AGENT_COMMAND", now, agent_id, Command(action).value, reason, by
        )
        return CommandResult(Status(_str(status)), AgentState(_str(state)))

    async def set_reachable(self, agent_id: str, reachable: bool, now: float) -> bool:
        return bool(await self._run("SET_REACHABLE", now, agent_id, "1" if reachable else "0"))

    async def set_phone_busy(self, agent_id: str, busy: bool, now: float) -> bool:
        """The agent's phone is (not) in use on a call the ACD did not make."""
        return bool(await self._run("SET_PHONE_BUSY", now, agent_id, "1" if busy else "0"))

    async def expire_reservations(self, now: float) -> list[str]:
        """Free ringing agents whose reservation lease ran out; returns them."""
        return _strs(await self._run("EXPIRE_RESERVATIONS", now) or [])

    async def agent(self, agent_id: str) -> AgentView | None:
        h = _map(await self.redis.hgetall(self.keys.agent(agent_id)))
        return AgentView.from_hash(agent_id, h) if h else None

    async def _hashes(
        self, ids: Sequence[str], key: Callable[[str], str]
    ) -> list[dict[str, str]]:
        """Whole hashes of many keys in one round trip, in ``ids`` order ({}: none)."""
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for one in ids:
                pipe.hgetall(key(one))
            hashes = await pipe.execute()
        return [_map(h) for h in hashes]

    async def agents(self, agent_ids: Sequence[str]) -> list[AgentView]:
        """The agents that have a hash, in ``agent_ids`` order."""
        hashes = await self._hashes(agent_ids, self.keys.agent)
        return [
            AgentView.from_hash(aid, h) for aid, h in zip(agent_ids, hashes, strict=True) if h
        ]

    async def available_agent_ids(self) -> list[str]:
        return _strs(await self.redis.zrange(self.keys.available, 0, -1))

    async def due_wrapups(self, now: float) -> list[str]:
        return _strs(await self.redis.zrangebyscore(self.keys.wrapups, "-inf", now))

    async def next_wrapup_end(self) -> float | None:
        """When the earliest running wrap-up ends (any process's), or None."""
        rows: Any = await self.redis.zrange(self.keys.wrapups, 0, 0, withscores=True)
        return float(rows[0][1]) if rows else None

    async def wrap_up_expired(self, agent_id: str, now: float) -> bool:
        return bool(await self._run("WRAP_UP_EXPIRED", now, agent_id))

    # ---- calls -------------------------------------------------------------

    async def enqueue(
        self,
        call_id: str,
        queue: str,
        *,
        arrival: float,
        priority: int,
        max_length: int,
        now: float,
        fields: Mapping[str, str],
        queue_arrival: float | None = None,
    ) -> int | None:
        """Put a call in a queue; returns its position, or None if the queue is
        full. Raises :class:`CallActive` if the call id is already live."""
        flat: list[str] = []
        for k, v in fields.items():
            flat.extend((k, v))
        flat.extend(("priority", str(priority)))
        status, position = await self._run(
            "ENQUEUE",
            now,
            call_id,
            queue,
            repr(waiting_score(priority, arrival)),
            repr(float(arrival)),
            max_length,
            repr(float(now if queue_arrival is None else queue_arrival)),
            *flat,
        )
        return int(position) if status == "ok" else None

    async def call_record(self, call_id: str) -> dict[str, str]:
        """Every field of a call's hash (for views that show more than
        :class:`CallView`: answer time, disposition, note, survey); {} when gone."""
        return _map(await self.redis.hgetall(self.keys.call(call_id)))

    async def call(self, call_id: str) -> CallView | None:
        h = _map(await self.redis.hgetall(self.keys.call(call_id)))
        return CallView.from_hash(call_id, h) if h else None

    async def waiting_heads(self, queue: str, count: int) -> list[CallView]:
        """The first ``count`` waiting calls, with only the fields routing needs."""
        ids = _strs(await self.redis.zrange(self.keys.waiting(queue), 0, count - 1))
        return await self._routing_views(ids)

    async def call_for_routing(self, call_id: str) -> CallView | None:
        views = await self._routing_views([call_id])
        return views[0] if views else None

    async def _routing_views(self, call_ids: Sequence[str]) -> list[CallView]:
        if not call_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in call_ids:
                pipe.hmget(self.keys.call(cid), *_ROUTING_FIELDS)
            rows = await pipe.execute()
        views = []
        for cid, row in zip(call_ids, rows, strict=True):
            h = {f: _str(v) for f, v in zip(_ROUTING_FIELDS, row, strict=True) if v is not None}
            if h:
                views.append(CallView.from_hash(cid, h))
        return views

    async def waiting_counts(self, queues: Sequence[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for q in queues:
                pipe.zcard(self.keys.waiting(q))
            counts = await pipe.execute()
        return {q: int(n) for q, n in zip(queues, counts, strict=True)}

    async def waiting_callbacks(self, queues: Sequence[str]) -> dict[str, int]:
        """Callbacks waiting for their turn, per queue."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for q in queues:
                pipe.scard(self.keys.waiting_callbacks(q))
            counts = await pipe.execute()
        return {q: int(n) for q, n in zip(queues, counts, strict=True)}

    async def agent_routing_state(self, agent_id: str) -> tuple[str, bool, str]:
        """(state, reachable, current call id) of one agent, in one round trip."""
        state, reachable, call_id = await self.redis.hmget(
            self.keys.agent(agent_id), "state", "reachable", "call_id"
        )
        return _str(state or ""), reachable in ("1", b"1"), _str(call_id or "")

    async def _calls(self, call_ids: Sequence[str]) -> list[CallView]:
        hashes = await self._hashes(call_ids, self.keys.call)
        return [CallView.from_hash(c, h) for c, h in zip(call_ids, hashes, strict=True) if h]

    async def waiting_count(self, queue: str) -> int:
        count: Any = await self.redis.zcard(self.keys.waiting(queue))
        return int(count)

    async def position(self, queue: str, call_id: str) -> int | None:
        rank: Any = await self.redis.zrank(self.keys.waiting(queue), call_id)
        return None if rank is None else int(rank) + 1

    async def claim(self, call_id: str, agent_id: str, now: float, lease: float = 60.0) -> bool:
        """Reserve this agent for this call if both are still free."""
        return await self.claim_first(call_id, [agent_id], now, lease) == agent_id

    async def claim_first(
        self, call_id: str, agent_ids: Sequence[str], now: float, lease: float = 60.0
    ) -> str:
        """Reserve the first still-available agent of ``agent_ids`` for the call,
        with a reservation lease of ``lease`` seconds (on Redis's clock)."""
        if not agent_ids:
            return ""
        lease_ms = max(1, int(lease * 1000))
        return _str(await self._run("CLAIM_FIRST", now, call_id, lease_ms, *agent_ids) or "")

    async def last_assigned(self, queue: str) -> str:
        """The agent this queue offered a call to last, by any ACD process."""
        value = await self.redis.get(self.keys.last_assigned(queue))
        return _str(value) if value is not None else ""

    async def available_with_idle(self, limit: int = 0) -> list[tuple[str, float]]:
        """Available, reachable agents with their idle-since time, longest idle
        first (the first ``limit`` of them when ``limit`` > 0)."""
        rows: Any = await self.redis.zrange(
            self.keys.available, 0, limit - 1 if limit > 0 else -1, withscores=True
        )
        return [(_str(member), float(score)) for member, score in rows]

    async def agent_counters(self, agent_ids: Sequence[str]) -> dict[str, tuple[int, float]]:
        """(calls, talk seconds) per agent, for the fewest-calls/least-talk strategies."""
        if not agent_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for aid in agent_ids:
                pipe.hmget(self.keys.agent(aid), "calls", "talk_seconds")
            rows = await pipe.execute()
        out: dict[str, tuple[int, float]] = {}
        for aid, (calls, talk) in zip(agent_ids, rows, strict=True):
            out[aid] = (int(float(calls or 0)), float(talk or 0))
        return out

    async def owned_call_states(
        self, instance_id: str
    ) -> list[tuple[str, CallState | None, str]]:
        """(call id, state, agent) for every call this process holds (state
        None: the call's hash is gone)."""
        ids = _strs(await self.redis.smembers(self.keys.owner_calls(instance_id)))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hmget(self.keys.call(cid), "state", "agent")
            rows = await pipe.execute()
        return [(cid, _call_state(st), _str(ag or ""))
                for cid, (st, ag) in zip(ids, rows, strict=True)]

    async def ring_missed(
        self, call: CallView, agent_id: str, status: str, auto_pause_after: int, now: float
    ) -> str:
        return str(
            await self._run(
                "RING_MISSED",
                now,
                call.id,
                agent_id,
                auto_pause_after,
                status,
                repr(waiting_score(call.priority, call.arrival)),
                ring_end(status).value,
            )
        )

    async def answered(
        self, call_id: str, agent_id: str, answered_at: float, target_seconds: int, now: float
    ) -> bool:
        """Record an answer at ``answered_at`` (reconstructed when AMI missed it)."""
        return bool(
            await self._run(
                "ANSWERED", now, call_id, agent_id, repr(float(answered_at)), target_seconds
            )
        )

    async def agent_answered(self, agent_id: str, call_id: str, now: float) -> bool:
        """The ringing agent picked up this call (from AMI): one script, no reads.

        A no-op unless the agent is ringing for exactly that call. The call's
        service-level target was stored with the call at enqueue.
        """
        return bool(await self._run("AGENT_ANSWERED", now, agent_id, call_id))

    async def call_finished(
        self, call_id: str, agent_id: str, wrap_seconds: int, now: float
    ) -> bool:
        return bool(await self._run("CALL_FINISHED", now, call_id, agent_id, wrap_seconds))

    async def leave(
        self, call_id: str, outcome: Exit, short_abandon_seconds: int, now: float
    ) -> LeaveResult:
        result, wait = await self._run(
            "LEAVE", now, call_id, Exit(outcome).value, short_abandon_seconds
        )
        return LeaveResult(Left(_str(result)), float(wait))

    async def reassert_ring(
        self, call_id: str, agent_id: str, *, lease: float, queue: str, arrival: float,
        queue_arrival: float, priority: int, owner: str, fields: Mapping[str, str],
        now: float,
    ) -> bool:
        """This process is dialling ``agent_id`` for ``call_id``: make Redis agree
        and renew the reservation lease; True when something was repaired."""
        flat: list[str] = []
        for k, v in fields.items():
            flat.extend((k, v))
        return bool(await self._run(
            "REASSERT_RING", now, call_id, agent_id, max(1, int(lease * 1000)), queue,
            repr(float(arrival)), repr(float(queue_arrival)), priority, owner, *flat,
        ))

    async def redis_uptime(self) -> float:
        """Seconds the Redis server has been running (its own clock)."""
        info: Any = await self.redis.info("server")
        return float(info.get("uptime_in_seconds", 0))

    async def prune_waiting(self, queue: str, now: float) -> int:
        """Drop waiting entries of calls that are not waiting; returns how many."""
        return int(await self._run("PRUNE_WAITING", now, queue))

    # ---- outcomes: dispositions, surveys, history ----------------------------

    async def set_disposition(
        self, call_id: str, agent_id: str, code: str, note: str, *, resolved: bool,
        end_wrap_up: bool, now: float, by: str = "",
    ) -> str:
        """Record the disposition of a call the agent handled; returns the
        agent's state after it (``wrap_up_ended`` when it ended the wrap-up).
        ``by``: the supervisor who recorded it, when not the agent."""
        _status, state = await self._run(
            "SET_DISPOSITION", now, call_id, agent_id, code, note,
            "1" if resolved else "0", "1" if end_wrap_up else "0", by,
        )
        return _str(state)

    async def survey(self, call_id: str, score: int, now: float) -> bool:
        return bool(await self._run("SURVEY", now, call_id, int(score)))

    async def caller_history(self, caller_id: str, limit: int = 10) -> list[dict[str, str]]:
        """The caller's last contacts, newest first (from the contact summaries)."""
        if not caller_id:
            return []
        ids = _strs(await self.redis.zrevrange(self.keys.history(caller_id), 0, limit - 1))
        return [row for row in await self._hashes(ids, self.keys.contact) if row]

    # ---- callbacks ---------------------------------------------------------

    async def callback_requested(self, call_id: str, owner: str, number: str,
                                 now: float) -> bool:
        return bool(await self._run("CALLBACK_REQUESTED", now, call_id, owner, number))

    async def callback_running(self, call_id: str, agent_id: str, instance: str,
                               lease: float, now: float) -> bool:
        return bool(await self._run("CALLBACK_RUNNING", now, call_id, agent_id, instance,
                                    max(1, int(lease * 1000))))

    async def callback_failed(
        self, call_id: str, agent_id: str, who: str, *, retry_seconds: int, attempts: int,
        auto_pause_after: int = 0, now: float,
    ) -> str:
        return str(await self._run("CALLBACK_FAILED", now, call_id, agent_id, who,
                                   retry_seconds, attempts, auto_pause_after))

    async def orphan_ended(self, call_id: str, agent_id: str, now: float) -> bool:
        return bool(await self._run("ORPHAN_ENDED", now, call_id, agent_id))

    # ---- instances ---------------------------------------------------------

    async def heartbeat(self, instance_id: str, lease: float, now: float) -> Heartbeat:
        """Renew this process's lease (a key with a TTL on Redis's clock) and
        read the generation marker, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.instance(instance_id), repr(now), px=max(1, int(lease * 1000)))
            pipe.sadd(self.keys.instances, instance_id)
            pipe.get(self.keys.generation)
            _, added, generation = await pipe.execute()
        return Heartbeat(reregistered=bool(added), generation=_str(generation or ""))

    async def claim_generation(self, candidate: str) -> str:
        """The installation's generation marker, written with ``candidate``
        when there is none (a new or emptied Redis)."""
        await self.redis.set(self.keys.generation, candidate, nx=True)
        return _str(await self.redis.get(self.keys.generation) or candidate)

    async def instance_ids(self) -> list[str]:
        return _strs(await self.redis.smembers(self.keys.instances))

    async def alive(self, instance_ids: Sequence[str]) -> dict[str, bool]:
        """Whether each instance's lease is still held."""
        if not instance_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for inst in instance_ids:
                pipe.exists(self.keys.instance(inst))
            rows = await pipe.execute()
        return {inst: bool(n) for inst, n in zip(instance_ids, rows, strict=True)}

    async def reap_instance(self, instance_id: str, now: float) -> list[str] | None:
        """Clean up after a dead instance (lease gone): None if it is alive,
        else the agents its callers were holding, now freed."""
        out = _strs(await self._run("REAP_INSTANCE", now, instance_id))
        return None if not out or out[0] == "alive" else out[1:]

    async def forget_instance(self, instance_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.instance(instance_id))
            pipe.srem(self.keys.instances, instance_id)
            await pipe.execute()

    async def _hash_rows(
        self, ids: Sequence[str], key: Callable[[str], str], fields: Sequence[str]
    ) -> dict[str, dict[str, str]]:
        if not ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for one in ids:
                pipe.hmget(key(one), *fields)
            rows = await pipe.execute()
        return {
            one: {f: _str(v) for f, v in zip(fields, row, strict=True) if v is not None}
            for one, row in zip(ids, rows, strict=True)
        }

    async def agent_rows(
        self, agent_ids: Sequence[str], *fields: str
    ) -> dict[str, dict[str, str]]:
        """Selected fields of many agents in one round trip."""
        return await self._hash_rows(agent_ids, self.keys.agent, fields)

    async def call_rows(
        self, call_ids: Sequence[str], *fields: str
    ) -> dict[str, dict[str, str]]:
        """Selected fields of many calls in one round trip (empty dict: no such call)."""
        return await self._hash_rows(call_ids, self.keys.call, fields)

    async def owned_calls(self, instance_id: str) -> list[CallView]:
        ids = _strs(await self.redis.smembers(self.keys.owner_calls(instance_id)))
        return await self._calls(sorted(ids))

    async def offer(self, owner: str, call_id: str) -> None:
        """Tell the process holding a call's socket that an agent was reserved."""
        await self.redis.publish(self.keys.offers(owner), call_id)

    async def publish_change(self, kind: str, queue: str = "", agent: str = "") -> None:
        msg = json.dumps({"kind": kind, "queue": queue, "agent": agent})
        await self.redis.publish(self.keys.changes, msg)

    async def add_counters(
        self, queue: str, at: float, values: Mapping[str, float], now: float
    ) -> None:
        """Add ``values`` to the counters of ``queue``'s interval holding ``at``
        (history brought in from elsewhere, or the demo's simulated morning)."""
        pairs: list[object] = []
        for name, amount in values.items():
            pairs.extend((name, repr(float(amount))))
        await self._run("ADD_COUNTERS", now, queue, repr(float(at)), *pairs)

    async def interval_counters(
        self, queue: str, starts: Sequence[int], fields: Sequence[str]
    ) -> list[list[str | None]]:
        """The named counters of ``queue`` in the intervals starting at
        ``starts`` (UTC epochs), in that order; None where never counted."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in starts:
                pipe.hmget(self.keys.stats(queue, int(start)), *fields)
            rows = await pipe.execute()
        return [[None if v is None else _str(v) for v in row] for row in rows]

    async def recent_handle(self, queue: str, since: float) -> tuple[float, int]:
        """(handle seconds, handled calls) for ``queue`` in intervals since ``since``."""
        epochs = _strs(
            await self.redis.zrangebyscore(self.keys.stats_index(queue), since - 900, "+inf")
        )
        total, n = 0.0, 0
        if not epochs:
            return total, n
        async with self.redis.pipeline(transaction=False) as pipe:
            for e in epochs:
                pipe.hmget(self.keys.stats(queue, int(e)), "handle_seconds", "handled")
            rows = await pipe.execute()
        for hs, hd in rows:
            total += float(hs or 0)
            n += int(float(hd or 0))
        return total, n

    # ---- board readers (the wallboard's view of the layout) ------------------

    async def known_queues(self) -> list[str]:
        """Every queue the ACD has counted or queued a call for, sorted."""
        return sorted(_strs(await self.redis.smembers(self.keys.queues)))

    async def known_agent_ids(self) -> list[str]:
        """Every agent the store knows, sorted."""
        return sorted(_strs(await self.redis.smembers(self.keys.agents)))

    async def board_agents(self, agent_ids: Sequence[str]) -> list[AgentView]:
        """One view per id, in that order, in one round trip; an agent with no
        hash yet is logged out (unlike :meth:`agents`, which skips it)."""
        hashes = await self._hashes(agent_ids, self.keys.agent)
        return [AgentView.from_hash(aid, h) for aid, h in zip(agent_ids, hashes, strict=True)]

    async def queue_heads(self, queues: Sequence[str], now: float) -> dict[str, QueueHead]:
        """Who waits in each queue now (count, VIPs, callbacks, the longest
        waiting caller), in one round trip."""
        if not queues:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for q in queues:
                pipe.zcard(self.keys.waiting(q))
                pipe.zcount(self.keys.waiting(q), "-inf", now - _VIP_SCORE_OFFSET)
                pipe.scard(self.keys.waiting_callbacks(q))
                pipe.zrange(self.keys.arrivals(q), 0, 0, withscores=True)
            rows = await pipe.execute()
        heads: dict[str, QueueHead] = {}
        for i, q in enumerate(queues):
            waiting, vip, callbacks, oldest = rows[4 * i:4 * i + 4]
            heads[q] = QueueHead(
                waiting=int(waiting),
                vip_waiting=int(vip),
                callbacks_waiting=int(callbacks),
                oldest_call=_str(oldest[0][0]) if oldest else "",
                oldest_arrival=float(oldest[0][1]) if oldest else None,
            )
        return heads

    async def interval_counters_many(
        self, cells: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], IntervalRecord]:
        """The counters of each (queue, interval start) in one round trip; an
        interval never counted reads as zeros."""
        if not cells:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for q, start in cells:
                pipe.hgetall(self.keys.stats(q, int(start)))
            hashes = await pipe.execute()
        return {
            cell: IntervalRecord.from_hash(_map(h))
            for cell, h in zip(cells, hashes, strict=True)
        }

    async def caller_labels(self, call_ids: Sequence[str]) -> dict[str, str]:
        """What a board shows for each caller: the name, else the number ("" when
        neither is known or the call is gone)."""
        rows = await self.call_rows(call_ids, "caller_name", "caller_id")
        return {
            cid: row.get("caller_name") or row.get("caller_id") or "" for cid, row in rows.items()
        }

    async def event_page(
        self, start: str, count: int, *, after: bool = False
    ) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` entries of the event stream from entry id ``start``
        (``after``: the entries following it), oldest first, as (id, fields)."""
        first = "(" + start if after else start
        rows: Any = await self.redis.xrange(self.keys.events, first, "+", count=count)
        return [(_str(entry_id), _map(fields)) for entry_id, fields in rows]


# A waiting-set score is arrival - priority * 1e6 (waiting_score): a score
# below now - 5e5 is a caller with priority > 0 (a VIP).
_VIP_SCORE_OFFSET = 5e5


@dataclass(frozen=True, slots=True)
class QueueHead:
    """Who waits in one queue now."""

    waiting: int
    vip_waiting: int  # priority above 0
    callbacks_waiting: int  # callers waiting to be called back
    oldest_call: str  # "" when nobody waits
    oldest_arrival: float | None  # arrival of the longest waiting caller


@dataclass(frozen=True, slots=True)
class IntervalRecord:
    """One ``stats`` hash: the counters :mod:`acd.core.metrics` computes with,
    and every numeric field by name (``lost``, ``idle_seconds`` and the
    outcome counters included); absent or unparsable fields are 0."""

    counters: IntervalCounters
    values: Mapping[str, float]

    def get(self, name: str) -> float:
        return self.values.get(name, 0.0)

    @classmethod
    def from_hash(cls, h: Mapping[str, str]) -> IntervalRecord:
        parsed = parse_numbers(h)
        finite = {k: v for k, v in parsed.items() if v not in (math.inf, -math.inf)}
        return cls(IntervalCounters.from_values(parsed), finite)
