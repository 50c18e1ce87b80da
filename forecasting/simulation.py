"""Discrete-event simulation of one queue, to check Erlang's assumptions.

First-come first-served with ``n`` identical agents, Poisson arrivals, handle
times exponential or lognormal, caller patience exponential (or none). With
FCFS the event simulation reduces to one pass over callers in arrival order:
the earliest moment an agent frees up (a heap of agent free times) is when
the caller would be answered; callers whose patience runs out first abandon
and never occupy an agent. That is exact for FCFS, with no time stepping.

Statistics skip a warm-up (the queue starts empty) and come with 95%
batch-means half-widths, so tests can compare with Erlang within a stated
statistical tolerance.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

from forecasting.errors import InvalidInput


class HandleTimes(StrEnum):
    """Distribution of handle times."""

    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Measured performance after the warm-up, with 95% half-widths."""

    calls: int
    service_level: float
    service_level_halfwidth: float
    probability_wait: float
    asa_seconds: float
    asa_halfwidth: float
    probability_abandon: float
    abandon_halfwidth: float
    occupancy: float


def simulate_queue(
    *,
    traffic: float,
    aht_seconds: float,
    agents: int,
    target_seconds: float,
    patience_seconds: float | None = None,
    handle: HandleTimes = HandleTimes.EXPONENTIAL,
    handle_cv: float = 1.0,
    calls: int | None = None,
    seed: int = 0,
    batches: int = 20,
) -> SimulationResult:
    """Simulate ``calls`` callers at ``traffic`` Erlangs on ``agents`` agents.

    ``service_level`` is answered within ``target_seconds`` / offered (the
    Erlang A definition; equal to Erlang C's when nobody abandons).
    ``handle_cv`` is the coefficient of variation of lognormal handle times.
    ``calls=None`` sizes the sample to the load (:func:`default_calls`). The
    run starts with agents busy as in steady state, so the warm-up is short
    even near full occupancy.
    """
    if not (math.isfinite(traffic) and traffic > 0):
        raise InvalidInput("traffic must be > 0", field="traffic")
    if not (math.isfinite(aht_seconds) and aht_seconds > 0):
        raise InvalidInput("aht must be > 0", field="aht_seconds")
    if not (math.isfinite(target_seconds) and target_seconds >= 0):
        raise InvalidInput("target seconds must be >= 0", field="target_seconds")
    if not (math.isfinite(handle_cv) and handle_cv > 0):
        raise InvalidInput("handle CV must be > 0", field="handle_cv")
    if seed < 0:
        raise InvalidInput("seed must be >= 0", field="seed")
    if calls is None:
        calls = default_calls(traffic, agents)
    if agents < 1:
        raise InvalidInput("agents must be >= 1", field="agents")
    if patience_seconds is not None and patience_seconds <= 0:
        raise InvalidInput("patience must be > 0", field="patience_seconds")
    if calls < 10 * batches or batches < 2:
        raise InvalidInput("need at least 10 calls per batch and 2 batches", field="calls")
    if patience_seconds is None and agents <= traffic:
        raise InvalidInput(
            "without patience the queue is unstable when agents <= traffic", field="agents"
        )
    rng = np.random.default_rng(seed)
    rate = traffic / aht_seconds
    arrivals = np.cumsum(rng.exponential(1.0 / rate, calls))
    if handle is HandleTimes.EXPONENTIAL:
        service = rng.exponential(aht_seconds, calls)
    else:
        sigma2 = math.log1p(handle_cv * handle_cv)
        service = rng.lognormal(math.log(aht_seconds) - sigma2 / 2.0, math.sqrt(sigma2), calls)
    patience = (
        rng.exponential(patience_seconds, calls)
        if patience_seconds is not None
        else np.full(calls, np.inf)
    )

    waits = np.empty(calls)
    answered = np.zeros(calls, dtype=bool)
    # Start near steady state: about `traffic` agents busy, with exponential
    # residual handle times (memoryless), the rest free.
    busy = min(agents, round(traffic))
    free = [0.0] * (agents - busy) + rng.exponential(aht_seconds, busy).tolist()
    heapq.heapify(free)
    for i, (t, s, p) in enumerate(
        zip(arrivals.tolist(), service.tolist(), patience.tolist(), strict=True)
    ):
        start = free[0] if free[0] > t else t
        wait = start - t
        if wait > p:
            waits[i] = p
        else:
            waits[i] = wait
            answered[i] = True
            heapq.heapreplace(free, start + s)

    warm = calls // 20
    w, ans = waits[warm:], answered[warm:]
    good = ans & (w <= target_seconds)
    chunks = np.array_split(np.arange(w.size), batches)
    sl_b = np.array([good[c].mean() for c in chunks])
    ab_b = np.array([1.0 - ans[c].mean() for c in chunks])
    asa_b = np.array([w[c][ans[c]].mean() if ans[c].any() else 0.0 for c in chunks])
    tq = float(stats.t.ppf(0.975, batches - 1)) / math.sqrt(batches)
    horizon = arrivals[-1] - arrivals[warm]
    return SimulationResult(
        calls=int(w.size),
        service_level=float(good.mean()),
        service_level_halfwidth=float(tq * sl_b.std(ddof=1)),
        probability_wait=float(np.mean(w > 0)),
        asa_seconds=float(w[ans].mean()) if ans.any() else math.inf,
        asa_halfwidth=float(tq * asa_b.std(ddof=1)),
        probability_abandon=float(1.0 - ans.mean()),
        abandon_halfwidth=float(tq * ab_b.std(ddof=1)),
        occupancy=float(min(service[warm:][ans].sum() / (agents * horizon), 1.0)),
    )


#: bounds of the automatic sample size (the upper one is about 6 s of CPU)
MIN_CALLS, MAX_CALLS = 200_000, 5_000_000


def default_calls(traffic: float, agents: int) -> int:
    """Callers to simulate so the batch means settle.

    Near full occupancy (agents barely above traffic) the queue length
    wanders for a long time: the relaxation time grows like ``traffic /
    beta**2`` calls with ``beta = (agents - traffic) / sqrt(traffic)``.
    """
    beta = max(abs(agents - traffic) / math.sqrt(traffic), 0.05)
    return int(min(max(400.0 * traffic / (beta * beta), MIN_CALLS), MAX_CALLS))
