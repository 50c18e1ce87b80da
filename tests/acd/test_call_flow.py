"""End to end: the fake Asterisk places calls over FastAGI into the real ACD,
with a real Redis and a real AMI connection. Assertions are on what the caller
experiences (the commands Asterisk received, in order) and on the statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import pytest

from acd.core.models import AgentState
from acd.core.settings import AgentConfig, BusinessHours, QueueConfig
from acd.store.embedded import EmbeddedRedis
from telephony.fake import AgentBehaviour
from tests.acd.center import Center, agent, build_center, eventually, queue


class CenterFactory(Protocol):
    """Builds a center with its ACD started; closed at the end of the test."""

    async def __call__(self, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], *,
                       behaviours: dict[str, str] | None = None,
                       talk_seconds: float = 0.3) -> Center: ...


@pytest.fixture
async def center_factory(
    redis_server: EmbeddedRedis, key_prefix: str
) -> AsyncIterator[CenterFactory]:
    centers: list[Center] = []

    async def make(queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], *,
                   behaviours: dict[str, str] | None = None,
                   talk_seconds: float = 0.3) -> Center:
        c = await build_center(redis_server.url, key_prefix, queues, agents,
                               behaviours=behaviours, talk_seconds=talk_seconds)
        centers.append(c)
        await c.start_acd()
        return c

    yield make
    for c in centers:
        await c.close()


def verbs(commands: Sequence[str]) -> list[str]:
    """Command lines without arguments that vary (for order checks)."""
    out = []
    for line in commands:
        words = line.split()
        if words[0] in ("EXEC", "SET", "GET", "STREAM", "SAY"):
            out.append(" ".join(words[:2]))
        else:
            out.append(words[0])
    return out


async def test_answered_call(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(wrap_up_seconds=1)], [agent("1001")])
    await c.login("1001")
    call = await c.fake.place_call("inbound?queue=support", caller_id="5550001")
    await call.wait_done(10)
    assert call.outcome == "answered"
    assert call.agent == "1001"
    # an agent was free: straight to the agent, no hold music
    assert call.commands == [
        "ANSWER",
        "EXEC Dial PJSIP/1001,1",
        "GET VARIABLE DIALSTATUS",
        "SET VARIABLE ACD_RESULT ANSWERED",
        "HANGUP",
    ]
    assert call.closed_promptly
    assert await c.agent_state("1001") is AgentState.WRAP_UP
    await eventually(lambda: _state_is(c, "1001", AgentState.AVAILABLE), 5, "end of wrap-up")
    stats = await c.stats("support")
    assert stats["offered"] == 1 and stats["answered"] == 1
    assert stats["answered_within_target"] == 1
    assert stats["handled"] == 1 and stats["handle_seconds"] >= 1.0


async def _state_is(c: Center, agent_id: str, state: AgentState) -> bool:
    return await c.agent_state(agent_id) is state


async def test_no_answer_then_answered_by_another_agent(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(ring_timeout_seconds=1, auto_pause_after_misses=3)],
                             [agent("1001"), agent("1002")],
                             behaviours={"1001": "no_answer"})
    await c.login("1001")  # logged in first: longest idle
    c.advance(1.0)
    await c.login("1002")
    call = await c.fake.place_call(caller_id="5550002")
    await call.wait_done(10)
    assert call.dial_attempts == [("1001", "NOANSWER"), ("1002", "ANSWER")]
    assert call.outcome == "answered"
    view = await c.store.agent("1001")
    assert view is not None
    assert view.missed == 1 and view.state is AgentState.AVAILABLE
    stats = await c.stats("support")
    assert stats["offered"] == 1 and stats["answered"] == 1


async def test_abandon_while_waiting(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(short_abandon_seconds=0)], [agent("1001")])
    call = await c.fake.place_call(patience=0.5)  # nobody logged in
    await call.wait_done(5)
    assert call.outcome == "abandoned"
    assert call.closed_promptly
    assert not any(line.startswith("EXEC Dial") for line in call.commands)
    stats = await c.stats("support")
    assert stats["abandoned"] == 1 and stats.get("short_abandoned", 0) == 0
    assert await c.store.waiting_count("support") == 0


async def test_short_abandon(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(short_abandon_seconds=5)], [agent("1001")])
    call = await c.fake.place_call(patience=0.3)
    await call.wait_done(5)
    stats = await c.stats("support")
    assert stats["abandoned"] == 1 and stats["short_abandoned"] == 1


async def test_overflow_keeps_arrival_time(center_factory: CenterFactory) -> None:
    c = await center_factory(
        [queue("sales", max_wait_seconds=1, overflow_queue="support"), queue("support")],
        [agent("1001", queues={"support": 50})],
    )
    await c.login("1001")
    call = await c.fake.place_call("inbound?queue=sales")
    await call.wait_done(10)
    assert call.outcome == "answered"
    sales, support = await c.stats("sales"), await c.stats("support")
    assert sales["offered"] == 1 and sales["timed_out"] == 1 and "answered" not in sales
    assert support["offered"] == 1 and support["answered"] == 1
    assert support["wait_seconds"] >= 1.0  # counted from the first queue's arrival


async def test_max_wait_without_overflow_exits_to_target(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(max_wait_seconds=1, exit_target="voicemail,s,1")],
                             [agent("1001")])
    call = await c.fake.place_call()
    await call.wait_done(10)
    assert "SET VARIABLE ACD_RESULT TIMEOUT" in call.commands
    assert "SET VARIABLE ACD_TARGET voicemail,s,1" in call.commands
    assert (await c.stats("support"))["timed_out"] == 1


async def test_full_queue_is_handled_like_max_wait(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(max_length=1)], [agent("1001")])
    first = await c.fake.place_call(patience=3)
    await eventually(lambda: _waiting(c, 1), 5, "first caller queued")
    second = await c.fake.place_call()
    await second.wait_done(5)
    assert "SET VARIABLE ACD_RESULT FULL" in second.commands
    await first.hangup()
    await first.wait_done(5)


async def _waiting(c: Center, n: int) -> bool:
    return await _waiting_in(c, "support", n)


async def _waiting_in(c: Center, queue_name: str, n: int) -> bool:
    return await c.store.waiting_count(queue_name) == n


async def _agent_busy(c: Center, agent_id: str) -> bool:
    return await c.agent_state(agent_id) in (AgentState.RINGING, AgentState.ON_CALL)


async def test_closed_hours_plays_message_and_hangs_up(center_factory: CenterFactory) -> None:
    today = dt.datetime.now(dt.UTC).date()
    hours = BusinessHours(holidays=(today, today + dt.timedelta(days=1)),
                          closed_message="acd-closed-message")
    c = await center_factory([queue(business_hours=hours)], [agent("1001")])
    await c.login("1001")
    call = await c.fake.place_call()
    await call.wait_done(5)
    assert call.commands == [
        "ANSWER",
        'STREAM FILE acd-closed-message ""',
        "SET VARIABLE ACD_RESULT CLOSED",
        "HANGUP",
    ]
    assert call.dial_attempts == []


async def test_paused_agent_gets_no_call_until_unpaused(center_factory: CenterFactory) -> None:
    c = await center_factory([queue()], [agent("1001")])
    await c.login("1001")
    await c.acd.service.commands.pause("1001", "Lunch")
    call = await c.fake.place_call()
    await eventually(lambda: _waiting(c, 1), 5, "caller queued")
    assert await c.acd.service.dispatcher.sweep() == 0  # nothing to match while paused
    assert call.dial_attempts == []
    view = await c.store.agent("1001")
    assert view is not None
    assert view.state is AgentState.PAUSED and view.pause_reason == "Lunch"
    await c.acd.service.commands.unpause("1001")
    await call.wait_done(10)
    assert call.dial_attempts == [("1001", "ANSWER")]


async def test_auto_pause_after_missed_rings(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(ring_timeout_seconds=1, auto_pause_after_misses=2)],
                             [agent("1001")], behaviours={"1001": "no_answer"})
    await c.login("1001")
    call = await c.fake.place_call(patience=6)
    await eventually(lambda: _state_is(c, "1001", AgentState.PAUSED), 8, "auto-pause")
    view = await c.store.agent("1001")
    assert view is not None
    assert "2 missed" in view.pause_reason
    assert [s for _, s in call.dial_attempts] == ["NOANSWER", "NOANSWER"]
    await call.hangup()
    await call.wait_done(5)
    assert (await c.stats("support"))["abandoned"] == 1


async def test_wrap_up_holds_next_call(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(wrap_up_seconds=1)], [agent("1001")], talk_seconds=0.2)
    await c.login("1001")
    first = await c.fake.place_call(caller_id="1")
    await eventually(lambda: _agent_busy(c, "1001"), 5, "the first call reached the agent")
    second = await c.fake.place_call(caller_id="2")
    await first.wait_done(10)
    await second.wait_done(10)
    assert first.answered_at is not None and second.answered_at is not None
    # the second caller was dialled only after the first call's talk + wrap-up
    assert second.answered_at - first.answered_at >= 1.0 + 0.2
    assert (await c.stats("support"))["answered"] == 2


async def test_priority_callers_first(center_factory: CenterFactory) -> None:
    c = await center_factory([queue()], [agent("1001")], talk_seconds=0.05)
    await c.login("1001")
    await c.acd.service.commands.pause("1001", "Meeting")
    normal1 = await c.fake.place_call(caller_id="n1")
    await eventually(lambda: _waiting(c, 1), 5, "n1 queued")
    c.advance(1.0)
    normal2 = await c.fake.place_call(caller_id="n2")
    await eventually(lambda: _waiting(c, 2), 5, "n2 queued")
    c.advance(1.0)
    vip = await c.fake.place_call("inbound?queue=support&priority=5", caller_id="vip")
    await eventually(lambda: _waiting(c, 3), 5, "three callers queued")
    await c.acd.service.commands.unpause("1001")
    for call in (normal1, normal2, vip):
        await call.wait_done(10)
    order = sorted((normal1, normal2, vip), key=lambda x: x.answered_at or 0)
    assert [x.caller_id for x in order] == ["vip", "n1", "n2"]


async def test_fair_across_queues(center_factory: CenterFactory) -> None:
    c = await center_factory([queue("x"), queue("y")],
                             [agent("1001", queues={"x": 50, "y": 50})], talk_seconds=0.05)
    await c.login("1001")
    await c.acd.service.commands.pause("1001", "Meeting")
    in_y = await c.fake.place_call("inbound?queue=y", caller_id="y-first")
    await eventually(lambda: _waiting_in(c, "y", 1), 5, "y queued")
    c.advance(1.0)
    in_x = await c.fake.place_call("inbound?queue=x", caller_id="x-second")
    await eventually(lambda: _waiting_in(c, "x", 1), 5, "x queued")
    await c.acd.service.commands.unpause("1001")
    await in_y.wait_done(10)
    await in_x.wait_done(10)
    assert in_y.answered_at is not None and in_x.answered_at is not None
    assert in_y.answered_at < in_x.answered_at


async def test_skills_relax_with_wait(center_factory: CenterFactory) -> None:
    from acd.core.settings import RelaxationStep, SkillRequirement

    q = queue(required_skills=(SkillRequirement("polish", 70),),
              relaxation=(RelaxationStep(after_seconds=1.0, min_proficiency=40),))
    c = await center_factory([q], [agent("1001", skills={"polish": 50})])
    await c.login("1001")
    call = await c.fake.place_call()
    await call.wait_done(10)
    assert call.outcome == "answered"
    assert call.answered_at is not None and call.connected_at is not None
    assert call.answered_at - call.connected_at >= 1.0


async def test_unreachable_phone_never_offered(center_factory: CenterFactory) -> None:
    c = await center_factory([queue()], [agent("1001"), agent("1002")])
    await c.login("1001", "1002")
    await c.fake.unregister("1001")
    await eventually(lambda: _unreachable(c, "1001"), 5, "presence from AMI")
    calls = [await c.fake.place_call(caller_id=str(i)) for i in range(3)]
    for call in calls:
        await call.wait_done(10)
    assert all(call.dial_attempts == [("1002", "ANSWER")] for call in calls)


async def _unreachable(c: Center, agent_id: str) -> bool:
    view = await c.store.agent(agent_id)
    return view is not None and not view.reachable


async def test_feature_codes_login_pause_logout(center_factory: CenterFactory) -> None:
    c = await center_factory([queue()], [agent("1001")])
    login = await c.fake.place_call("agent/login?agent=1001")
    await login.wait_done(5)
    assert 'STREAM FILE agent-loginok ""' in login.commands
    assert await c.agent_state("1001") is AgentState.AVAILABLE
    pause = await c.fake.place_call("agent/pause?agent=1001&reason=Coffee")
    await pause.wait_done(5)
    view = await c.store.agent("1001")
    assert view is not None
    assert view.state is AgentState.PAUSED and view.pause_reason == "Coffee"
    await c.acd.service.commands.unpause("1001")
    coded = await c.fake.place_call("agent/pause?endpoint=1001&reason=2")  # *432 from 1001
    await coded.wait_done(5)
    view = await c.store.agent("1001")
    assert view is not None
    assert view.state is AgentState.PAUSED and view.pause_reason == "Lunch"
    logout = await c.fake.place_call("agent/logout?agent=1001")
    await logout.wait_done(5)
    assert await c.agent_state("1001") is AgentState.LOGGED_OUT
    stranger = await c.fake.place_call("agent/login?agent=9999")
    await stranger.wait_done(5)
    assert 'STREAM FILE agent-incorrect ""' in stranger.commands


async def test_position_and_expected_wait_are_announced(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(announce_period_seconds=1)], [agent("1001")])
    first_caller = await c.fake.place_call(patience=2.6)  # nobody logged in: callers wait
    second = await c.fake.place_call(patience=2.6)
    await first_caller.wait_done(10)
    await second.wait_done(10)
    # The first in line hears "you are next", not "there are 1 calls waiting",
    # and one minute is "minute" (the core sounds have both forms).
    start = first_caller.commands.index("SET MUSIC off")
    assert first_caller.commands[start:start + 3] == [
        "SET MUSIC off",
        'STREAM FILE queue-youarenext ""',
        'STREAM FILE queue-holdtime ""',
    ]
    minutes = int(first_caller.commands[start + 3].split()[2])
    unit = "queue-minute" if minutes == 1 else "queue-minutes"
    assert first_caller.commands[start + 4] == f'STREAM FILE {unit} ""'
    assert first_caller.commands[start + 5] == "SET MUSIC on default"
    assert not any("queue-thereare" in line for line in first_caller.commands)
    start = second.commands.index("SET MUSIC off")
    assert second.commands[start:start + 5] == [
        "SET MUSIC off",
        'STREAM FILE queue-thereare ""',
        'SAY NUMBER 2 ""',
        'STREAM FILE queue-callswaiting ""',
        'STREAM FILE queue-holdtime ""',
    ]
    minutes = int(second.commands[start + 5].split()[2])
    unit = "queue-minute" if minutes == 1 else "queue-minutes"
    assert second.commands[start + 6] == f'STREAM FILE {unit} ""'
    assert sum(1 for line in second.commands if line == 'STREAM FILE queue-thereare ""') == 2


async def test_menu_routes_to_the_chosen_queue(center_factory: CenterFactory) -> None:
    from acd.core.settings import MenuOption

    c = await center_factory(
        [queue("main", menu_prompt="acd-menu", menu=(MenuOption("2", queue="billing"),)),
         queue("billing")],
        [agent("1001", queues={"billing": 50})],
    )
    await c.login("1001")
    call = await c.fake.place_call("inbound?queue=main", dtmf="2")
    await call.wait_done(10)
    assert call.commands[1] == "GET DATA acd-menu 5000 1"
    assert call.outcome == "answered"
    assert (await c.stats("billing"))["answered"] == 1
    assert await c.stats("main") == {}


async def test_phone_unregistering_during_a_call(center_factory: CenterFactory) -> None:
    c = await center_factory([queue(wrap_up_seconds=0)], [agent("1001"), agent("1002")],
                             talk_seconds=0.6)
    await c.login("1001")
    first = await c.fake.place_call(caller_id="first")
    await eventually(lambda: _state_is(c, "1001", AgentState.ON_CALL), 5, "on call")
    await c.fake.unregister("1001")
    await first.wait_done(10)
    assert first.outcome == "answered"  # the conversation itself is not cut
    view = await c.store.agent("1001")
    assert view is not None
    assert view.state is AgentState.AVAILABLE and not view.reachable
    await c.login("1002")
    second = await c.fake.place_call(caller_id="second")
    await second.wait_done(10)
    assert second.dial_attempts == [("1002", "ANSWER")]


async def test_unreachable_phone_on_dial_is_not_a_miss(center_factory: CenterFactory) -> None:
    # registered as far as AMI knows, but the INVITE fails: CHANUNAVAIL
    c = await center_factory([queue(auto_pause_after_misses=1)], [agent("1001"), agent("1002")],
                             behaviours={"1001": "unreachable"})
    await c.login("1001")
    c.advance(1.0)
    await c.login("1002")
    call = await c.fake.place_call()
    await call.wait_done(10)
    assert call.dial_attempts == [("1001", "CHANUNAVAIL"), ("1002", "ANSWER")]
    view = await c.store.agent("1001")
    assert view is not None
    assert view.state is AgentState.AVAILABLE  # not auto-paused: the phone failed
    assert view.missed == 0 and not view.reachable
    # the phone registers again: offered calls again
    c.fake.agents["1001"].behaviour = AgentBehaviour.ANSWER
    await c.fake.unregister("1001")
    await c.fake.register("1001")
    await eventually(lambda: _reachable(c, "1001"), 5, "presence back")


async def _reachable(c: Center, agent_id: str) -> bool:
    view = await c.store.agent(agent_id)
    return view is not None and view.reachable
