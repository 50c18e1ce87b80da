"""Routing policy: pure functions over state, with the clock passed in.

Nothing here touches Redis or Asterisk; the dispatcher reads state, asks these
functions what to do, and commits the decision atomically in Redis.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from acd.config.model import AgentConfig, BusinessHours, QueueConfig, RoutingStrategy
from acd.core.models import AgentView, CallView


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


def _skill_score(agent: AgentConfig, queue: QueueConfig) -> tuple[int, int]:
    required = sum(agent.skills.get(r.skill, 0) for r in queue.required_skills)
    return agent.queues.get(queue.name, 0), required


def rank_agents(
    queue: QueueConfig,
    candidates: Iterable[Candidate],
    call: CallView,
    now: float,
    *,
    last_round_robin: str = "",
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
    strategy = queue.strategy
    if strategy is RoutingStrategy.MOST_SKILLED:
        eligible.sort(key=lambda c: (*(-x for x in _skill_score(c.config, queue)),
                                     c.view.idle_since, c.view.id))
    elif strategy is RoutingStrategy.ROUND_ROBIN:
        eligible.sort(key=lambda c: (c.view.id <= last_round_robin, c.view.id))
    elif strategy is RoutingStrategy.FEWEST_CALLS:
        eligible.sort(key=lambda c: (c.view.calls, c.view.idle_since, c.view.id))
    elif strategy is RoutingStrategy.LEAST_TALK_TIME:
        eligible.sort(key=lambda c: (c.view.talk_seconds, c.view.idle_since, c.view.id))
    else:
        eligible.sort(key=lambda c: (c.view.idle_since, c.view.id))
    # stable: keeps the strategy's order within each group
    eligible.sort(key=lambda c: c.view.id in call.tried)
    return eligible


def choose_agent(
    queue: QueueConfig,
    candidates: Iterable[Candidate],
    call: CallView,
    now: float,
    *,
    last_round_robin: str = "",
) -> Candidate | None:
    """The best agent for ``call`` (see :func:`rank_agents`), or None."""
    ranked = rank_agents(queue, candidates, call, now, last_round_robin=last_round_robin)
    return ranked[0] if ranked else None


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
    return call.not_before <= now and is_open(queue.business_hours, now)


def is_open(hours: BusinessHours, now: float) -> bool:
    """Is the queue open at epoch ``now`` in the hours' own time zone?"""
    tz = zoneinfo.ZoneInfo(hours.timezone)
    local = dt.datetime.fromtimestamp(now, tz)
    if local.date() in hours.holidays:
        return False
    if not hours.weekly:
        return True
    ranges = hours.weekly.get(local.isoweekday(), ())
    t = local.time()
    for r in ranges:
        if r.start <= r.end:
            if r.start <= t < r.end:
                return True
        elif t >= r.start or t < r.end:  # spans midnight
            return True
    return False


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
