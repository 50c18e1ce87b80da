"""Matching callers with agents.

The dispatcher reads state from the store, asks :mod:`acd.core.routing` for a
decision, and commits it with the store's atomic claim. A lost race (another
ACD process took the agent or the call first) just means trying again with
fresh state. The process that owns the call's FastAGI socket is told about the
match: directly when it is this process, by pub/sub otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from acd.core.models import AgentState, AgentView, CallState, CallView
from acd.core.routing import (
    Candidate,
    Reads,
    agent_qualifies,
    callback_due,
    choose_call,
    rank_agents,
    strategy_for,
)
from acd.core.settings import AgentConfig, Config, QueueConfig
from acd.store.store import Store

log = logging.getLogger(__name__)

HEAD_FIRST = 4  # waiting calls looked at first per queue when an agent frees up
HEAD_DEPTH = 20  # ...and at most, when none of the first can take the agent
CLAIM_ATTEMPTS = 3
CLAIM_FANOUT = 16  # ranked agents handed to one claim: the first still free wins
IDLE_WINDOW = 48  # longest-idle agents read first when matching a call
RESERVATION_MARGIN = 8.0  # seconds a reservation lease outlives the ring timeout


def _available_view(
    agent_id: str, idle_since: float, counters: tuple[int, float] | None
) -> AgentView:
    calls, talk = counters or (0, 0.0)
    return AgentView(
        id=agent_id, name=agent_id, state=AgentState.AVAILABLE, state_since=idle_since,
        pause_reason="", queue="", call_id="", reachable=True, missed=0,
        idle_since=idle_since, calls=calls, talk_seconds=talk, wrap_until=0.0,
    )


class Dispatcher:
    def __init__(
        self,
        store: Store,
        config: Config,
        instance_id: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.instance_id = instance_id
        self.clock = clock
        self.queues: dict[str, QueueConfig] = {q.name: q for q in config.queues}
        self.agents: dict[str, AgentConfig] = {a.id: a for a in config.agents}
        self._offers: dict[str, asyncio.Future[str]] = {}
        # A reservation's lease outlives the ring by this much, so it only
        # runs out when the process that dials has died or lost track.
        self.reservation_margin = RESERVATION_MARGIN
        # Runs a reserved callback (it has no caller's socket to tell).
        self.on_callback: Callable[[str, str], None] = lambda _call, _agent: None

    def lease_for(self, queue: QueueConfig | None) -> float:
        ring = queue.ring_timeout_seconds if queue is not None else 30
        return ring + self.reservation_margin

    # ---- local offers ------------------------------------------------------

    def expect_offer(self, call_id: str) -> asyncio.Future[str]:
        """A future resolved with the agent id when this call gets an agent."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._offers[call_id] = fut
        return fut

    def drop_offer(self, call_id: str) -> None:
        fut = self._offers.pop(call_id, None)
        if fut is not None and not fut.done():
            fut.cancel()

    def deliver(self, call_id: str, agent_id: str) -> bool:
        fut = self._offers.get(call_id)
        if fut is None or fut.done():
            return False
        fut.set_result(agent_id)
        return True

    async def _notify(self, call: CallView, agent_id: str) -> None:
        if call.is_callback:
            self.on_callback(call.id, agent_id)
        elif call.owner == self.instance_id:
            self.deliver(call.id, agent_id)
        else:
            await self.store.offer(call.owner, call.id)

    # ---- matching ----------------------------------------------------------

    async def match_call(self, call_id: str, known: CallView | None = None) -> bool:
        """Find an agent for one waiting call; True when one was reserved.

        Candidates come from the available set (members are available and
        reachable; the score is idle-since) and the static configuration, so
        no agent hash is read for the common strategies; the claim script
        reserves the first of the ranked agents that is still free. ``known``
        is the call as its owner just enqueued it (first attempt only; the
        claim script re-checks that it is still waiting).
        """
        for _ in range(CLAIM_ATTEMPTS):
            call = known if known is not None else await self.store.call_for_routing(call_id)
            known = None
            if call is None or call.state is not CallState.WAITING:
                return False
            queue = self.queues.get(call.queue)
            if queue is None:
                return False
            now = self.clock()
            if not callback_due(call, queue, now):
                return False
            waited = max(0.0, now - call.arrival)
            reads = strategy_for(queue).reads
            # An idle-ordered strategy finds its answer in the head of the
            # idle-ordered set nearly always; read the whole set only when not.
            limit = 0 if Reads.POOL in reads else IDLE_WINDOW
            pool: list[tuple[str, float]] = []
            while True:
                available = await self.store.available_with_idle(limit)
                pool = [
                    (aid, idle)
                    for aid, idle in available
                    if aid in self.agents and agent_qualifies(self.agents[aid], queue, waited)
                ]
                if pool or limit == 0 or len(available) < limit:
                    break
                limit = 0
            if not pool:
                return False
            counters: dict[str, tuple[int, float]] = {}
            if Reads.COUNTERS in reads:
                counters = await self.store.agent_counters([aid for aid, _ in pool])
            last = ""
            if Reads.LAST_ASSIGNED in reads:
                last = await self.store.last_assigned(queue.name)
            candidates = [
                Candidate(_available_view(aid, idle, counters.get(aid)), self.agents[aid])
                for aid, idle in pool
            ]
            ranked = rank_agents(queue, candidates, call, now, last_assigned=last)
            if not ranked:
                return False
            preference = [c.view.id for c in ranked[:CLAIM_FANOUT]]
            agent_id = await self.store.claim_first(
                call.id, preference, now, self.lease_for(queue)
            )
            if agent_id:
                await self._notify(call, agent_id)
                return True
        return False

    async def match_agent(self, agent_id: str) -> bool:
        """Find the call a newly available agent should take."""
        config = self.agents.get(agent_id)
        if config is None:
            return False
        for _ in range(CLAIM_ATTEMPTS):
            state, reachable, _ = await self.store.agent_routing_state(agent_id)
            if state != AgentState.AVAILABLE or not reachable:
                return False
            call = None
            # The first few callers of each queue usually decide; look deeper
            # only when none of them can take this agent (skills, relaxation).
            for depth in (HEAD_FIRST, HEAD_DEPTH):
                heads = {
                    q: await self.store.waiting_heads(q, depth)
                    for q in config.queues
                    if q in self.queues
                }
                now = self.clock()
                call = choose_call(config, agent_id, heads, self.queues, now)
                if call is not None or all(len(h) < depth for h in heads.values()):
                    break
            if call is None:
                return False
            if agent_id in call.tried:
                # This phone just failed that caller: let a fresh agent have it
                # first (match_call prefers agents who have not tried).
                await self.match_call(call.id)
                continue
            if await self.store.claim(
                call.id, agent_id, now, self.lease_for(self.queues.get(call.queue))
            ):
                await self._notify(call, agent_id)
                return True
        return False

    async def sweep(self) -> int:
        """Match everything that can be matched now; returns matches made.

        Walks available agents longest-idle first, so queues are served
        fairly, and picks up relaxed skill requirements as waits grow.
        """
        counts = await self.store.waiting_counts(list(self.queues))
        busy = {q for q, n in counts.items() if n > 0}
        if not busy:
            return 0
        made = 0
        for agent_id in await self.store.available_agent_ids():
            config = self.agents.get(agent_id)
            if config is None or not busy.intersection(config.queues):
                continue
            if await self.match_agent(agent_id):
                made += 1
        return made
