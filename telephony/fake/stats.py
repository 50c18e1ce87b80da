"""Statistics of simulated calls: what a traffic run observed, from the callers' side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telephony.fake.agi_caller import CallOutcome, FakeCall

__all__ = ["TrafficStats", "traffic_stats"]


@dataclass(frozen=True, slots=True)
class TrafficStats:
    """What :func:`telephony.fake.traffic.run_traffic` observed."""

    placed: int
    answered: int
    abandoned: int
    hung_up_by_acd: int
    closed: int
    failed: int
    unfinished: int
    not_closed_promptly: int
    mean_wait_answered: float | None
    max_wait_answered: float | None


def traffic_stats(calls: Sequence[FakeCall]) -> TrafficStats:
    """Summarise simulated calls."""
    by = {outcome: 0 for outcome in CallOutcome}
    waits: list[float] = []
    unfinished = late = 0
    for call in calls:
        if not call.done or call.outcome is None:
            unfinished += 1
            continue
        by[call.outcome] += 1
        if call.outcome == CallOutcome.ANSWERED and call.wait_seconds is not None:
            waits.append(call.wait_seconds)
        if call.hung_up_at is not None and not call.closed_promptly:
            late += 1
    return TrafficStats(
        placed=len(calls),
        answered=by[CallOutcome.ANSWERED],
        abandoned=by[CallOutcome.ABANDONED],
        hung_up_by_acd=by[CallOutcome.HUNG_UP_BY_ACD],
        closed=by[CallOutcome.CLOSED],
        failed=by[CallOutcome.FAILED],
        unfinished=unfinished,
        not_closed_promptly=late,
        mean_wait_answered=sum(waits) / len(waits) if waits else None,
        max_wait_answered=max(waits) if waits else None,
    )
