"""The Redis store: atomic claims, transitions, counters, events (real Redis)."""

from __future__ import annotations

import asyncio
import random

import pytest
import redis.asyncio as aioredis

from acd.core.agent_rules import Command
from acd.core.errors import InvalidTransition, UnknownAgent
from acd.core.intervals import interval_start, wait_bucket_field
from acd.core.models import Exit
from acd.core.settings import AgentConfig, Config, QueueConfig, RedisConfig
from acd.dispatcher import Dispatcher
from acd.store.embedded import EmbeddedRedis
from acd.store.store import Store
from tests.redis_reads import hash_field, hash_of, stream_entries

NOW = 1_800_000_000.0


def agents(n: int) -> list[AgentConfig]:
    return [AgentConfig(id=f"a{i}", name=f"Agent {i}", endpoint=f"PJSIP/a{i}",
                        queues={"q": 50}) for i in range(n)]


async def ready_store(redis_client: aioredis.Redis, prefix: str, n_agents: int) -> Store:
    store = Store(redis_client, RedisConfig(key_prefix=prefix))
    await store.ensure_agents(agents(n_agents), NOW)
    for a in agents(n_agents):
        await store.set_reachable(a.id, True, NOW)
        await store.agent_command(a.id, Command.LOGIN, NOW)
    return store


async def test_no_agent_gets_two_calls_and_no_call_two_agents(
    redis_client: aioredis.Redis, redis_server: EmbeddedRedis, key_prefix: str
) -> None:
    store = await ready_store(redis_client, key_prefix, 10)
    for i in range(40):
        await store.enqueue(f"c{i}", "q", arrival=NOW + i, priority=0, max_length=0, now=NOW,
                            fields={"owner": "x"})
    # two clients (as two ACD processes) race every call against every agent
    other = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        store2 = Store(other, RedisConfig(key_prefix=key_prefix))
        pairs = [(s, c, a) for c in range(40) for a in range(10) for s in (store, store2)]
        random.Random(7).shuffle(pairs)
        results: list[bool] = []
        for start in range(0, len(pairs), 40):
            batch = pairs[start:start + 40]
            results += await asyncio.gather(
                *(s.claim(f"c{c}", f"a{a}", NOW) for s, c, a in batch)
            )
    finally:
        await other.aclose()
    assert sum(results) == 10
    owners: dict[str, str] = {}
    for c in range(40):
        call = await store.call(f"c{c}")
        assert call is not None
        if call.state.value == "ringing":
            assert call.agent not in owners.values()
            owners[call.id] = call.agent
    assert len(owners) == 10
    assert await store.waiting_count("q") == 30
    assert await store.available_agent_ids() == []


