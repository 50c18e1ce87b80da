"""The caller's journey, one FastAGI session per call (`inbound?queue=NAME`).

Answer, business hours, optional menu, enqueue, hold music with position and
expected-wait announcements, then Dial the reserved agent; a missed ring puts
the caller back with its original arrival time; max wait or a full queue
overflows or exits. The dialplan reads ``ACD_RESULT`` (and ``ACD_TARGET``)
after the AGI: when they are empty, the ACD died mid-call and the dialplan's
fallback queue takes the caller, unless ``DIALSTATUS`` is ``ANSWER`` (an
agent answered: the call is final whatever happens to the ACD).

Every exit of a session, a hang-up, an error, a silent peer, goes through one
place, :meth:`CallFlow._settle`, which leaves Redis consistent (the caller
abandoned, lost to the fallback, or the conversation finished, with its
statistics). When Redis is unreachable at that moment the settlement is kept
and retried by the service's reconciler, with the time the call really ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError

from acd.core.errors import CallActive
from acd.core.models import AgentState, CallState, CallView, Exit, Left
from acd.core.routing import RingEnd, announce_minutes, expected_wait, ring_end
from acd.core.settings import Config, QueueConfig
from acd.degraded import Degraded, describe
from acd.dispatcher import Dispatcher
from acd.store.store import LeaveResult, Store
from telephony.agi_server import AgiSession
from telephony.errors import AgiError, CallerHangup

T = TypeVar("T")

log = logging.getLogger(__name__)

WAKE_SECONDS = 30.0  # longest sleep between checks of a waiting call's clocks
MAX_OVERFLOW_HOPS = 5
DEFAULT_AHT = 180.0
SERVING_STATES = frozenset(
    {AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP}
)
# Dial outcomes handed to the store as a ring that ended without a
# conversation (acd.core.routing.ring_end says which are the agent's misses).
# CANCEL is the caller leaving.
RING_ENDED_STATUSES = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION", ""})
DIAL_MARGIN = 5.0  # seconds past the ring timeout before a silent Dial is given up
OUTAGE_PATIENCE = 60.0  # seconds a caller on hold waits out a Redis outage
REQUEUE = ""  # offer value: "your call is gone from Redis, enqueue it again"


class WaitResult(enum.StrEnum):
    ANSWERED = "ANSWERED"
    TIMEOUT = "TIMEOUT"
    FULL = "FULL"
    CALLBACK = "CALLBACK"  # the caller left the line to be called back


def _distinct_id(call_id: str) -> str:
    """A call id of its own for a caller whose ``agi_uniqueid`` is already live."""
    return f"{call_id}-{uuid.uuid4().hex[:6]}"


class PeerSilent(AgiError):
    """Asterisk did not answer a FastAGI command in time (partition, hung PBX)."""


@dataclass(slots=True)
class _Waiting:
    call_id: str
    queue: QueueConfig
    arrival: float
    priority: int = 0
    music_on: bool = False
    queue_arrival: float = 0.0
    fields: dict[str, str] = field(default_factory=dict)

    def view(self, owner: str) -> CallView:
        """The call as just enqueued (saves reading it back for the first match)."""
        return CallView(
            id=self.call_id, queue=self.queue.name, caller_id="", caller_name="",
            arrival=self.arrival, queue_arrival=self.arrival, priority=self.priority,
            state=CallState.WAITING, agent="", owner=owner,
        )


@dataclass(slots=True)
class LiveCall:
    """A call this process holds the FastAGI socket of."""

    call_id: str
    session: AgiSession
    queue: QueueConfig
    dialing: str = ""  # agent being dialled (or talking) now
    waiting: bool = False  # enqueued in Redis and on hold
    #: what Redis must know of the call while it is dialled (see reassert)
    state: _Waiting | None = None


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A call exit not yet written to Redis (Redis was unreachable)."""

    call_id: str
    queue: QueueConfig
    caller_hung_up: bool
    at: float
    #: (agent, answered at) of a conversation that happened while Redis was down
    answered: tuple[str, float] | None = None
    #: the session let go mid-Dial with the caller still up: a conversation
    #: goes on in Asterisk without the ACD and ends from device states
    conversation_goes_on: bool = False
    #: the call as this session knew it, to tell Redis again if it lost it
    known: _Waiting | None = None


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
        degraded: Degraded | None = None,
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
        self.degraded = degraded or Degraded(clock=clock)
        #: Calls whose socket this process holds, by call id.
        self.live: dict[str, LiveCall] = {}
        #: Exits Redis did not take yet, retried by :meth:`settle_pending`.
        self.unsettled: dict[str, Unsettled] = {}
        self.dial_margin = DIAL_MARGIN
        self.outage_patience = OUTAGE_PATIENCE

    # ---- the session -------------------------------------------------------

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
        if call_id in self.live:
            fresh = _distinct_id(call_id)
            log.warning("duplicate agi_uniqueid %s (channel %s): handled as call %s",
                        call_id, request.channel, fresh)
            call_id = fresh
        live = LiveCall(call_id, session, queue)
        self.live[call_id] = live
        try:
            await self._run(session, live)
        except (RedisError, OSError) as exc:
            # The socket closes with ACD_RESULT unset: the dialplan's fallback
            # queue takes the caller. One counted line, not a traceback per call.
            self.degraded.failed("redis", "handling a call", exc)
        except PeerSilent as exc:
            log.warning("call %s: %s; socket closed, the dialplan takes over", call_id, exc)
        except TimeoutError as exc:
            log.warning("call %s: Asterisk did not answer in time (%s); socket closed",
                        call_id, describe(exc))
        finally:
            self.live.pop(live.call_id, None)
            await self._settle(
                Unsettled(live.call_id, live.queue, session.hung_up, self.clock(),
                          conversation_goes_on=bool(live.dialing) and not session.hung_up)
            )

    async def _run(self, session: AgiSession, live: LiveCall) -> None:
        request = session.request
        queue = live.queue
        await session.answer()
        now = self.clock()
        if not queue.business_hours.is_open(now):
            await self._closed(session, queue)
            return
        if queue.greeting:
            await session.stream_file(queue.greeting)
        queue = await self._menu(session, queue)
        live.queue = queue
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
            live.queue = queue
            result = await self._queue_call(session, live, queue, arrival, priority, fields)
            if result in (WaitResult.ANSWERED, WaitResult.CALLBACK):
                await session.set_variable("ACD_RESULT", result.value)
                with contextlib.suppress(CallerHangup):
                    await session.hangup()
                return
            # Timed out or full: overflow keeps the original arrival time.
            target = self.config.queue(queue.overflow_queue) if queue.overflow_queue else None
            if target is not None and hops < MAX_OVERFLOW_HOPS:
                log.info("call %s overflows %s -> %s", live.call_id, queue.name, target.name)
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
        live: LiveCall,
        queue: QueueConfig,
        arrival: float,
        priority: int,
        fields: dict[str, str],
    ) -> WaitResult:
        now = self.clock()
        call_id = live.call_id
        offer = self.dispatcher.expect_offer(call_id)
        try:
            try:
                position = await self._enqueue(call_id, queue, arrival, priority, now, fields)
            except CallActive:
                # Another live call already has this id (a duplicate agi_uniqueid
                # across processes): this one gets its own.
                fresh = _distinct_id(call_id)
                log.warning("call id %s is already live: handled as %s", call_id, fresh)
                self.dispatcher.drop_offer(call_id)
                self.live.pop(call_id, None)
                call_id = live.call_id = fresh
                self.live[call_id] = live
                offer = self.dispatcher.expect_offer(call_id)
                position = await self._enqueue(call_id, queue, arrival, priority, now, fields)
            if position is None:
                log.info("queue %s full: call %s not queued", queue.name, call_id)
                return WaitResult.FULL
            state = _Waiting(call_id, queue, arrival, priority, queue_arrival=now,
                             fields=fields)
            live.waiting = True
            live.state = state
            return await self._wait(session, live, state, offer, now)
        finally:
            live.waiting = False
            live.state = None
            self.dispatcher.drop_offer(live.call_id)

    async def _enqueue(
        self,
        call_id: str,
        queue: QueueConfig,
        arrival: float,
        priority: int,
        queue_arrival: float,
        fields: dict[str, str],
    ) -> int | None:
        return await self.store.enqueue(
            call_id,
            queue.name,
            arrival=arrival,
            priority=priority,
            max_length=queue.max_length,
            now=self.clock(),
            queue_arrival=queue_arrival,
            fields={**fields, "target": str(queue.service_level_seconds)},
        )

    async def _hold_through_outage(
        self, session: AgiSession, what: str, step: Callable[[], Awaitable[T]]
    ) -> T:
        """Run one Redis step for a caller on hold. While Redis is unreachable
        the caller keeps the music and the step is retried, up to
        ``outage_patience`` seconds; then the error goes up and the dialplan's
        fallback queue takes the caller."""
        loop = asyncio.get_running_loop()
        started: float | None = None
        delay = 0.1
        while True:
            try:
                return await step()
            except (RedisError, OSError) as exc:
                self.degraded.failed("redis", what, exc)
                started = loop.time() if started is None else started
                if loop.time() - started >= self.outage_patience:
                    raise
                await session.guard(asyncio.sleep(delay))
                delay = min(delay * 2, 2.0)

    async def _wait(
        self,
        session: AgiSession,
        live: LiveCall,
        w: _Waiting,
        offer: asyncio.Future[str],
        entered: float,
    ) -> WaitResult:
        queue = w.queue
        await self._try_match(w.call_id, w.view(self.dispatcher.instance_id))
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
            if agent_id == REQUEUE:
                # Redis no longer has this live caller (it came back empty, or a
                # peer recorded the call lost): put it back, same arrival.
                offer = self.dispatcher.expect_offer(w.call_id)
                with contextlib.suppress(CallActive):
                    await self._hold_through_outage(
                        session, "re-queueing a call",
                        lambda: self._enqueue(w.call_id, queue, w.arrival, w.priority,
                                              w.queue_arrival, w.fields),
                    )
                log.warning("call %s was missing from Redis: queued again", w.call_id)
                await self._try_match(w.call_id)
                continue
            if agent_id is not None:
                missed_by = agent_id
                live.dialing = agent_id
                try:
                    answered = await self._ring(session, w, agent_id)
                finally:
                    live.dialing = ""
                if answered:
                    return WaitResult.ANSWERED
                offer = self.dispatcher.expect_offer(w.call_id)
                await self._try_match(w.call_id)
                # the agent who missed may take another caller (or this one again
                # if nobody else can)
                self._on_agent_free(missed_by)
                continue
            now = self.clock()
            if now >= deadline:
                outcome = Exit.OVERFLOWED if queue.overflow_queue else Exit.TIMED_OUT
                left = await self._hold_through_outage(
                    session, "ending a wait",
                    functools.partial(self._leave_now, w.call_id, outcome, queue),
                )
                if left.outcome is not Left.NONE:
                    await self._music_off(session, w)
                    return WaitResult.TIMEOUT
                continue  # an agent was reserved at the last moment: take it
            if now >= next_announce:
                try:
                    ewt = await self._announce(session, w)
                    if ewt is not None and await self._offer_callback(session, w, ewt):
                        return WaitResult.CALLBACK
                except (RedisError, OSError) as exc:
                    self.degraded.failed("redis", "announcing a position", exc)
                next_announce = self.clock() + period

    async def _try_match(self, call_id: str, known: CallView | None = None) -> None:
        """Look for an agent now; a Redis failure is left to the sweeper."""
        try:
            await self.dispatcher.match_call(call_id, known=known)
        except (RedisError, OSError) as exc:
            self.degraded.failed("redis", "matching a call", exc)

    async def _leave_now(self, call_id: str, outcome: Exit, queue: QueueConfig) -> LeaveResult:
        return await self.store.leave(call_id, outcome, queue.short_abandon_seconds, self.clock())

    async def _music_off(self, session: AgiSession, w: _Waiting) -> None:
        if w.music_on:
            await session.set_music(False)
            w.music_on = False

    async def _announce(self, session: AgiSession, w: _Waiting) -> float | None:
        """Position and expected wait; returns the expected wait announced."""
        position = await self.store.position(w.queue.name, w.call_id)
        if position is None:
            return None  # reserved for an agent meanwhile
        ewt = await self.expected_wait(w.queue, position)
        await self._music_off(session, w)
        if position == 1:
            await session.stream_file("queue-youarenext")
        else:
            await session.stream_file("queue-thereare")
            await session.say_number(position)
            await session.stream_file("queue-callswaiting")
        if ewt > 0:
            minutes = announce_minutes(ewt)
            await session.stream_file("queue-holdtime")
            await session.say_number(minutes)
            await session.stream_file("queue-minute" if minutes == 1 else "queue-minutes")
        await self.store.redis.hset(
            self.store.keys.call(w.call_id),
            mapping={"announced_ewt": repr(ewt), "announced_at": repr(self.clock())},
        )
        return ewt

    async def _offer_callback(self, session: AgiSession, w: _Waiting, ewt: float) -> bool:
        """Offer to call back, keeping the caller's place; True when taken."""
        cb = w.queue.callback
        if not cb.enabled or ewt < cb.offer_after_seconds:
            return False
        await self._music_off(session, w)
        if await session.stream_file(cb.offer_prompt, cb.key) != cb.key:
            return False
        # "Press 1 for the number you are calling from, or key in another, then #."
        typed = await session.get_data(cb.number_prompt, timeout_ms=8000, max_digits=20)
        typed = typed.rstrip("#")
        caller = session.request.callerid
        if typed in ("", "1"):
            number = caller if caller.isdigit() else ""
        else:
            number = typed if typed.isdigit() and 3 <= len(typed) <= 20 else ""
        if not number:
            log.info("call %s: callback refused, no usable number", w.call_id)
            return False
        if not await self.store.callback_requested(
            w.call_id, self.dispatcher.instance_id, number, self.clock()
        ):
            return False  # an agent was reserved meanwhile: the caller stays on the line
        log.info("call %s: callback to %s keeps its place in %s", w.call_id, number,
                 w.queue.name)
        with contextlib.suppress(CallerHangup):
            await session.stream_file(cb.confirm_prompt)
        return True

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

    async def _dial_still_expected(self, call_id: str, agent_id: str) -> bool:
        """A Dial past its ring timeout is legitimate only once the agent
        answered (it lasts the whole conversation): AMI recorded the answer,
        or the agent's phone is in use."""
        try:
            call = await self.store.call_for_routing(call_id)
            if call is not None and call.state is CallState.ON_CALL and call.agent == agent_id:
                return True
            rows = await self.store.agent_rows([agent_id], "phone_busy", "state", "call_id")
        except (RedisError, OSError):
            return True  # no evidence either way: do not cut a possible conversation
        row = rows.get(agent_id, {})
        return row.get("call_id") == call_id and (
            row.get("state") == AgentState.ON_CALL or row.get("phone_busy") == "1"
        )

    async def _ring(self, session: AgiSession, w: _Waiting, agent_id: str) -> bool:
        """Dial the reserved agent; True when the conversation happened."""
        agent = self.dispatcher.agents.get(agent_id)
        if agent is None:
            return False
        queue = w.queue
        await self._music_off(session, w)
        dial_started = self.clock()
        options = ("g",) if queue.survey else ()  # "g": the caller stays for the survey
        try:
            reply = await session.exec(
                "Dial", agent.endpoint, str(queue.ring_timeout_seconds), *options,
                timeout=queue.ring_timeout_seconds + self.dial_margin,
                keep_waiting=lambda: self._dial_still_expected(w.call_id, agent_id),
            )
        except TimeoutError:
            # Asterisk went silent mid-Dial: give the agent back now (not a miss).
            call = await self.store.call_for_routing(w.call_id)
            if call is not None:
                await self.store.ring_missed(
                    call, agent_id, "TIMEOUT", queue.auto_pause_after_misses, self.clock()
                )
            self._on_agent_free(agent_id)
            raise PeerSilent(
                0, f"no reply to Dial {agent.endpoint} within "
                f"{queue.ring_timeout_seconds + self.dial_margin:.0f} s", "EXEC Dial"
            ) from None
        status = (await session.get_variable("DIALSTATUS") or "").upper()
        now = self.clock()
        if status == "ANSWER":
            await self._finish_conversation(session, w, agent_id, dial_started, now)
            if queue.survey and not session.hung_up:
                await self._survey(session, w)
            return True
        if status == "CANCEL" or session.hung_up:
            # The caller hung up while the phone rang: the caller's abandon,
            # never the agent's miss (settled as the session ends).
            raise CallerHangup(f"caller hung up while {agent.endpoint} rang")
        if status not in RING_ENDED_STATUSES:
            log.info("Dial %s returned %s (%s)", agent.endpoint, status, reply.text)
        call = await self._hold_through_outage(
            session, "reading a call", lambda: self.store.call_for_routing(w.call_id)
        )
        if call is None:
            return False
        result = await self._hold_through_outage(
            session, "recording a missed ring",
            lambda: self.store.ring_missed(
                call, agent_id, status or "UNKNOWN", queue.auto_pause_after_misses, now
            ),
        )
        log.info("agent %s: ring for call %s ended %s: %s", agent_id, w.call_id, status, result)
        if ring_end(status) is RingEnd.UNREACHABLE:
            self._on_phone_unreachable(agent_id)
        return False

    async def _finish_conversation(
        self, session: AgiSession, w: _Waiting, agent_id: str, dial_started: float, now: float
    ) -> None:
        queue = w.queue
        try:
            # Usually AMI's DialEnd already recorded the answer; if not (AMI
            # down), CALL_FINISHED refuses and the answer is reconstructed.
            if not await self.store.call_finished(
                w.call_id, agent_id, queue.wrap_up_seconds, now
            ):
                answered_at = await self._answered_at(session, dial_started, now)
                await self._record_answer(w, agent_id, answered_at, now)
                await self.store.call_finished(w.call_id, agent_id, queue.wrap_up_seconds, now)
        except (RedisError, OSError) as exc:
            # Kept with the real times and written when Redis is back.
            self.degraded.failed("redis", "recording a finished conversation", exc)
            answered_at = await self._answered_at(session, dial_started, now)
            self.unsettled[w.call_id] = Unsettled(
                w.call_id, queue, True, now, answered=(agent_id, answered_at), known=w
            )
            return
        self._agent_done(queue, agent_id, now)

    async def _survey(self, session: AgiSession, w: _Waiting) -> None:
        """The caller scores the call 1-5 after the agent hung up (or skips it)."""
        try:
            digit = await session.get_data(w.queue.survey_prompt, timeout_ms=6000, max_digits=1)
        except CallerHangup:
            return
        if digit not in ("1", "2", "3", "4", "5"):
            log.info("call %s: survey skipped", w.call_id)
            return
        try:
            await self.store.survey(w.call_id, int(digit), self.clock())
        except (RedisError, OSError) as exc:
            self.degraded.failed("redis", "recording a survey", exc)
        if w.queue.survey_thanks:
            with contextlib.suppress(CallerHangup):
                await session.stream_file(w.queue.survey_thanks)

    async def _record_answer(
        self, w: _Waiting, agent_id: str, answered_at: float, now: float
    ) -> None:
        """Record an answer AMI did not; if Redis lost the ring itself (its
        last second), tell it again first, so the conversation is counted."""
        target = w.queue.service_level_seconds
        if await self.store.answered(w.call_id, agent_id, answered_at, target, now):
            return
        if await self._reassert_ring(w, agent_id):
            await self.store.answered(w.call_id, agent_id, answered_at, target, now)

    async def _reassert_ring(self, w: _Waiting, agent_id: str) -> bool:
        return await self.store.reassert_ring(
            w.call_id, agent_id, lease=self.dispatcher.lease_for(w.queue),
            queue=w.queue.name, arrival=w.arrival, queue_arrival=w.queue_arrival,
            priority=w.priority, owner=self.dispatcher.instance_id,
            fields={**w.fields, "target": str(w.queue.service_level_seconds)},
            now=self.clock(),
        )

    async def _answered_at(self, session: AgiSession, dial_started: float, now: float) -> float:
        """When the agent answered, from Dial's ANSWEREDTIME (talk seconds)."""
        try:
            talk = await session.get_variable("ANSWEREDTIME")
            answered_at = now - float(talk or 0)
        except (ValueError, AgiError, TimeoutError):
            answered_at = now
        return max(dial_started, answered_at)

    def _agent_done(self, queue: QueueConfig, agent_id: str, now: float) -> None:
        if queue.wrap_up_seconds > 0:
            self._on_wrap_up(agent_id, now + queue.wrap_up_seconds)
        else:
            self._on_agent_free(agent_id)

    # ---- settling ----------------------------------------------------------

    async def _settle(self, exit_: Unsettled) -> None:
        """The one place a session's exit reaches Redis; kept for a retry when
        Redis is unreachable."""
        if exit_.call_id in self.unsettled and exit_ is not self.unsettled[exit_.call_id]:
            return  # a finished conversation already waits for Redis
        try:
            await self._settle_now(exit_)
        except (RedisError, OSError) as exc:
            self.degraded.failed("redis", "settling a call", exc)
            self.unsettled[exit_.call_id] = exit_
            return
        self.unsettled.pop(exit_.call_id, None)

    async def _settle_now(self, exit_: Unsettled) -> None:
        call = await self.store.call_for_routing(exit_.call_id)
        if call is None and exit_.answered is not None and exit_.known is not None:
            # A conversation ended while Redis was down, and Redis came back
            # without the call (its last second lost): tell it again.
            await self._reassert_ring(exit_.known, exit_.answered[0])
            call = await self.store.call_for_routing(exit_.call_id)
        if call is None or call.owner != self.dispatcher.instance_id:
            return
        queue = self.config.queue(call.queue) or exit_.queue
        if exit_.answered is not None and call.state is CallState.RINGING:
            agent_id, answered_at = exit_.answered
            await self.store.answered(
                call.id, agent_id, answered_at, queue.service_level_seconds, exit_.at
            )
            call = dataclasses.replace(call, state=CallState.ON_CALL, agent=agent_id)
        if call.state is CallState.ON_CALL and exit_.conversation_goes_on:
            return
        if call.state is CallState.ON_CALL:
            # The conversation is over (or this process lost it): finish it
            # with the time the session really ended.
            if await self.store.call_finished(
                call.id, call.agent, queue.wrap_up_seconds, exit_.at
            ):
                self._agent_done(queue, call.agent, exit_.at)
            return
        if call.state not in (CallState.WAITING, CallState.RINGING):
            return
        # Hung up: an abandon. Otherwise the ACD let go of a live caller (an
        # error, a silent peer): the dialplan's fallback queue has them.
        outcome = Exit.ABANDONED if exit_.caller_hung_up else Exit.LOST
        left = await self.store.leave(call.id, outcome, queue.short_abandon_seconds, exit_.at)
        if left.outcome is not Left.NONE:
            log.info("call %s %s after %.1f s", call.id, left.outcome, left.wait)
        if call.state is CallState.RINGING and call.agent:
            self._on_agent_free(call.agent)

    async def reassert(self) -> int:
        """Make Redis agree with the Dials this process has in flight (a write
        lost with Redis's last second, a reservation taken back while the
        phone still rang) and renew their reservation leases; returns how
        many calls needed a repair."""
        repaired = 0
        for live in list(self.live.values()):
            w = live.state
            if not live.dialing or w is None:
                continue
            if await self._reassert_ring(w, live.dialing):
                repaired += 1
                log.warning("call %s: Redis had lost its ring to agent %s; repaired",
                            live.call_id, live.dialing)
        return repaired

    async def settle(
        self, call_id: str, queue: QueueConfig, caller_hung_up: bool, at: float
    ) -> None:
        """Settle a call this process owns but no longer handles (see :meth:`_settle`)."""
        await self._settle(Unsettled(call_id, queue, caller_hung_up, at))

    async def settle_pending(self) -> int:
        """Retry exits Redis did not take; returns how many are still pending."""
        for exit_ in list(self.unsettled.values()):
            try:
                await self._settle_now(exit_)
            except (RedisError, OSError):
                break
            self.unsettled.pop(exit_.call_id, None)
        return len(self.unsettled)
