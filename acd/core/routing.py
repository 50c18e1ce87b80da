"""Routing policy: pure functions over state, with the clock passed in.

Nothing here touches Redis or Asterisk; the dispatcher reads state, asks these
functions what to do, and commits the decision atomically in Redis.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from acd.core.models import AgentView, CallView
from acd.core.settings import AgentConfig, QueueConfig


@dataclass(frozen=True, slots=True)
class Candidate:
    """An agent that could take a call right now, with its static configuration."""

    view: AgentView
    config: AgentConfig


def effective_min_proficiency(queue: QueueConfig, base: int, waited: float) -> int:
    """The minimum skill proficiency for a caller who has waited ``waited`` s.

    Relaxation steps lower the bar as the wait grows, so a long-waiting caller
    reaches more agents; the bar never rises above the configured base.
    """
    level = base
    for step in queue.relaxation:
        if waited >= step.after_seconds:
            level = min(level, step.min_proficiency)
    return level


def agent_qualifies(agent: AgentConfig, queue: QueueConfig, waited: float) -> bool:
    """Does this agent serve the queue with every required skill, given the wait?"""
    if queue.name not in agent.queues:
        return False
    for req in queue.required_skills:
        needed = effective_min_proficiency(queue, req.min_proficiency, waited)
        if agent.skills.get(req.skill, 0) < needed:
            return False
    return True


class Reads(enum.Flag):
    """What a strategy needs beyond the longest-idle head of the available set."""

    HEAD = 0  # the longest-idle agents are enough
    POOL = enum.auto()  # every available agent (the order is not idle time)
    COUNTERS = enum.auto()  # today's calls and talk time per agent
    LAST_ASSIGNED = enum.auto()  # the agent the queue offered a call to last


@dataclass(frozen=True, slots=True)
class Context:
    """What a strategy's ordering may look at besides the candidate."""

    queue: QueueConfig
    call: CallView
    now: float
    last_assigned: str = ""


@dataclass(frozen=True, slots=True)
class Strategy:
    """A routing strategy: a sort key over candidates (smallest first) and
    what the dispatcher must read for it."""

    name: str
    order: Callable[[Candidate, Context], tuple[object, ...]]
    reads: Reads
    summary: str


STRATEGIES: dict[str, Strategy] = {}
DEFAULT_STRATEGY = "longest_idle"


def strategy(
    name: str, *, reads: Reads = Reads.HEAD, summary: str
) -> Callable[[Callable[[Candidate, Context], tuple[object, ...]]],
              Callable[[Candidate, Context], tuple[object, ...]]]:
    """Register a strategy's ordering under ``name`` (a queue's ``strategy``)."""

    def register(
        order: Callable[[Candidate, Context], tuple[object, ...]]
    ) -> Callable[[Candidate, Context], tuple[object, ...]]:
        STRATEGIES[name] = Strategy(name, order, reads, summary)
        return order

    return register


def strategy_for(queue: QueueConfig) -> Strategy:
    """The queue's strategy (the loader has checked the name)."""
    return STRATEGIES.get(queue.strategy) or STRATEGIES[DEFAULT_STRATEGY]


@strategy("longest_idle", summary="the agent idle longest")
def _longest_idle(c: Candidate, _ctx: Context) -> tuple[object, ...]:
    return (c.view.idle_since, c.view.id)


@strategy("most_skilled", reads=Reads.POOL,
          summary="highest queue proficiency, then required skills, then longest idle")
def _most_skilled(c: Candidate, ctx: Context) -> tuple[object, ...]:
    required = sum(c.config.skills.get(r.skill, 0) for r in ctx.queue.required_skills)
    return (-c.config.queues.get(ctx.queue.name, 0), -required, c.view.idle_since, c.view.id)


@strategy("round_robin", reads=Reads.POOL | Reads.LAST_ASSIGNED,
          summary="the next agent after the last one offered a call, by id, across processes")
def _round_robin(c: Candidate, ctx: Context) -> tuple[object, ...]:
    return (c.view.id <= ctx.last_assigned, c.view.id)


@strategy("fewest_calls", reads=Reads.POOL | Reads.COUNTERS,
          summary="fewest calls today, then longest idle")
def _fewest_calls(c: Candidate, _ctx: Context) -> tuple[object, ...]:
    return (c.view.calls, c.view.idle_since, c.view.id)


@strategy("least_talk_time", reads=Reads.POOL | Reads.COUNTERS,
          summary="least talk time today, then longest idle")
def _least_talk_time(c: Candidate, _ctx: Context) -> tuple[object, ...]:
    return (c.view.talk_seconds, c.view.idle_since, c.view.id)