async def test_answer_finish_wrap_up_counts_once(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = await ready_store(redis_client, key_prefix, 1)
    await store.enqueue("c1", "q", arrival=NOW, priority=0, max_length=0, now=NOW,
                        fields={"owner": "x", "caller_id": "555"})
    assert await store.claim("c1", "a0", NOW + 1)
    assert await store.answered("c1", "a0", NOW + 30, 20, NOW + 30)
    assert not await store.answered("c1", "a0", NOW + 31, 20, NOW + 31)  # idempotent
    assert await store.call_finished("c1", "a0", 10, NOW + 90)
    agent = await store.agent("a0")
    assert agent is not None and agent.state.value == "wrap_up"
    assert await store.due_wrapups(NOW + 95) == []
    assert await store.due_wrapups(NOW + 100) == ["a0"]
    assert await store.wrap_up_expired("a0", NOW + 100)
    agent = await store.agent("a0")
    assert agent is not None and agent.state.value == "available" and agent.calls == 1
    stats = await hash_of(redis_client, store.keys.stats("q", interval_start(NOW)))
    assert float(stats["offered"]) == 1
    assert float(stats["answered"]) == 1
    assert "answered_within_target" not in stats  # waited 30 s > target 20 s
    assert float(stats["wait_seconds"]) == 30
    assert float(stats["talk_seconds"]) == 60
    assert float(stats["handle_seconds"]) == 70
    assert float(stats["handled"]) == 1
    assert float(stats["wait_le_30"]) == 1
    records = await stream_entries(redis_client, store.keys.events)
    contacts = [f for f in records if f["type"] == "contact"]
    assert len(contacts) == 1 and contacts[0]["caller_id"] == "555"
    assert contacts[0]["outcome"] == "answered"


async def test_missed_ring_keeps_place_and_auto_pauses(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = await ready_store(redis_client, key_prefix, 1)
    await store.enqueue("early", "q", arrival=NOW, priority=0, max_length=0, now=NOW,
                        fields={"owner": "x"})
    await store.enqueue("late", "q", arrival=NOW + 5, priority=0, max_length=0, now=NOW + 5,
                        fields={"owner": "x"})
    for attempt in range(2):
        assert await store.claim("early", "a0", NOW + 10 + attempt)
        call = await store.call("early")
        assert call is not None
        result = await store.ring_missed(call, "a0", "NOANSWER", 2, NOW + 20 + attempt)
        assert await store.position("q", "early") == 1  # back at the head
    assert result == "auto_paused"
    agent = await store.agent("a0")
    assert agent is not None and agent.state.value == "paused"
    assert "2 missed" in agent.pause_reason


async def test_abandon_short_abandon_and_full_queue(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = Store(redis_client, RedisConfig(key_prefix=key_prefix))
    await store.enqueue("c1", "q", arrival=NOW, priority=0, max_length=2, now=NOW, fields={})
    await store.enqueue("c2", "q", arrival=NOW, priority=0, max_length=2, now=NOW, fields={})
    assert await store.enqueue("c3", "q", arrival=NOW, priority=0, max_length=2, now=NOW,
                               fields={}) is None
    short = await store.leave("c1", Exit.ABANDONED, 5, NOW + 3)
    long = await store.leave("c2", Exit.ABANDONED, 5, NOW + 40)
    assert (short.outcome, long.outcome) == ("short_abandoned", "abandoned")
    assert (await store.leave("c2", Exit.ABANDONED, 5, NOW + 41)).outcome == "none"
    stats = await hash_of(redis_client, store.keys.stats("q", interval_start(NOW)))
    assert float(stats["offered"]) == 3  # the refused caller was offered too
    assert float(stats["timed_out"]) == 1
    assert float(stats["abandoned"]) == 2
    assert float(stats["short_abandoned"]) == 1
    assert await store.waiting_count("q") == 0


async def test_agent_commands_and_errors(redis_client: aioredis.Redis, key_prefix: str) -> None:
    store = await ready_store(redis_client, key_prefix, 1)
    with pytest.raises(UnknownAgent):
        await store.agent_command("nobody", Command.LOGIN, NOW)
    with pytest.raises(InvalidTransition):
        await store.agent_command("a0", Command.LOGIN, NOW)  # already logged in
    await store.agent_command("a0", Command.PAUSE, NOW, "Lunch <b>")
    agent = await store.agent("a0")
    assert agent is not None and agent.state.value == "paused"
    assert agent.pause_reason == "Lunch <b>"
    assert await store.available_agent_ids() == []
    await store.agent_command("a0", Command.UNPAUSE, NOW + 1)
    assert await store.available_agent_ids() == ["a0"]
    await store.set_reachable("a0", False, NOW + 2)
    assert await store.available_agent_ids() == []


async def test_round_robin_continues_across_acd_processes(
    redis_client: aioredis.Redis, redis_server: EmbeddedRedis, key_prefix: str
) -> None:
    """Two ACD processes share one rotation: each offer goes to the agent
    after the last one offered, whichever process made that offer."""
    store = await ready_store(redis_client, key_prefix, 3)
    config = Config(source="<test>", queues=(QueueConfig(name="q", strategy="round_robin"),),
                    agents=tuple(agents(3)))
    other = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        store2 = Store(other, RedisConfig(key_prefix=key_prefix))
        processes = [Dispatcher(s, config, f"acd{i}", lambda: NOW)
                     for i, s in enumerate((store, store2))]
        offered: list[str] = []
        for i in range(6):
            await store.enqueue(f"c{i}", "q", arrival=NOW + i, priority=0, max_length=0,
                                now=NOW, fields={"owner": "x"})
            assert await processes[i % 2].match_call(f"c{i}")
            call = await store.call(f"c{i}")
            assert call is not None
            offered.append(call.agent)
            # the ring is cancelled (not the agent's miss): everyone is free again
            await store.ring_missed(call, call.agent, "CANCEL", 0, NOW)
    finally:
        await other.aclose()
    assert offered == ["a0", "a1", "a2", "a0", "a1", "a2"]


async def test_waiting_callbacks_are_counted_per_queue_while_they_wait(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = await ready_store(redis_client, key_prefix, 1)
    for cid in ("cb", "caller"):
        await store.enqueue(cid, "q", arrival=NOW, priority=0, max_length=0, now=NOW,
                            fields={"owner": "x"})
    assert await store.callback_requested("cb", "x", "5550100", NOW)
    assert await store.waiting_callbacks(["q"]) == {"q": 1}
    assert await store.claim("cb", "a0", NOW + 1)  # its turn: no longer waiting
    assert await store.waiting_callbacks(["q"]) == {"q": 0}
    retry = await store.callback_failed("cb", "a0", "caller", retry_seconds=60, attempts=3,
                                        now=NOW + 30)
    assert retry == "retry" and await store.waiting_callbacks(["q"]) == {"q": 1}
    await store.leave("cb", Exit.ABANDONED, 5, NOW + 40)
    assert await store.waiting_callbacks(["q"]) == {"q": 0}
    assert await store.waiting_count("q") == 1  # the caller on the line is not one


async def test_available_idle_time_is_counted_per_interval_for_occupancy(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    start = interval_start(NOW)
    t0 = start + 800.0  # 100 s before the interval ends
    store = Store(redis_client, RedisConfig(key_prefix=key_prefix))
    await store.ensure_agents(agents(1), t0)
    await store.set_reachable("a0", True, t0)
    await store.agent_command("a0", Command.LOGIN, t0)
    await store.set_reachable("a0", False, t0 + 30)  # phone gone: not available time
    await store.set_reachable("a0", True, t0 + 50)
    await store.enqueue("c", "q", arrival=t0 + 200, priority=0, max_length=0, now=t0 + 200,
                        fields={"owner": "x"})
    assert await store.claim("c", "a0", t0 + 250)

    async def idle(interval: int) -> float:
        raw = await hash_field(redis_client, store.keys.stats("q", interval), "idle_seconds")
        return float(raw or 0)

    assert await idle(start) == pytest.approx(30 + 50)  # 800-830, 850-900
    assert await idle(start + 900) == pytest.approx(150)  # 900-1050


async def test_a_caller_refused_by_a_full_queue_counts_as_offered_and_timed_out(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = await ready_store(redis_client, key_prefix, 0)
    assert await store.enqueue("first", "q", arrival=NOW, priority=0, max_length=1, now=NOW,
                               fields={"owner": "x"}) == 1
    assert await store.enqueue("second", "q", arrival=NOW, priority=0, max_length=1, now=NOW,
                               fields={"owner": "x"}) is None
    stats = await hash_of(redis_client, store.keys.stats("q", interval_start(NOW)))
    assert float(stats["offered"]) == 2 and float(stats["timed_out"]) == 1


async def test_the_scripts_put_a_wait_in_the_same_bucket_as_python(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    """The wait histogram's buckets from both sides: the answer script and
    ``wait_bucket_field`` (used for imported or simulated history) agree."""
    store = await ready_store(redis_client, key_prefix, 1)
    waits = [0.0, 5.0, 5.25, 120.0, 120.5, 600.0, 3600.0, 3600.5, 90_000.0]
    for i, wait in enumerate(waits):
        start = interval_start(NOW) + 900 * 200 * i  # an interval of its own
        cid = f"w{i}"
        await store.enqueue(cid, "q", arrival=start, priority=0, max_length=0, now=start,
                            fields={"owner": "x"})
        assert await store.claim(cid, "a0", start + wait)
        await store.answered(cid, "a0", start + wait, 120, start + wait)
        counters = await hash_of(redis_client, store.keys.stats("q", interval_start(start)))
        buckets = [k for k in counters if k.startswith(("wait_le_", "wait_gt_"))]
        assert buckets == [wait_bucket_field(wait)], wait
        await store.call_finished(cid, "a0", 0, start + wait + 1)
        await store.wrap_up_expired("a0", start + wait + 1)


async def test_added_counters_land_in_their_interval_and_its_index(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = Store(redis_client, RedisConfig(key_prefix=key_prefix))
    await store.add_counters("q", NOW + 10, {"offered": 3, "handle_seconds": 12.5}, NOW)
    await store.add_counters("q", NOW + 20, {"offered": 1}, NOW)
    counters = await hash_of(redis_client, store.keys.stats("q", interval_start(NOW)))
    assert counters == {"offered": "4", "handle_seconds": "12.5"}
    rows = await store.interval_counters("q", [interval_start(NOW)], ["offered"])
    assert rows == [["4"]]
