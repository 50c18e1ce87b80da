"""Faults a contact center meets, with real parts: a real redis-server killed
with SIGKILL (and restarted, or restarted empty), the fake Asterisk over real
sockets, the real ACD service. Each test asserts what callers and agents
notice: nobody stuck, nobody dialled while busy, counters equal to what
happened."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping

import pytest

from acd.core.models import AgentState
from acd.store.embedded import EmbeddedRedis
from tests.acd.center import Acd, Center, agent, build_center, eventually, queue
from tests.redis_reads import stream_entries

STUCK_STATES = (AgentState.RINGING, AgentState.ON_CALL)


@pytest.fixture
async def centers() -> AsyncIterator[list[Center]]:
    made: list[Center] = []
    yield made
    for c in made:
        await c.close()


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def _prefix() -> str:
    return f"h{uuid.uuid4().hex[:8]}:"


async def _states(c: Center, *agent_ids: str) -> list[AgentState]:
    return [await c.agent_state(a) for a in agent_ids]


async def _all_in(c: Center, states: tuple[AgentState, ...], *agent_ids: str) -> bool:
    return all(s in states for s in await _states(c, *agent_ids))


async def test_redis_killed_mid_call_and_back_strands_nobody_and_loses_no_conversation(
    private_redis: EmbeddedRedis, centers: list[Center], caplog: pytest.LogCaptureFixture
) -> None:
    agents = [agent("1001"), agent("1002"), agent("1003")]
    c = await build_center(private_redis.url, _prefix(), [queue()], agents, talk_seconds=0.8,
                           ring_delay=0.05)
    c.fake.after_call_linger = 0.1
    centers.append(c)
    await c.start_acd()
    await c.login("1001", "1002", "1003")
    calls = [await c.fake.place_call(caller_id=f"caller{i}") for i in range(5)]
    await eventually(lambda: _all_in(c, (AgentState.ON_CALL,), "1001", "1002", "1003"), 5,
                     "three conversations")
    await eventually(lambda: _waiting_is(c, 2), 5, "two callers on hold")
    talking = [call for call in calls if call.bridged]
    waiting = [call for call in calls if not call.bridged]
    assert len(talking) == 3

    caplog.set_level(logging.INFO)
    private_redis.kill()  # SIGKILL: no goodbye
    # The conversations end while Redis is down; their callers hang up.
    await asyncio.gather(*(call.wait_done(10) for call in talking))
    assert all(call.outcome == "answered" for call in talking)
    # The two callers on hold are still on hold (music), not dropped.
    assert not any(call.done for call in waiting)
    await asyncio.to_thread(private_redis.start)

    await asyncio.gather(*(call.wait_done(15) for call in waiting))
    assert [call.outcome for call in waiting] == ["answered", "answered"]
    assert not any(call.fell_back for call in waiting)
    await eventually(lambda: _all_in(c, (AgentState.AVAILABLE,), "1001", "1002", "1003"), 10,
                     "every agent available again")
    await eventually(lambda: _handled_is(c, 5), 10, "every conversation counted")
    stats = await c.stats("support")
    assert stats["offered"] == 5 and stats["answered"] == 5
    assert stats.get("abandoned", 0) == 0 and stats.get("lost", 0) == 0
    assert sum(a.double_dials for a in c.fake.agents.values()) == 0
    # One counted line per kind of failure, never a traceback per call.
    outage = [r for r in caplog.records if r.name == "acd.degraded"]
    assert 1 <= sum("unavailable (" in r.getMessage() for r in outage) <= 2
    assert any("back after" in r.getMessage() for r in outage)
    assert not [r for r in caplog.records if r.exc_info and "redis" in repr(r.exc_info[1]).lower()]


async def _waiting_is(c: Center, n: int) -> bool:
    return await c.store.waiting_count("support") == n


async def _handled_is(c: Center, n: int) -> bool:
    return (await c.stats("support")).get("handled", 0) == n


async def test_redis_back_empty_is_detected_agents_recreated_and_callers_requeued(
    private_redis: EmbeddedRedis, centers: list[Center], caplog: pytest.LogCaptureFixture
) -> None:
    c = await build_center(private_redis.url, _prefix(), [queue()], [agent("1001")])
    centers.append(c)
    acd = await c.start_acd()
    await c.login("1001")
    await acd.service.commands.pause("1001", "Lunch")
    holding = await c.fake.place_call(caller_id="holding")
    await eventually(lambda: _waiting_is(c, 1), 5, "a caller on hold")

    caplog.set_level(logging.INFO)
    private_redis.kill()
    private_redis.wipe()  # no persistence, a promoted empty replica, a restore...
    await asyncio.to_thread(private_redis.start)

    await eventually(lambda: _reset_noticed(acd.service.health()), 10, "reset in /healthz")
    # the configured agent exists again (logged out), the live caller is queued again
    view = await c.store.agent("1001")
    assert view is not None and view.state is AgentState.LOGGED_OUT
    await eventually(lambda: _waiting_is(c, 1), 5, "the caller queued again")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "EMPTY" in r.getMessage()]
    assert len(errors) == 1
    await c.login("1001")
    await holding.wait_done(10)
    assert holding.outcome == "answered" and not holding.fell_back


async def _reset_noticed(health: Mapping[str, str]) -> bool:
    return "redis_reset" in health


async def test_a_failing_handler_leaves_no_phantom_call(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()], [agent("1001")])
    centers.append(c)
    await c.start_acd()
    # Asterisk refuses the hold music (510): the handler fails with an AGI error.
    c.fake.broken_commands["SET MUSIC"] = b"510 Invalid or unknown command\n"
    call = await c.fake.place_call(caller_id="unlucky", patience=5)
    await call.wait_done(10)
    assert call.fell_back  # the dialplan's fallback queue took the caller
    assert await c.store.waiting_count("support") == 0
    stats = await c.stats("support")
    assert stats["offered"] == 1 and stats["lost"] == 1
    # nothing is left for an agent to be reserved for
    c.fake.broken_commands.clear()
    await c.login("1001")
    assert await c.agent_state("1001") is AgentState.AVAILABLE
    after = await c.fake.place_call(caller_id="next")
    await after.wait_done(10)
    assert after.outcome == "answered" and after.dial_attempts == [("1001", "ANSWER")]


async def test_silent_asterisk_during_dial_frees_the_agent(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue(ring_timeout_seconds=1)],
                           [agent("1001")])
    centers.append(c)
    acd = await c.start_acd()
    acd.service.flow.dial_margin = 0.3
    await c.login("1001")
    c.fake.hang_on_dial.add("1001")  # Asterisk never answers the EXEC Dial
    hung = await c.fake.place_call(caller_id="partitioned")
    await eventually(lambda: _is_hung(hung), 5, "the Dial to hang")
    await eventually(lambda: _all_in(c, (AgentState.AVAILABLE,), "1001"), 5, "agent freed")
    view = await c.store.agent("1001")
    assert view is not None and view.missed == 0  # the network's fault, not the agent's
    c.fake.hang_on_dial.clear()
    after = await c.fake.place_call(caller_id="after")
    await after.wait_done(10)
    assert after.dial_attempts == [("1001", "ANSWER")]


async def _is_hung(call: object) -> bool:
    return bool(getattr(call, "hung", False))


async def test_caller_leaving_during_ring_keeps_a_pending_logout_and_is_no_miss(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix,
                           [queue(ring_timeout_seconds=10, auto_pause_after_misses=1)],
                           [agent("1001")], ring_delay=30)
    centers.append(c)
    acd = await c.start_acd()
    await c.login("1001")
    call = await c.fake.place_call()
    await eventually(lambda: _rang(c, "1001", 1), 5, "the phone ringing")
    await acd.service.commands.logout("1001")  # pending: the phone is ringing
    await call.hangup()
    await call.wait_done(5)
    assert call.dial_attempts == [("1001", "CANCEL")]
    await eventually(lambda: _all_in(c, (AgentState.LOGGED_OUT,), "1001"), 5, "logged out")
    view = await c.store.agent("1001")
    assert view is not None and view.missed == 0
    assert (await c.stats("support"))["abandoned"] == 1


async def _rang(c: Center, endpoint: str, n: int) -> bool:
    return c.fake.agents[endpoint].rings >= n


async def test_impatient_callers_never_auto_pause_the_agent(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    # The repro: ring 1.5 s, callers give up after 0.5 s, two misses pause.
    c = await build_center(redis_server.url, key_prefix,
                           [queue(ring_timeout_seconds=5, auto_pause_after_misses=2)],
                           [agent("1001")], ring_delay=1.5)
    centers.append(c)
    await c.start_acd()
    await c.login("1001")
    for i in range(3):
        call = await c.fake.place_call(caller_id=f"impatient{i}", patience=0.5)
        await call.wait_done(5)
        assert call.dial_attempts == [("1001", "CANCEL")], f"caller {i} was not rung"
    await eventually(lambda: _all_in(c, (AgentState.AVAILABLE,), "1001"), 5, "available")
    view = await c.store.agent("1001")
    assert view is not None and view.missed == 0
    patient = await c.fake.place_call(caller_id="patient")
    await patient.wait_done(10)
    assert patient.outcome == "answered"


async def test_phone_busy_on_a_call_the_acd_did_not_make_is_not_offered(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue(auto_pause_after_misses=1)],
                           [agent("1001"), agent("1002")])
    centers.append(c)
    acd = await c.start_acd()
    await c.login("1001")  # longest idle: first choice
    await c.login("1002")
    await c.fake.start_private_call("1001")  # 1001 calls a colleague
    await eventually(lambda: _phone_busy(c, "1001"), 5, "device INUSE seen")
    first = await c.fake.place_call(caller_id="first")
    await first.wait_done(10)
    assert first.dial_attempts == [("1002", "ANSWER")]
    await acd.service.commands.pause("1002", "Break")
    second = await c.fake.place_call(caller_id="second")
    await eventually(lambda: _waiting_is(c, 1), 5, "second caller waits")
    assert second.dial_attempts == []  # not dialled into a busy phone
    await c.fake.end_private_call("1001")
    await second.wait_done(10)
    assert second.dial_attempts == [("1001", "ANSWER")]
    view = await c.store.agent("1001")
    assert view is not None and view.missed == 0 and view.state is not AgentState.PAUSED


async def _phone_busy(c: Center, agent_id: str) -> bool:
    rows = await c.store.agent_rows([agent_id], "phone_busy")
    return rows[agent_id].get("phone_busy") == "1"


async def test_stopped_acd_mid_conversation_never_sends_the_caller_to_a_second_agent(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()],
                           [agent("1001"), agent("1002")], talk_seconds=30)
    c.fake.after_call_linger = 0.1
    centers.append(c)
    old = await c.start_acd(lease=0.5)
    await c.login("1001")
    talking = await c.fake.place_call(caller_id="talking")
    await eventually(lambda: _all_in(c, (AgentState.ON_CALL,), "1001"), 5, "on call")
    await c.login("1002")
    await old.stop()  # a deploy: SIGTERM while a conversation goes on
    c.acds.remove(old)
    new = await c.start_acd(lease=0.5)
    await c.fake.agent_hangup("1001")  # the conversation ends after the ACD went
    await talking.wait_done(10)
    # DIALSTATUS=ANSWER: the dialplan hangs up; the fallback queue never sees it
    assert not talking.fell_back and talking.fallback_agent is None
    assert c.fake.agents["1002"].fallback_calls == 0
    await eventually(lambda: _all_in(c, (AgentState.AVAILABLE,), "1001", "1002"), 10,
                     "the agent freed from device states")
    await eventually(lambda: _handled_is(c, 1), 5, "the conversation counted")
    stats = await c.stats("support")
    assert stats["offered"] == 1 and stats["answered"] == 1
    del new


async def test_asterisk_restart_resync_waits_for_fully_booted(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()],
                           [agent("1001"), agent("1002")])
    centers.append(c)
    acd = await c.start_acd()
    assert acd.ami is not None
    await c.fake.restart()  # `core restart now`: AMI back before the modules
    await c.fake.unregister("1001")  # meanwhile the phone is gone
    await eventually(lambda: _logins(acd.ami, 2), 5, "AMI re-login")
    view = await c.store.agent("1001")
    assert view is not None and view.reachable  # not yet known: DeviceStateList refused
    c.fake.boot()
    await eventually(lambda: _unreachable(c, "1001"), 5, "presence repaired after boot")


async def _logins(ami: object, n: int) -> bool:
    return getattr(ami, "logins", 0) >= n


async def _unreachable(c: Center, agent_id: str) -> bool:
    view = await c.store.agent(agent_id)
    return view is not None and not view.reachable


async def test_duplicate_uniqueid_orphans_nobody(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()],
                           [agent("1001"), agent("1002")], talk_seconds=0.3)
    centers.append(c)
    await c.start_acd()
    await c.login("1001", "1002")
    one = await c.fake.place_call(caller_id="one", uniqueid="1700000000.42")
    two = await c.fake.place_call(caller_id="two", uniqueid="1700000000.42")
    await asyncio.gather(one.wait_done(10), two.wait_done(10))
    assert one.outcome == two.outcome == "answered"
    stats = await c.stats("support")
    assert stats["offered"] == 2 and stats["answered"] == 2


async def test_a_redis_outage_longer_than_the_lease_reaps_no_healthy_peer(
    private_redis: EmbeddedRedis, centers: list[Center]
) -> None:
    c = await build_center(private_redis.url, _prefix(), [queue()], [agent("1001")])
    centers.append(c)
    one = await c.start_acd(lease=0.5)
    other = await c.start_acd(lease=0.5)
    c.fake.agi_port = one.agi.port
    holding = await c.fake.place_call(caller_id="holding")
    await eventually(lambda: _waiting_is(c, 1), 5, "a caller on hold")
    private_redis.kill()
    # The outage outlasts every lease: on Redis's clock they have all expired
    # when it comes back (this sleep is the fault's length, not an ordering).
    await asyncio.sleep(1.5)
    await asyncio.to_thread(private_redis.start)
    await eventually(lambda: _redis_up(one, other), 10, "both ACDs back on Redis")
    await c.login("1001")
    await holding.wait_done(10)
    assert holding.outcome == "answered" and not holding.fell_back
    assert one.service.reaped == [] and other.service.reaped == []
    stats = await c.stats("support")
    assert stats.get("lost", 0) == 0 and stats["answered"] == 1


async def _redis_up(*acds: Acd) -> bool:
    return all(not a.service.degraded.is_down("redis") for a in acds)


async def test_a_reservation_whose_lease_runs_out_is_released(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()], [agent("1001")])
    centers.append(c)
    acd = await c.start_acd()
    await c.login("1001")
    store = acd.service.store
    # A caller whose owner (another ACD process, alive: its lease is held) lost
    # track of the ring (e.g. its write of the ring's end was lost): nothing
    # but the reservation lease can free the agent.
    owner = "peer-alive"
    await store.redis.set(store.keys.instance(owner), "1", px=60_000)
    await store.enqueue("ghost", "support", arrival=1.0, priority=0, max_length=0, now=1.0,
                        fields={"owner": owner})
    assert await store.claim_first("ghost", ["1001"], 1.0, lease=0.05) == "1001"
    await eventually(lambda: _expired(c, "1001", "ghost"), 5, "the lease ran out")
    # back in line (its owner is alive), so it is offered again, with a fresh lease
    call = await store.call("ghost")
    assert call is not None and call.state.value in ("waiting", "ringing")
    if call.state.value == "ringing":  # re-offered: under a new lease, never none
        assert await store.redis.exists(store.keys.reservation("1001")) == 1


async def _expired(c: Center, agent_id: str, call_id: str) -> bool:
    events = await stream_entries(c.store.redis, c.store.keys.events)
    return any(f.get("type") == "reservation_expired" and f.get("agent") == agent_id
               and f.get("call") == call_id for f in events)


async def test_waiting_entries_without_a_waiting_call_are_pruned(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix, [queue()], [agent("1001")])
    centers.append(c)
    acd = await c.start_acd()
    acd.service.prune_interval = 0.2
    keys = acd.service.store.keys
    # what a Redis that lost the call hashes but kept the sorted set looks like
    await acd.redis.zadd(keys.waiting("support"), {"ghost-1": 1.0, "ghost-2": 2.0})
    await acd.redis.zadd(keys.arrivals("support"), {"ghost-1": 1.0, "ghost-2": 2.0})
    assert await c.store.waiting_count("support") == 2
    await eventually(lambda: _waiting_is(c, 0), 15, "phantom waiting callers removed")
    await c.login("1001")
    assert await c.agent_state("1001") is AgentState.AVAILABLE  # nobody to reserve it for


async def test_a_conversation_lost_with_redis_s_last_second_is_repaired_and_counted(
    private_redis: EmbeddedRedis, centers: list[Center]
) -> None:
    c = await build_center(private_redis.url, _prefix(), [queue()],
                           [agent("1001"), agent("1002")], talk_seconds=30)
    c.fake.after_call_linger = 0.1
    centers.append(c)
    await c.start_acd()
    await c.login("1001")
    aof = private_redis.data_dir / "appendonly.aof"
    before_the_call = aof.stat().st_size
    talking = await c.fake.place_call(caller_id="5554444")
    await eventually(lambda: _all_in(c, (AgentState.ON_CALL,), "1001"), 5, "on call")
    # An OS crash: everything written since before the call never reached the
    # disk (enqueue, offer, answer). The conversation goes on regardless.
    private_redis.kill()
    with aof.open("r+b") as fh:
        fh.truncate(before_the_call)
    await asyncio.to_thread(private_redis.start)
    # the dialling session is the truth: Redis learns the ring again, and the
    # agent is not offered to anybody else
    await eventually(lambda: _all_in(c, (AgentState.RINGING, AgentState.ON_CALL), "1001"),
                     10, "the ring re-asserted")
    await c.login("1002")
    c.fake.agents["1002"].talk_seconds = 0.2
    other = await c.fake.place_call(caller_id="5555555")
    await other.wait_done(10)
    assert other.dial_attempts == [("1002", "ANSWER")]
    await c.fake.agent_hangup("1001")
    await talking.wait_done(10)
    await eventually(lambda: _handled_is(c, 2), 10, "both conversations counted")
    stats = await c.stats("support")
    assert stats["offered"] == 2 and stats["answered"] == 2 and stats.get("lost", 0) == 0


async def test_a_conversation_that_ended_while_redis_was_down_and_lost_is_counted(
    private_redis: EmbeddedRedis, centers: list[Center]
) -> None:
    c = await build_center(private_redis.url, _prefix(), [queue()], [agent("1001")],
                           talk_seconds=0.3)
    c.fake.after_call_linger = 0.1
    centers.append(c)
    await c.start_acd()
    await c.login("1001")
    aof = private_redis.data_dir / "appendonly.aof"
    before_the_call = aof.stat().st_size
    short = await c.fake.place_call(caller_id="5556666")
    await eventually(lambda: _all_in(c, (AgentState.ON_CALL,), "1001"), 5, "on call")
    private_redis.kill()
    with aof.open("r+b") as fh:
        fh.truncate(before_the_call)  # the call never reached the disk
    await short.wait_done(10)  # the conversation ends while Redis is down
    await asyncio.to_thread(private_redis.start)
    await eventually(lambda: _handled_is(c, 1), 10, "the conversation counted")
    stats = await c.stats("support")
    assert stats["offered"] == 1 and stats["answered"] == 1
    await eventually(lambda: _all_in(c, (AgentState.AVAILABLE,), "1001"), 5, "agent free")
