"""Callbacks that keep the caller's place, dispositions with notes, and the
post-call survey, end to end: the fake Asterisk over real sockets (callers
pressing keys, AMI Originate ringing an agent, a trunk to the caller), a
real Redis, the real ACD."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from acd.core.errors import InvalidDisposition, InvalidTransition
from acd.core.models import AgentState
from acd.core.settings import CallbackConfig
from acd.store.embedded import EmbeddedRedis
from tests.acd.center import Center, agent, build_center, eventually, queue
from tests.redis_reads import stream_entries

CALLBACK = CallbackConfig(enabled=True, offer_after_seconds=0, attempts=2, retry_seconds=1,
                          ring_seconds=1)


@pytest.fixture
async def centers() -> AsyncIterator[list[Center]]:
    made: list[Center] = []
    yield made
    for c in made:
        await c.close()


async def _stat(c: Center, field: str, n: float) -> bool:
    return (await c.stats("support")).get(field, 0) == n


async def _state(c: Center, agent_id: str, state: AgentState) -> bool:
    return await c.agent_state(agent_id) is state


async def test_callback_keeps_its_place_behind_earlier_and_ahead_of_later_callers(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix,
                           [queue(announce_period_seconds=1, callback=CALLBACK)],
                           [agent("1001")], talk_seconds=0.2)
    c.fake.after_call_linger = 0.1
    centers.append(c)
    acd = await c.start_acd()
    earlier = await c.fake.place_call(caller_id="5550001")
    leaver = await c.fake.place_call(caller_id="5550002", dtmf="11")  # callback, own number
    await eventually(lambda: _stat(c, "callback_requested", 1), 10, "callback requested")
    await leaver.wait_done(5)
    assert leaver.variables.get("ACD_RESULT") == "CALLBACK"
    assert 'STREAM FILE acd-callback-confirm ""' in leaver.commands
    later = await c.fake.place_call(caller_id="5550003")
    await eventually(lambda: _waiting(c, 3), 5, "two callers and a callback waiting")

    await c.login("1001")
    await earlier.wait_done(10)
    await eventually(lambda: _stat(c, "callback_answered", 1), 15, "callback reached")
    await later.wait_done(15)
    # one agent: first the earlier caller, then the callback, then the later one
    reached = [t for number, status, t in c.fake.external_calls if status == "ANSWER"]
    assert [n for n, s, _ in c.fake.external_calls] == ["5550002"]
    assert earlier.answered_at is not None and later.answered_at is not None
    assert earlier.answered_at < reached[0] < later.answered_at
    # the agent heard it was a callback before the caller was dialled
    legs = [call for call in c.fake.calls if call.script.startswith("callback?")]
    assert len(legs) == 1 and 'STREAM FILE acd-callback-agent ""' in legs[0].commands
    await eventually(lambda: _stat(c, "handled", 3), 10, "three conversations handled")
    stats = await c.stats("support")
    assert stats["offered"] == 3 and stats["answered"] == 3
    assert stats.get("abandoned", 0) == 0  # a callback is never an abandon
    # its wait runs until the caller was reached, not until the hang-up
    call = await acd.service.store.call(leaver.channel.uniqueid)
    assert call is not None
    wait = float((await acd.service.store.call_rows([call.id], "wait"))[call.id]["wait"])
    assert wait > (reached[0] - leaver.created_at) - 1.0


async def _waiting(c: Center, n: int) -> bool:
    return await c.store.waiting_count("support") == n


async def test_callback_whose_caller_never_answers_is_retried_then_given_up(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix,
                           [queue(announce_period_seconds=1, callback=CALLBACK)],
                           [agent("1001")], talk_seconds=0.2)
    centers.append(c)
    await c.start_acd()
    c.fake.external["5550009"] = "no_answer"
    caller = await c.fake.place_call(caller_id="5550009", dtmf="11")
    await caller.wait_done(10)
    await c.login("1001")
    await eventually(lambda: _stat(c, "callback_failed", 1), 20, "callback given up")
    assert [(n, s) for n, s, _ in c.fake.external_calls] == [("5550009", "NOANSWER")] * 2
    await eventually(lambda: _state(c, "1001", AgentState.AVAILABLE), 5, "agent free again")
    view = await c.store.agent("1001")
    assert view is not None and view.missed == 0  # the caller's absence, not the agent's miss
    stats = await c.stats("support")
    assert stats.get("abandoned", 0) == 0 and stats.get("answered", 0) == 0


async def test_callback_survives_an_acd_restart_and_an_agent_who_does_not_answer(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix,
                           [queue(announce_period_seconds=1, callback=CALLBACK,
                                  ring_timeout_seconds=1)],
                           [agent("1001"), agent("1002")], talk_seconds=0.2,
                           behaviours={"1001": "no_answer"})
    centers.append(c)
    old = await c.start_acd()
    caller = await c.fake.place_call(caller_id="5550010", dtmf="11")
    await caller.wait_done(10)
    await old.stop()  # a deploy: the callback is in Redis, not in the process
    c.acds.remove(old)
    await c.start_acd()
    await c.login("1001")  # longest idle, but does not answer the Originate
    await c.login("1002")
    await eventually(lambda: _stat(c, "callback_answered", 1), 20, "callback reached")
    assert ("1001", False) in [(a, ok) for a, ok, _ in c.fake.originates]
    assert [(n, s) for n, s, _ in c.fake.external_calls] == [("5550010", "ANSWER")]


async def test_disposition_and_note_end_the_wrap_up_and_join_the_history(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    q = queue(wrap_up_seconds=60, dispositions=("resolved", "follow-up"),
              wrap_up_ends_on_disposition=True)
    c = await build_center(redis_server.url, key_prefix, [q], [agent("1001"), agent("1002")],
                           talk_seconds=0.2)
    centers.append(c)
    acd = await c.start_acd()
    await c.login("1001")
    first = await c.fake.place_call(caller_id="5551111")
    await first.wait_done(10)
    await eventually(lambda: _state(c, "1001", AgentState.WRAP_UP), 5, "wrap-up")
    commands = acd.service.commands
    call_id = first.channel.uniqueid
    with pytest.raises(InvalidDisposition):
        await commands.disposition("1001", call_id, "made-up")
    with pytest.raises(InvalidTransition):
        await commands.disposition("1002", call_id, "resolved")  # not their call
    state = await commands.disposition("1001", call_id, "resolved", "reset the <router>\x07")
    assert state == "wrap_up_ended"
    assert await c.agent_state("1001") is AgentState.AVAILABLE  # no 60 s wait
    stats = await c.stats("support")
    assert stats["handled"] == 1 and stats["resolved"] == 1 and stats["dispositioned"] == 1
    history = await acd.service.store.caller_history("5551111")
    assert [(h["disposition"], h["note"]) for h in history] == [("resolved", "reset the <router>")]
    # a changed mind moves the counters, never counts twice
    await commands.disposition("1001", call_id, "follow-up", "call back Monday")
    stats = await c.stats("support")
    assert stats["resolved"] == 0 and stats["dispositioned"] == 1
    # the same caller again: the agent's view of their history has it
    second = await c.fake.place_call(caller_id="5551111")
    await second.wait_done(10)
    history = await acd.service.store.caller_history("5551111")
    earlier = [h for h in history if h["id"] == call_id]
    assert [(h["disposition"], h["note"], h["agent"], h["outcome"]) for h in earlier] == [
        ("follow-up", "call back Monday", "1001", "answered")]
    # a supervisor corrects it: the record says who did
    await commands.disposition("1001", call_id, "resolved", "checked", by="sup1")
    history = await acd.service.store.caller_history("5551111")
    earlier = [h for h in history if h["id"] == call_id]
    assert [(h["disposition"], h["disposition_by"]) for h in earlier] == [("resolved", "sup1")]
    store = acd.service.store
    events = await stream_entries(store.redis, store.keys.events)
    assert any(f.get("type") == "disposition" and f.get("by") == "sup1" for f in events)


async def test_post_call_survey_answered_and_skipped(
    redis_server: EmbeddedRedis, key_prefix: str, centers: list[Center]
) -> None:
    c = await build_center(redis_server.url, key_prefix,
                           [dataclasses.replace(queue(), survey=True)], [agent("1001")],
                           talk_seconds=0.2)
    centers.append(c)
    await c.start_acd()
    await c.login("1001")
    happy = await c.fake.place_call(caller_id="5552222", dtmf="4")
    await happy.wait_done(10)
    assert "EXEC Dial PJSIP/1001,1,g" in happy.commands  # the caller stays after the agent
    assert "GET DATA acd-survey 6000 1" in happy.commands
    assert 'STREAM FILE acd-survey-thanks ""' in happy.commands
    silent = await c.fake.place_call(caller_id="5553333")
    await silent.wait_done(10)
    assert "GET DATA acd-survey 6000 1" in silent.commands
    stats = await c.stats("support")
    assert stats["csat_answers"] == 1 and stats["csat_good"] == 1
    history = await c.store.caller_history("5552222")
    assert history[0]["csat"] == "4"
