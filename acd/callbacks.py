"""Callbacks that keep the caller's place.

A caller on hold who asks for a callback (see ``CallFlow._offer_callback``)
hangs up; the call stays in the queue's waiting set with its original
arrival and priority, with no FastAGI socket behind it. When an agent is
reserved for it (the ordinary matching, in any ACD process), this module
runs it:

1. AMI ``Originate`` rings the agent's phone into the dialplan context of the
   queue's ``[queues.callback] context`` (``acd-callback`` in
   ``asterisk/extensions.conf``) with ``ACD_CALLBACK`` set to the call id;
   an ``OriginateResponse`` failure is the agent's missed ring and the
   callback waits again in its place.
2. The context runs ``AGI(.../callback?call=ID)`` on the agent's channel: the
   agent hears that this is a callback, then the caller is dialled. Answered:
   the wait is counted up to that moment and the conversation, wrap-up and
   statistics go as for any call. Not answered: another attempt after
   ``retry_seconds``, until ``attempts`` are used up (outcome
   ``callback_failed``, never an abandon).

Everything lives in Redis, so a callback survives an ACD restart and can be
run by whichever process matches it; a runner that dies mid-way leaves a
reservation whose lease runs out and the callback waits again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError

from acd.call_flow import CallFlow
from acd.core.models import CallState
from acd.core.settings import Config, QueueConfig
from acd.degraded import Degraded
from acd.store.store import Store
from telephony.agi_server import AgiSession
from telephony.ami_client import AmiClient
from telephony.ami_codec import AmiMessage
from telephony.errors import AgiError, AmiError, CallerHangup

log = logging.getLogger(__name__)



def _endpoint_of(channel: str) -> str:
    """``PJSIP/1001-0000002a`` -> ``pjsip/1001`` (lower case)."""
    base = channel.rsplit("-", 1)[0] if "-" in channel.split("/", 1)[-1] else channel
    return base.lower()


class Callbacks:
    """Runs reserved callbacks for one ACD process."""

    def __init__(
        self,
        config: Config,
        store: Store,
        flow: CallFlow,
        clock: Callable[[], float],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        ami: Callable[[], AmiClient | None],
        degraded: Degraded,
        instance_id: str,
    ) -> None:
        self.config = config
        self.store = store
        self.flow = flow
        self.clock = clock
        self._spawn = spawn
        self._ami = ami
        self.degraded = degraded
        self.instance_id = instance_id
        # endpoint (lower case) -> (call id, agent id) being originated
        self._originating: dict[str, tuple[str, str]] = {}

    # ---- starting one ------------------------------------------------------

    def start(self, call_id: str, agent_id: str) -> None:
        """An agent was reserved for callback ``call_id`` (the dispatcher's hook)."""
        self._spawn(self._originate(call_id, agent_id))

    def _queue(self, name: str) -> QueueConfig | None:
        return self.config.queue(name)

    async def _failed(self, call_id: str, agent_id: str, who: str, queue: QueueConfig) -> str:
        cb = queue.callback
        result = await self.store.callback_failed(
            call_id, agent_id, who, retry_seconds=cb.retry_seconds, attempts=cb.attempts,
            auto_pause_after=queue.auto_pause_after_misses, now=self.clock(),
        )
        log.info("callback %s (agent %s, %s did not answer): %s", call_id, agent_id, who, result)
        self.flow._on_agent_free(agent_id)
        return result

    async def _originate(self, call_id: str, agent_id: str) -> None:
        try:
            call = await self.store.call(call_id)
            if call is None or call.state is not CallState.RINGING or call.agent != agent_id:
                return
            queue = self._queue(call.queue)
            agent = self.config.agent(agent_id)
            if queue is None or agent is None:
                return
            number = (await self.store.call_rows([call_id], "callback_number"))[call_id].get(
                "callback_number", ""
            )
            cb = queue.callback
            lease = queue.ring_timeout_seconds + cb.ring_seconds + 60
            if not await self.store.callback_running(call_id, agent_id, self.instance_id,
                                                     lease, self.clock()):
                return
            ami = self._ami()
            if ami is None or not ami.connected or not number:
                await self._failed(call_id, agent_id, "none", queue)
                return
            self._originating[agent.endpoint.lower()] = (call_id, agent_id)
            try:
                await ami.action(
                    "Originate",
                    Channel=agent.endpoint,
                    Context=cb.context,
                    Exten=number,
                    Priority="1",
                    CallerID=f'"Callback" <{number}>',
                    Timeout=str(queue.ring_timeout_seconds * 1000),
                    Variable=f"ACD_CALLBACK={call_id}",
                    Async="true",
                )
            except AmiError as exc:
                self._originating.pop(agent.endpoint.lower(), None)
                log.warning("callback %s: Originate refused (%s)", call_id, exc)
                await self._failed(call_id, agent_id, "none", queue)
        except (RedisError, OSError) as exc:
            # The reservation lease runs out and the callback waits again.
            self.degraded.failed("redis", "starting a callback", exc)

    async def on_originate_response(self, msg: AmiMessage) -> None:
        """``OriginateResponse``: a failure is the agent not answering."""
        pending = self._originating.pop(_endpoint_of(msg.get("Channel") or ""), None)
        if pending is None or (msg.get("Response") or "").lower() == "success":
            return
        call_id, agent_id = pending
        call = await self.store.call(call_id)
        queue = self._queue(call.queue) if call is not None else None
        if queue is not None:
            await self._failed(call_id, agent_id, "agent", queue)

    # ---- the agent's leg (FastAGI "callback?call=ID") ------------------------

    async def handle(self, session: AgiSession) -> None:
        call_id = session.request.query.get("call", "")
        if not call_id:
            call_id = await session.get_variable("ACD_CALLBACK") or ""
        call = await self.store.call(call_id) if call_id else None
        queue = self._queue(call.queue) if call is not None else None
        if call is None or queue is None or call.state is not CallState.RINGING:
            log.warning("callback leg for %r: no such callback waiting for an agent", call_id)
            await session.hangup()
            return
        agent_id = call.agent
        number = (await self.store.call_rows([call_id], "callback_number"))[call_id].get(
            "callback_number", ""
        )
        cb = queue.callback
        settled = False
        try:
            if cb.agent_prompt:
                await session.stream_file(cb.agent_prompt)
            dial_started = self.clock()
            await session.exec(
                "Dial", cb.dial.format(number=number), str(cb.ring_seconds),
                timeout=cb.ring_seconds + self.flow.dial_margin,
                keep_waiting=lambda: self.flow._dial_still_expected(call_id, agent_id),
            )
            status = (await session.get_variable("DIALSTATUS") or "").upper()
            now = self.clock()
            if status != "ANSWER":
                await self._failed(call_id, agent_id, "caller", queue)
                settled = True
                return
            answered_at = await self.flow._answered_at(session, dial_started, now)
            await self.store.answered(call_id, agent_id, answered_at,
                                      queue.service_level_seconds, now)
            await self.store.call_finished(call_id, agent_id, queue.wrap_up_seconds, now)
            settled = True
            self.flow._agent_done(queue, agent_id, now)
            log.info("callback %s reached %s (agent %s)", call_id, number, agent_id)
        except (CallerHangup, AgiError, TimeoutError) as exc:
            log.info("callback %s: the agent's leg ended early (%s)", call_id, exc)
        finally:
            if not settled:
                try:
                    await self._failed(call_id, agent_id, "none", queue)
                except (RedisError, OSError) as exc:
                    self.degraded.failed("redis", "settling a callback", exc)
            with_hangup = not session.hung_up
            if with_hangup:
                try:
                    await session.hangup()
                except (AgiError, TimeoutError):
                    pass
