"""Writes Redis exactly as the ACD does (acd/store/keys.py), for wallboard tests and
the benchmark: agent and call hashes, waiting/arrivals zsets, interval counter
hashes with the wait histogram, and a message on ``changes`` after each change."""

from __future__ import annotations

import json
from collections.abc import Mapping

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from acd.core.intervals import interval_start, wait_bucket_field
from acd.store.keys import Keys


class AcdWriter:
    """A stand-in for the ACD's store writes (no routing: tests say what happens)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "acd:") -> None:
        self.redis = redis
        self.keys = Keys(prefix)

    async def publish(self, kind: str, *, queue: str = "", agent: str = "", at: float) -> None:
        message = {"kind": kind, "queue": queue, "agent": agent, "at": at}
        await self.redis.publish(self.keys.changes, json.dumps(message))

    async def set_agent(
        self,
        agent_id: str,
        state: str,
        *,
        at: float,
        name: str | None = None,
        pause_reason: str = "",
        queue: str = "",
        call_id: str = "",
        reachable: bool = True,
        publish: bool = True,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """``extra``: more agent hash fields (``phone_busy``, ``pending``, ...)."""
        fields: dict[FieldT, EncodableT] = {
            "id": agent_id,
            "state": state,
            "state_since": repr(at),
            "pause_reason": pause_reason,
            "queue": queue,
            "call_id": call_id,
            "reachable": "1" if reachable else "0",
        }
        if name is not None:
            fields["name"] = name
        fields.update(extra or {})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.keys.agents, agent_id)
            pipe.hset(self.keys.agent(agent_id), mapping=fields)
            await pipe.execute()
        if publish:
            await self.publish("agent", agent=agent_id, queue=queue, at=at)

    async def enqueue(
        self,
        call_id: str,
        queue: str,
        *,
        arrival: float,
        caller_name: str = "",
        caller_id: str = "",
        priority: int = 0,
        publish: bool = True,
    ) -> None:
        fields: dict[FieldT, EncodableT] = {
            "id": call_id,
            "queue": queue,
            "caller_id": caller_id,
            "caller_name": caller_name,
            "arrival": repr(arrival),
            "queue_arrival": repr(arrival),
            "priority": str(priority),
            "state": "waiting",
            "agent": "",
            "owner": "test",
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.call(call_id), mapping=fields)
            pipe.zadd(self.keys.waiting(queue), {call_id: arrival - priority * 1e6})
            pipe.zadd(self.keys.arrivals(queue), {call_id: arrival})
            pipe.sadd(self.keys.active_calls, call_id)
            pipe.sadd(self.keys.queues, queue)
            await pipe.execute()
        await self.count(queue, arrival, offered=1, publish=False)
        if publish:
            await self.publish("call", queue=queue, at=arrival)

    async def dequeue(self, call_id: str, queue: str, *, at: float, publish: bool = True) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.waiting(queue), call_id)
            pipe.zrem(self.keys.arrivals(queue), call_id)
            await pipe.execute()
        if publish:
            await self.publish("call", queue=queue, at=at)

    async def count(self, queue: str, at: float, *, publish: bool = True, **fields: float) -> None:
        """Add to the interval counters of the interval holding ``at``."""
        start = interval_start(at)
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, amount in fields.items():
                if isinstance(amount, int):
                    pipe.hincrby(self.keys.stats(queue, start), name, amount)
                else:
                    pipe.hincrbyfloat(self.keys.stats(queue, start), name, amount)
            pipe.zadd(self.keys.stats_index(queue), {str(start): start})
            pipe.sadd(self.keys.queues, queue)
            await pipe.execute()
        if publish:
            await self.publish("stats", queue=queue, at=at)

    async def answered(
        self, queue: str, at: float, *, wait: float, target: float = 120, publish: bool = True
    ) -> None:
        """Count one answered call with its wait (at = answer time)."""
        counts: dict[str, float] = {"answered": 1, "wait_seconds": float(wait)}
        if wait <= target:
            counts["answered_within_target"] = 1
        counts[wait_bucket_field(wait)] = 1
        await self.count(queue, at, publish=publish, **counts)

    async def handled(
        self, queue: str, at: float, *, talk: float, wrap: float, publish: bool = True
    ) -> None:
        await self.count(
            queue,
            at,
            publish=publish,
            handled=1,
            handle_seconds=float(talk + wrap),
            talk_seconds=float(talk),
            wrap_seconds=float(wrap),
        )

    async def abandoned(
        self,
        queue: str,
        at: float,
        *,
        wait: float,
        short_threshold: float = 5,
        publish: bool = True,
    ) -> None:
        counts: dict[str, float] = {"abandoned": 1, "abandon_wait_seconds": float(wait)}
        if wait < short_threshold:
            counts["short_abandoned"] = 1
        await self.count(queue, at, publish=publish, **counts)

    async def raw_counters(self, queue: str, start: int, values: Mapping[str, float]) -> None:
        await self.count(queue, start, publish=False, **dict(values))