@strategy("weighted_idle", reads=Reads.POOL,
          summary="longest idle, the idle time weighted by the agent's queue proficiency")
def _weighted_idle(c: Candidate, ctx: Context) -> tuple[object, ...]:
    # proficiency 100 idle 60 s ranks with proficiency 50 idle 120 s
    weight = max(1, c.config.queues.get(ctx.queue.name, 0)) / 100
    return (-(ctx.now - c.view.idle_since) * weight, c.view.id)


def rank_agents(
    queue: QueueConfig,
    candidates: Iterable[Candidate],
    call: CallView,
    now: float,
    *,
    last_assigned: str = "",
) -> list[Candidate]:
    """Eligible agents for ``call``, best first, by the queue's strategy.

    Agents who already missed this call come last: the caller should not
    bounce back to the phone that just did not answer while others are free.
    """
    waited = max(0.0, now - call.arrival)
    eligible = [
        c
        for c in candidates
        if c.view.reachable and agent_qualifies(c.config, queue, waited)
    ]
    ctx = Context(queue, call, now, last_assigned)
    order = strategy_for(queue).order
    eligible.sort(key=lambda c: order(c, ctx))
    # stable: keeps the strategy's order within each group
    eligible.sort(key=lambda c: c.view.id in call.tried)
    return eligible


class RingEnd(enum.StrEnum):
    """What a ring that ended without a conversation says about the agent."""

    MISSED = "missed"  # the person did not answer: counts toward auto-pause
    MISSED_UNLESS_IN_USE = "missed_unless_in_use"  # BUSY: a miss unless the phone is in use
    UNREACHABLE = "unreachable"  # the phone could not be reached: presence, not a miss
    NOT_MISSED = "not_missed"  # congestion, a failed line, a silent PBX: nobody's fault


_RING_ENDS = {
    "NOANSWER": RingEnd.MISSED,
    "BUSY": RingEnd.MISSED_UNLESS_IN_USE,
    "CHANUNAVAIL": RingEnd.UNREACHABLE,
}


def ring_end(dial_status: str) -> RingEnd:
    """Classify Asterisk's ``DIALSTATUS`` (or the ACD's own ``TIMEOUT``) for a
    ring that ended without a conversation. Whether the phone is in use on
    another call is known only to the store, which settles the BUSY case."""
    return _RING_ENDS.get(dial_status, RingEnd.NOT_MISSED)


def queue_weight(queue: QueueConfig) -> float:
    """Multiplier on waiting time when one agent serves several queues.

    Priority 0 counts waits as they are; each priority step adds 10 %, so a
    priority-5 queue's 100 s wait competes like a 150 s wait elsewhere.
    """
    return 1.0 + max(0, queue.priority) / 10.0


def choose_call(
    agent: AgentConfig,
    agent_id: str,
    heads: Mapping[str, Sequence[CallView]],
    queues: Mapping[str, QueueConfig],
    now: float,
) -> CallView | None:
    """Pick the call a newly free agent takes, fairly across its queues.

    VIP priority first; then the longest wait weighted by queue priority.
    ``heads`` holds the first few waiting calls of each queue the agent serves.
    """
    best: tuple[tuple[int, int, float], CallView] | None = None
    for queue_name, calls in heads.items():
        queue = queues.get(queue_name)
        if queue is None:
            continue
        for call in calls:
            if not callback_due(call, queue, now):
                continue
            waited = max(0.0, now - call.arrival)
            if not agent_qualifies(agent, queue, waited):
                continue
            not_tried = 0 if agent_id in call.tried else 1
            key = (not_tried, call.priority, waited * queue_weight(queue))
            if best is None or key > best[0]:
                best = (key, call)
    return best[1] if best else None


def callback_due(call: CallView, queue: QueueConfig, now: float) -> bool:
    """A waiting call may be offered now: every caller on the line, and a
    callback once its retry time has come and the queue is open."""
    if not call.is_callback:
        return True
    return call.not_before <= now and queue.business_hours.is_open(now)


def expected_wait(position: int, agents_serving: int, aht_seconds: float) -> float:
    """Expected wait for the caller at ``position`` (1 = next) in seconds.

    With every serving agent busy, calls leave the queue at rate n / AHT, so
    the k-th caller waits k * AHT / n on average.
    """
    if position <= 0:
        return 0.0
    n = max(1, agents_serving)
    return position * aht_seconds / n


def announce_minutes(seconds: float) -> int:
    """Round an expected wait up to whole minutes for the announcement (min 1)."""
    return max(1, math.ceil(seconds / 60.0))
