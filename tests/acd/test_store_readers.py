"""The store's board readers (what the wallboard reads), over the real scripts."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from acd.core.agent_rules import Command
from acd.core.intervals import interval_start
from acd.core.models import AgentState
from acd.core.settings import AgentConfig, RedisConfig
from acd.store.store import Store

NOW = 1_800_000_000.0


def store_of(redis_client: aioredis.Redis, prefix: str) -> Store:
    return Store(redis_client, RedisConfig(key_prefix=prefix))


async def test_board_agents_gives_one_view_per_id_in_order(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = store_of(redis_client, key_prefix)
    await store.ensure_agents(
        [AgentConfig(id=a, name=f"Agent {a}", endpoint=f"PJSIP/{a}", queues={"q": 50})
         for a in ("a0", "a1")],
        NOW,
    )
    await store.set_reachable("a0", True, NOW)
    await store.agent_command("a0", Command.LOGIN, NOW + 5)

    views = await store.board_agents(["a1", "ghost", "a0"])

    assert [v.id for v in views] == ["a1", "ghost", "a0"]
    a1, ghost, a0 = views
    assert a0.state is AgentState.AVAILABLE and a0.reachable and a0.name == "Agent a0"
    assert a0.avail_since == NOW + 5  # in the available set since the login
    assert a1.state is AgentState.LOGGED_OUT and not a1.reachable  # never reported reachable
    assert ghost.state is AgentState.LOGGED_OUT  # no hash at all: shown logged out
    assert await store.board_agents([]) == []


async def test_queue_heads_count_vips_callbacks_and_name_the_longest_waiting(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = store_of(redis_client, key_prefix)
    await store.enqueue("c1", "q", arrival=NOW, priority=0, max_length=0, now=NOW,
                        fields={"owner": "x", "caller_name": "Ann"})
    await store.enqueue("vip", "q", arrival=NOW + 10, priority=5, max_length=0, now=NOW + 10,
                        fields={"owner": "x", "caller_id": "5550100"})
    await store.enqueue("cb", "q", arrival=NOW + 20, priority=0, max_length=0, now=NOW + 20,
                        fields={"owner": "x"})
    assert await store.callback_requested("cb", "x", "5550199", NOW + 30)

    heads = await store.queue_heads(["q", "empty"], NOW + 40)

    q = heads["q"]
    assert (q.waiting, q.vip_waiting, q.callbacks_waiting) == (3, 1, 1)
    # the longest wait is by arrival, although the VIP is served first
    assert (q.oldest_call, q.oldest_arrival) == ("c1", NOW)
    empty = heads["empty"]
    assert (empty.waiting, empty.oldest_call, empty.oldest_arrival) == (0, "", None)
    labels = await store.caller_labels(["c1", "vip", "cb", "gone"])
    assert labels == {"c1": "Ann", "vip": "5550100", "cb": "", "gone": ""}


async def test_interval_counters_many_reads_every_counter_and_zeros_for_none(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = store_of(redis_client, key_prefix)
    start = interval_start(NOW)
    await store.add_counters(
        "q", NOW, {"offered": 3, "handle_seconds": 12.5, "lost": 1, "idle_seconds": 40}, NOW
    )

    cells = await store.interval_counters_many([("q", start), ("q", start + 900), ("r", start)])

    counted = cells[("q", start)]
    assert counted.counters.offered == 3 and counted.counters.handle_seconds == 12.5
    assert counted.get("lost") == 1 and counted.get("idle_seconds") == 40
    assert counted.get("csat_answers") == 0
    for empty in (cells[("q", start + 900)], cells[("r", start)]):
        assert empty.counters.offered == 0 and empty.values == {}


@pytest.mark.parametrize("raw", ["nan", "inf", "x"])
async def test_an_unreadable_counter_reads_as_zero(
    redis_client: aioredis.Redis, key_prefix: str, raw: str
) -> None:
    store = store_of(redis_client, key_prefix)
    start = interval_start(NOW)
    await redis_client.hset(store.keys.stats("q", start), mapping={"lost": raw, "offered": "2"})
    record = (await store.interval_counters_many([("q", start)]))[("q", start)]
    assert record.get("lost") == 0 and record.get("offered") == 2


async def test_known_queues_and_agents(redis_client: aioredis.Redis, key_prefix: str) -> None:
    store = store_of(redis_client, key_prefix)
    await store.ensure_agents(
        [AgentConfig(id="b", name="B", endpoint="PJSIP/b", queues={"sales": 50})], NOW
    )
    await store.enqueue("c", "support", arrival=NOW, priority=0, max_length=0, now=NOW,
                        fields={"owner": "x"})
    await store.add_counters("billing", NOW, {"offered": 1}, NOW)
    assert await store.known_agent_ids() == ["b"]
    assert await store.known_queues() == ["billing", "support"]


async def test_event_page_reads_the_stream_in_pages_after_a_cursor(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = store_of(redis_client, key_prefix)
    await store.ensure_agents(
        [AgentConfig(id="a0", name="A", endpoint="PJSIP/a0", queues={"q": 50})], NOW
    )
    await store.set_reachable("a0", True, NOW)
    for i, command in enumerate((Command.LOGIN, Command.PAUSE, Command.UNPAUSE)):
        await store.agent_command("a0", command, NOW + i)
    first = await store.event_page("0-0", 2)
    assert len(first) == 2
    rest = await store.event_page(first[-1][0], 100, after=True)
    states = [f for _, f in first + rest if f.get("type") == "agent_state"]
    assert [(f["from"], f["to"]) for f in states] == [
        ("logged_out", "available"), ("available", "paused"), ("paused", "available")
    ]
    assert first[0][0] not in [entry_id for entry_id, _ in rest]
