"""Several ACD processes, restarts and lost connections: nothing is lost and
nothing is double-booked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from acd.core.models import AgentState
from acd.store.embedded import EmbeddedRedis
from tests.acd.center import Center, agent, build_center, eventually, queue
from tests.redis_reads import stream_entries


@pytest.fixture
async def centers() -> AsyncIterator[list[Center]]:
    made: list[Center] = []
    yield made
    for c in made:
        await c.close()


async def test_two_acd_instances_share_the_load_without_double_booking(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    agents = [agent(f"10{i:02d}") for i in range(10)]
    c = await build_center(redis_server.url, key_prefix, [queue()], agents,
                           talk_seconds=0.02, ring_delay=0.01)
    centers.append(c)
    first = await c.start_acd()
    second = await c.start_acd()
    await c.login(*(a.id for a in agents))
    calls = []
    for i in range(300):
        c.fake.agi_port = (first if i % 2 == 0 else second).agi.port
        calls.append(await c.fake.place_call(caller_id=f"555{i:04d}"))
    await asyncio.gather(*(call.wait_done(60) for call in calls))
    assert all(call.outcome == "answered" for call in calls)
    statuses = [status for call in calls for _, status in call.dial_attempts]
    assert "BUSY" not in statuses  # no agent was ever dialled while on a call
    assert statuses.count("ANSWER") == 300
    stats = await c.stats("support")
    assert stats["offered"] == 300 and stats["answered"] == 300
    # both processes owned calls, and offers crossed between them
    owners = {f["owner"] for f in await stream_entries(first.redis, c.store.keys.events)
              if f.get("type") == "contact"}
    assert owners == {first.service.instance_id, second.service.instance_id}


async def test_acd_restart_mid_call_loses_nothing(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    agents = [agent("1001"), agent("1002"), agent("1003")]
    c = await build_center(redis_server.url, key_prefix, [queue(wrap_up_seconds=1)], agents,
                           talk_seconds=0.1)
    centers.append(c)
    c.fake.agents["1001"].talk_seconds = 1.5
    old = await c.start_acd(lease=0.5)
    await c.login("1001", "1002", "1003")
    await c.acd.service.commands.pause("1002", "Lunch")
    talking = await c.fake.place_call(caller_id="talking")
    await eventually(lambda: _state(c, "1001", AgentState.ON_CALL), 5, "agent 1001 on call")
    short = await c.fake.place_call(caller_id="short")
    await eventually(lambda: _state(c, "1003", AgentState.WRAP_UP), 5, "agent 1003 wrap-up")
    waiting = await c.fake.place_call(caller_id="waiting")
    await eventually(lambda: _waiting(c, 1), 5, "a caller waiting")

    await old.stop(crash=True)  # the process dies: its sockets close, no clean-up
    await waiting.wait_done(5)
    assert waiting.outcome == "closed"  # the dialplan's fallback queue takes this caller
    c.acds.remove(old)

    new = await c.start_acd(lease=0.5)
    assert new.service.instance_id != old.service.instance_id
    # the paused agent stays paused with its reason; wrap-up still ends
    view = await new.service.store.agent("1002")
    assert view is not None
    assert view.state is AgentState.PAUSED and view.pause_reason == "Lunch"
    await eventually(lambda: _state(c, "1003", AgentState.AVAILABLE), 5, "wrap-up ended")
    # the dead process's waiting call is recorded as lost, not left waiting
    await eventually(lambda: _waiting(c, 0), 5, "lost call removed")
    records = [f for f in await stream_entries(new.redis, c.store.keys.events)
               if f.get("type") == "contact"]
    outcomes = {f["caller_id"]: f["outcome"] for f in records}
    assert outcomes.get("waiting") == "lost"
    assert outcomes.get("short") == "answered"
    # the agent whose call outlived the process is freed when the phone goes idle
    await eventually(lambda: _state(c, "1001", AgentState.AVAILABLE), 8, "orphan call ended")
    stats = await c.stats("support")
    assert stats["offered"] == 3 and stats["answered"] == 2
    again = await c.fake.place_call(caller_id="after-restart")
    await again.wait_done(10)
    assert again.outcome == "answered"
    del talking, short


async def _state(c: Center, agent_id: str, state: AgentState) -> bool:
    return await c.agent_state(agent_id) is state


async def _waiting(c: Center, n: int) -> bool:
    return await c.store.waiting_count("support") == n


async def test_ami_reconnect_resynchronises_presence(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()],
                           [agent("1001"), agent("1002")])
    centers.append(c)
    acd = await c.start_acd()
    await c.login("1001", "1002")
    assert acd.ami is not None
    dropped = c.fake.drop_ami_clients()
    assert dropped == 1
    await c.fake.unregister("1001")  # happens while the ACD is disconnected
    await eventually(lambda: _logins(acd.ami, 2), 5, "AMI re-login")
    await eventually(lambda: _unreachable(c, "1001"), 5, "presence resynchronised")
    call = await c.fake.place_call()
    await call.wait_done(10)
    assert call.dial_attempts == [("1002", "ANSWER")]
    assert acd.service.health()["ami"] == "up"


async def _logins(ami: object, n: int) -> bool:
    return getattr(ami, "logins", 0) >= n


async def _unreachable(c: Center, agent_id: str) -> bool:
    view = await c.store.agent(agent_id)
    return view is not None and not view.reachable


async def test_redis_restart_keeps_state_and_calls_flow_again(centers: list[Center]) -> None:
    server = EmbeddedRedis()
    server.start()
    try:
        prefix = f"r{uuid.uuid4().hex[:8]}:"
        c = await build_center(server.url, prefix, [queue()], [agent("1001"), agent("1002")])
        centers.append(c)
        await c.start_acd()
        await c.login("1001", "1002")
        await c.acd.service.commands.pause("1002", "Training")
        call = await c.fake.place_call()
        await call.wait_done(10)
        assert call.outcome == "answered"

        await asyncio.to_thread(server.stop)
        during = await c.fake.place_call(caller_id="during-outage")
        await during.wait_done(10)
        assert during.outcome in ("closed", "hung_up_by_acd")  # fallback queue takes it
        await asyncio.to_thread(server.start)

        view = await c.store.agent("1002")
        assert view is not None
        assert view.state is AgentState.PAUSED and view.pause_reason == "Training"
        assert (await c.stats("support"))["answered"] == 1
        after = await c.fake.place_call(caller_id="after")
        await after.wait_done(10)
        assert after.outcome == "answered"
    finally:
        server.cleanup()
