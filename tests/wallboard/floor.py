"""A contact-centre floor for the wallboard and API tests, made only through
the real store (:class:`acd.store.store.Store` and its Lua scripts): agents
change state by agent commands and by calls put through the call scripts,
callers wait because they were enqueued, and history is counted by the
scripts or added with ``ADD_COUNTERS`` (the path the demo's simulated morning
takes). Nothing here writes an ACD key by hand, so the board reads exactly
what the ACD writes, and every change is announced by the script that made it.

Time is always passed in (``at``): the scripts record it as their clock.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from acd.agents import AgentCommands
from acd.core.agent_rules import Command, Status
from acd.core.models import AgentState, AgentView, Exit, Left
from acd.core.settings import AgentConfig, Config, QueueConfig
from acd.dispatcher import Dispatcher
from acd.store.store import Store

# Seconds a Floor-made ring lasts before the agent answers (when the wait allows).
RING_SECONDS = 3.0
# Reservation lease of a Floor-made ring: nothing in these tests runs the
# ACD's lease expiry, but a ring must never end by itself mid-test either.
LEASE_SECONDS = 24 * 3600.0
CALL_STATES = (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)


def stamp(t: float | None = None) -> float:
    """A time (now by default) that survives a change message unchanged: the
    scripts encode ``at`` with cjson, which keeps 14 significant digits, so a
    test comparing ``last_change_at`` with its own ``at`` uses milliseconds."""
    return round(time.time() if t is None else t, 3)


class Floor:
    """Agents, callers and counters of one configuration, through the store."""

    def __init__(self, store: Store, config: Config, owner: str = "floor") -> None:
        self.store = store
        self.config = config
        # The ACD process that "holds" the callers' sockets (none runs here).
        self.owner = owner
        self._serial = itertools.count(1)

    @classmethod
    async def open(
        cls, redis: aioredis.Redis, config: Config, now: float, *, reachable: bool = True
    ) -> Floor:
        """The floor as the ACD leaves it at start: every configured agent in
        the store, logged out; with ``reachable`` their softphones registered."""
        floor = cls(Store(redis, config.redis), config)
        await floor.store.ensure_agents(config.agents, now)
        if reachable:
            for agent in config.agents:
                await floor.store.set_reachable(agent.id, True, now)
        return floor

    def commands(self, clock: Callable[[], float]) -> AgentCommands:
        """The ACD's own agent commands (what the HTTP API calls) on this
        floor's store, with a dispatcher that offers waiting callers to an
        agent who becomes available."""
        dispatcher = Dispatcher(self.store, self.config, self.owner, clock)
        return AgentCommands(self.store, dispatcher, clock)

    # ---- configuration ------------------------------------------------------

    def _agent_config(self, agent_id: str) -> AgentConfig:
        agent = self.config.agent(agent_id)
        if agent is None:
            raise LookupError(f"agent {agent_id!r} is not configured")
        return agent

    def _queue(self, name: str) -> QueueConfig:
        return self.config.queue(name) or QueueConfig(name=name)

    def _call_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._serial)}"

    async def view(self, agent_id: str) -> AgentView:
        view = await self.store.agent(agent_id)
        assert view is not None, f"agent {agent_id} is not in the store"
        return view

    async def rename_agent(self, agent_id: str, name: str, now: float) -> None:
        """The ACD started again with the agent renamed in its configuration:
        the name changes in the store and, as at any start, no change message
        is sent."""
        renamed = dataclasses.replace(self._agent_config(agent_id), name=name)
        await self.store.ensure_agents([renamed], now)

    # ---- callers ------------------------------------------------------------

    async def caller(
        self,
        call_id: str,
        queue: str,
        *,
        arrival: float,
        name: str = "",
        number: str = "",
        priority: int = 0,
        callback: bool = False,
    ) -> int:
        """A caller enters ``queue`` at ``arrival`` and waits (offered there);
        with ``callback`` they then ask to be called back and hang up, keeping
        their place. Returns the position in the queue."""
        fields = {
            "caller_id": number,
            "caller_name": name,
            "owner": self.owner,
            "target": str(self._queue(queue).service_level_seconds),
        }
        position = await self.store.enqueue(
            call_id, queue, arrival=arrival, priority=priority, max_length=0, now=arrival,
            fields=fields,
        )
        assert position is not None, f"queue {queue} refused {call_id}"
        if callback:
            assert await self.store.callback_requested(
                call_id, self.owner, number or "+10000000000", arrival
            ), f"{call_id} could not become a callback"
        return position

    async def leaves(self, call_id: str, at: float, outcome: Exit = Exit.ABANDONED) -> Left:
        """A waiting (or ringing) caller leaves without an agent at ``at``."""
        call = await self.store.call(call_id)
        assert call is not None, f"no call {call_id}"
        short = self._queue(call.queue).short_abandon_seconds
        return (await self.store.leave(call_id, outcome, short, at)).outcome

    async def abandoned(
        self, queue: str, *, arrival: float, wait: float, name: str = ""
    ) -> Left:
        """A caller who hangs up after ``wait`` seconds in the queue (a short
        abandon under the queue's threshold)."""
        call_id = self._call_id(f"ab-{queue}")
        await self.caller(call_id, queue, arrival=arrival, name=name)
        return await self.leaves(call_id, arrival + wait)

    async def lost(self, queue: str, *, arrival: float, at: float) -> None:
        """A caller the ACD could not keep (the dialplan's fallback took them)."""
        call_id = self._call_id(f"lost-{queue}")
        await self.caller(call_id, queue, arrival=arrival)
        assert await self.leaves(call_id, at, Exit.LOST) is Left.LOST

    async def answered_call(
        self,
        queue: str,
        *,
        agent: str,
        arrival: float,
        wait: float,
        talk: float,
        wrap: float = 0.0,
        name: str = "",
    ) -> str:
        """A whole conversation: the caller waits ``wait`` seconds, ``agent``
        answers, talks ``talk`` seconds and wraps up ``wrap`` seconds, then is
        available again. The agent must be free (logged out: it logs in when
        the caller arrives). Returns the call id."""
        call_id = self._call_id(f"call-{queue}")
        await self._make_available(agent, arrival)
        await self.caller(call_id, queue, arrival=arrival, name=name)
        answer = arrival + wait
        await self._ring(call_id, agent, answer - min(RING_SECONDS, wait))
        await self._answer(call_id, agent, queue, answer)
        assert await self.store.call_finished(call_id, agent, int(wrap), answer + talk)
        await self._end_call(await self.view(agent), answer + talk + int(wrap))
        return call_id

    # ---- counters -----------------------------------------------------------

    async def history(self, queue: str, at: float, **values: float) -> None:
        """Counters added to ``queue``'s interval holding ``at`` in one step
        (history from elsewhere, or figures too large to dial call by call)."""
        await self.store.add_counters(queue, at, values, at)

    # ---- agents -------------------------------------------------------------

    async def agent(
        self,
        agent_id: str,
        state: AgentState | str,
        *,
        at: float,
        reason: str = "",
        queue: str = "",
        reachable: bool = True,
        phone_busy: bool = False,
        pending: Command | None = None,
        pending_reason: str = "",
        call_id: str = "",
        caller_name: str = "",
        caller_id: str = "",
        wait: float = 20.0,
        talk: float = 60.0,
        wrap: float = 60.0,
    ) -> AgentView:
        """Bring ``agent_id`` into ``state`` at ``at`` the way the ACD would.

        Ringing, on a call and in wrap-up mean a real call in ``queue`` (the
        agent's first queue by default): the caller arrived ``wait`` seconds
        before the answer, the conversation lasted ``talk`` seconds (wrap-up
        starts at ``at`` and lasts ``wrap``); that call is offered and, once
        answered, answered in its queue's figures. A call the agent was already
        in ends first (ringing: the caller hangs up; on a call: it ends without
        wrap-up; wrap-up: it runs out). An agent already available re-enters
        availability at ``at`` (a pause of no length). ``pending``: a pause or
        logout asked for during the call. ``reachable`` and ``phone_busy`` are
        the softphone's presence, set last.
        """
        target = AgentState(state)
        q = queue or next(iter(self._agent_config(agent_id).queues), "")
        answer = at - talk if target is AgentState.WRAP_UP else at
        arrival = at - wait if target is AgentState.RINGING else answer - wait
        start = arrival if target in CALL_STATES else at
        await self._end_call(await self.view(agent_id), start)
        # A call can be offered only to a reachable phone that is not in use.
        await self.store.set_reachable(agent_id, True, start)
        await self.store.set_phone_busy(agent_id, False, start)
        commands = self.store.agent_command
        current = (await self.view(agent_id)).state
        if target is AgentState.LOGGED_OUT:
            await commands(agent_id, Command.LOGOUT, at)
        elif target is AgentState.AVAILABLE:
            if current is AgentState.AVAILABLE:
                await commands(agent_id, Command.PAUSE, at, "")
            await self._make_available(agent_id, at)
        elif target is AgentState.PAUSED:
            if current is AgentState.LOGGED_OUT:
                await commands(agent_id, Command.LOGIN, at)
            await commands(agent_id, Command.PAUSE, at, reason)
        else:
            cid = call_id or self._call_id(f"call-{agent_id}")
            await self._make_available(agent_id, start)
            await self.caller(cid, q, arrival=arrival, name=caller_name, number=caller_id)
            if target is AgentState.RINGING:
                await self._ring(cid, agent_id, at)
            else:
                await self._ring(cid, agent_id, answer - min(RING_SECONDS, wait))
                await self._answer(cid, agent_id, q, answer)
            if target is AgentState.WRAP_UP:
                assert wrap >= 1, "a wrap-up needs a length"
                assert await self.store.call_finished(cid, agent_id, int(wrap), at)
        if pending is not None:
            result = await commands(agent_id, pending, at, pending_reason)
            assert result.status is Status.PENDING, f"{agent_id}: {pending} was not left pending"
        if not reachable:
            await self.store.set_reachable(agent_id, False, at)
        if phone_busy:
            await self.store.set_phone_busy(agent_id, True, at)
        view = await self.view(agent_id)
        assert view.state is target, f"{agent_id} is {view.state}, not {target}"
        return view

    async def _make_available(self, agent_id: str, at: float) -> None:
        state = (await self.view(agent_id)).state
        if state is AgentState.LOGGED_OUT:
            await self.store.agent_command(agent_id, Command.LOGIN, at)
        elif state is AgentState.PAUSED:
            await self.store.agent_command(agent_id, Command.UNPAUSE, at)
        elif state is not AgentState.AVAILABLE:
            raise AssertionError(f"{agent_id} is {state}: it cannot take a call")

    async def _end_call(self, view: AgentView, at: float) -> None:
        if view.state is AgentState.RINGING:
            await self.leaves(view.call_id, at)
        elif view.state is AgentState.ON_CALL:
            assert await self.store.call_finished(view.call_id, view.id, 0, at)
        elif view.state is AgentState.WRAP_UP:
            # The stored end (at + wrap, as the script computed it).
            assert await self.store.wrap_up_expired(view.id, max(at, view.wrap_until))

    async def _ring(self, call_id: str, agent_id: str, at: float) -> None:
        assert await self.store.claim(call_id, agent_id, at, LEASE_SECONDS), (
            f"{agent_id} could not be reserved for {call_id}"
        )

    async def _answer(self, call_id: str, agent_id: str, queue: str, at: float) -> None:
        target = self._queue(queue).service_level_seconds
        assert await self.store.answered(call_id, agent_id, at, target, at)
