"""The caller's journey, one FastAGI session per call (`inbound?queue=NAME`).

Answer, business hours, optional menu, enqueue, hold music with position and
expected-wait announcements, then Dial the reserved agent; a missed ring puts
the caller back with its original arrival time; max wait or a full queue
overflows or exits. The dialplan reads ``ACD_RESULT`` (and ``ACD_TARGET``)
after the AGI: when they are empty, the ACD died mid-call and the dialplan's
fallback queue takes the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from acd.config import Config, QueueConfig
from acd.dispatcher import Dispatcher
from acd.models import AgentState, CallState, CallView
from acd.routing import announce_minutes, expected_wait, is_open
from acd.store import Store
from telephony.agi_server import AgiSession
from telephony.errors import CallerHangup

log = logging.getLogger(__name__)

WAKE_SECONDS = 30.0  # longest sleep between checks of a waiting call's clocks
MAX_OVERFLOW_HOPS = 5
DEFAULT_AHT = 180.0
SERVING_STATES = frozenset(
    {AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP}
)
MISSED_STATUSES = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION", "CANCEL", ""})


class WaitResult(enum.StrEnum):
    ANSWERED = "ANSWERED"
    TIMEOUT = "TIMEOUT"
    FULL = "FULL"


@dataclass(slots=True)
class _Waiting:
    call_id: str
    queue: QueueConfig
    arrival: float
    priority: int = 0
    music_on: bool = False

    def view(self, owner: str) -> CallView:
        """The call as just enqueued (saves reading it back for the first match)."""
        return CallView(
            id=self.call_id, queue=self.queue.name, caller_id="", caller_name="",
            arrival=self.arrival, queue_arrival=self.arrival, priority=self.priority,
            state=CallState.WAITING, agent="", owner=owner,
        )


class CallFlow:
    """Handles inbound FastAGI sessions for this ACD process."""

    def __init__(
        self,
        config: Config,
        store: Store,
        dispatcher: Dispatcher,
        clock: Callable[[], float],
        on_wrap_up: Callable[[str, float], None],
        on_agent_free: Callable[[str], None],
        on_phone_unreachable: Callable[[str], None] = lambda _agent: None,
    ) -> None:
        self.config = config
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self._on_wrap_up = on_wrap_up
        # Matching a freed agent is the service's job, off the caller's path:
        # the caller's session ends without waiting for it.
        self._on_agent_free = on_agent_free
        self._on_phone_unreachable = on_phone_unreachable

    async def handle(self, session: AgiSession) -> None:
        request = session.request
        queue_name = request.query.get("queue") or (request.args[0] if request.args else "")
        queue = self.config.queue(queue_name)
        if queue is None:
            # Leave ACD_RESULT unset: the dialplan's fallback queue takes the caller.
            log.warning("inbound call %s for unknown queue %r: left to the dialplan fallback",
                        request.uniqueid, queue_name)
            return
        call_id = request.uniqueid or uuid.uuid4().hex
        await session.answer()
        now = self.clock()
        if not is_open(queue.business_hours, now):
            await self._closed(session, queue)
            return
        if queue.greeting:
            await session.stream_file(queue.greeting)
        queue = await self._menu(session, queue)
        try:
            priority = int(request.query.get("priority", "0"))
        except ValueError:
            priority = 0
        fields = {
            "caller_id": request.callerid,
            "caller_name": request.calleridname,
            "owner": self.dispatcher.instance_id,
            "channel": request.channel,
        }
        arrival = now
        hops = 0
        while True:
            result = await self._queue_call(session, call_id, queue, arrival, priority, fields)
            if result is WaitResult.ANSWERED:
                await session.set_variable("ACD_RESULT", "ANSWERED")
                with contextlib.suppress(CallerHangup):
                    await session.hangup()
                return
            # Timed out or full: overflow keeps the original arrival time.
            target = self.config.queue(queue.overflow_queue) if queue.overflow_queue else None
            if target is not None and hops < MAX_OVERFLOW_HOPS:
                log.info("call %s overflows %s -> %s", call_id, queue.name, target.name)
                queue = target
                hops += 1
                continue
            await self._exit(session, queue.exit_target, result.value)
            return

    async def _closed(self, session: AgiSession, queue: QueueConfig) -> None:
        hours = queue.business_hours
        await self.store.publish_change("call", queue.name)
        if hours.closed_message:
            await session.stream_file(hours.closed_message)
        await self._exit(session, hours.closed_target, "CLOSED")

    async def _exit(self, session: AgiSession, target: str, result: str) -> None:
        await session.set_variable("ACD_RESULT", result)
        if target:
            await session.set_variable("ACD_TARGET", target)
        else:
            with contextlib.suppress(CallerHangup):
                await session.hangup()

    async def _menu(self, session: AgiSession, queue: QueueConfig) -> QueueConfig:
        if not queue.menu or not queue.menu_prompt:
            return queue
        for _ in range(2):
            digit = await session.get_data(queue.menu_prompt, timeout_ms=5000, max_digits=1)
            for option in queue.menu:
                if option.digit == digit:
                    if option.language:
                        await session.set_variable("CHANNEL(language)", option.language)
                    chosen = self.config.queue(option.queue) if option.queue else None
                    return chosen or queue
            if digit == "":
                break
        return queue

    async def _queue_call(
        self,
        session: AgiSession,
        call_id: str,
        queue: QueueConfig,
        arrival: float,
        priority: int,
        fields: dict[str, str],
    ) -> WaitResult:
        now = self.clock()
        offer = self.dispatcher.expect_offer(call_id)
        try:
            position = await self.store.enqueue(
                call_id,
                queue.name,
                arrival=arrival,
                priority=priority,
                max_length=queue.max_length,
                now=now,
                fields={**fields, "target": str(queue.service_level_seconds)},
            )
            if position is None:
                log.info("queue %s full: call %s not queued", queue.name, call_id)
                return WaitResult.FULL
            state = _Waiting(call_id, queue, arrival, priority)
            try:
                return await self._wait(session, state, offer, now)
            except CallerHangup:
                await self._caller_left(state)
                raise
        finally:
            self.dispatcher.drop_offer(call_id)

    async def _wait(
        self, session: AgiSession, w: _Waiting, offer: asyncio.Future[str], entered: float
    ) -> WaitResult:
        queue = w.queue
        await self.dispatcher.match_call(w.call_id, known=w.view(self.dispatcher.instance_id))
        period = queue.announce_period_seconds
        next_announce = entered + period if period > 0 else float("inf")
        deadline = entered + queue.max_wait_seconds if queue.max_wait_seconds > 0 else float("inf")
        while True:
            if not offer.done() and not w.music_on:
                await session.set_music(True, queue.music_class)
                w.music_on = True
            now = self.clock()
            timeout = max(0.0, min(next_announce, deadline, now + WAKE_SECONDS) - now)
            agent_id: str | None = None
            try:
                # A reservation arrives through the future: set by this process's
                # dispatcher, the offers channel, or the service's batched check
                # of this process's calls (no per-call polling of Redis).
                agent_id = await session.guard(asyncio.wait_for(asyncio.shield(offer), timeout))
            except TimeoutError:
                agent_id = None
            if agent_id is not None:
                missed_by = agent_id
                answered = await self._ring(session, w, agent_id)
                if answered:
                    return WaitResult.ANSWERED
                offer = self.dispatcher.expect_offer(w.call_id)
                await self.dispatcher.match_call(w.call_id)
                # the agent who missed may take another caller (or this one again
                # if nobody else can)
                await self.dispatcher.match_agent(missed_by)
                continue
            now = self.clock()
            if now >= deadline:
                outcome = "overflowed" if queue.overflow_queue else "timed_out"
                left = await self.store.leave(w.call_id, outcome, queue.short_abandon_seconds, now)
                if left.outcome != "none":
                    await self._music_off(session, w)
                    return WaitResult.TIMEOUT
                continue  # an agent was reserved at the last moment: take it
            if now >= next_announce:
                await self._announce(session, w)
                next_announce = self.clock() + period

    async def _music_off(self, session: AgiSession, w: _Waiting) -> None:
        if w.music_on:
            await session.set_music(False)
            w.music_on = False

    async def _announce(self, session: AgiSession, w: _Waiting) -> None:
        position = await self.store.position(w.queue.name, w.call_id)
        if position is None:
            return  # reserved for an agent meanwhile
        ewt = await self.expected_wait(w.queue, position)
        await self._music_off(session, w)
        await session.stream_file("queue-thereare")
        await session.say_number(position)
        await session.stream_file("queue-callswaiting")
        if ewt > 0:
            await session.stream_file("queue-holdtime")
            await session.say_number(announce_minutes(ewt))
            await session.stream_file("queue-minutes")
        await self.store.redis.hset(
            self.store.keys.call(w.call_id),
            mapping={"announced_ewt": repr(ewt), "announced_at": repr(self.clock())},
        )

    async def expected_wait(self, queue: QueueConfig, position: int) -> float:
        """Expected wait from live data: position, agents serving, recent AHT."""
        now = self.clock()
        handle, handled = await self.store.recent_handle(queue.name, now - 3600)
        aht = handle / handled if handled else DEFAULT_AHT
        ids = [a for a, cfg in self.dispatcher.agents.items() if queue.name in cfg.queues]
        serving = sum(
            1
            for view in await self.store.agents(ids)  # one pipelined read
            if view.reachable and view.state in SERVING_STATES
        )
        return expected_wait(position, serving, aht)

    async def _ring(self, session: AgiSession, w: _Waiting, agent_id: str) -> bool:
        """Dial the reserved agent; True when the conversation happened."""
        agent = self.dispatcher.agents.get(agent_id)
        if agent is None:
            return False
        queue = w.queue
        await self._music_off(session, w)
        dial_started = self.clock()
        reply = await session.exec("Dial", agent.endpoint, str(queue.ring_timeout_seconds))
        status = (await session.get_variable("DIALSTATUS") or "").upper()
        now = self.clock()
        if status == "ANSWER":
            # Usually AMI's DialEnd already recorded the answer; if not (AMI
            # down), CALL_FINISHED refuses and the answer is reconstructed.
            if not await self.store.call_finished(
                w.call_id, agent_id, queue.wrap_up_seconds, now
            ):
                talk = await session.get_variable("ANSWEREDTIME")
                try:
                    answered_at = now - float(talk or 0)
                except ValueError:
                    answered_at = now
                answered_at = max(dial_started, answered_at)
                await self.store.answered(
                    w.call_id, agent_id, answered_at, queue.service_level_seconds, now
                )
                await self.store.call_finished(w.call_id, agent_id, queue.wrap_up_seconds, now)
            if queue.wrap_up_seconds > 0:
                self._on_wrap_up(agent_id, now + queue.wrap_up_seconds)
            else:
                self._on_agent_free(agent_id)
            return True
        if status not in MISSED_STATUSES:
            log.info("Dial %s returned %s (%s)", agent.endpoint, status, reply.text)
        call = await self.store.call_for_routing(w.call_id)
        if call is None:
            return False
        result = await self.store.ring_missed(
            call, agent_id, status or "UNKNOWN", queue.auto_pause_after_misses, now
        )
        log.info("agent %s missed call %s (%s): %s", agent_id, w.call_id, status, result)
        if status == "CHANUNAVAIL":
            self._on_phone_unreachable(agent_id)
        return False

    async def _caller_left(self, w: _Waiting) -> None:
        """The caller hung up: abandoned while waiting or ringing, or end of talk."""
        now = self.clock()
        call = await self.store.call_for_routing(w.call_id)
        if call is None:
            return
        if call.state is CallState.ON_CALL:
            await self.store.call_finished(w.call_id, call.agent, w.queue.wrap_up_seconds, now)
            if w.queue.wrap_up_seconds > 0:
                self._on_wrap_up(call.agent, now + w.queue.wrap_up_seconds)
            else:
                self._on_agent_free(call.agent)
            return
        left = await self.store.leave(w.call_id, "abandoned", w.queue.short_abandon_seconds, now)
        if left.outcome != "none":
            log.info("call %s %s after %.1f s", w.call_id, left.outcome, left.wait)
        if call.state is CallState.RINGING and call.agent:
            self._on_agent_free(call.agent)
