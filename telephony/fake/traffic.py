"""The load generator of the fake Asterisk: Poisson arrivals with caller patience."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping

from telephony.fake.agi_caller import FakeCall
from telephony.fake.pbx import FakePbx
from telephony.fake.stats import TrafficStats, traffic_stats

__all__ = ["run_traffic"]


async def run_traffic(
    pbx: FakePbx,
    *,
    rate_per_second: float,
    duration: float,
    scripts: Mapping[str, float],
    patience: tuple[float, float] | None,
    seed: int,
    drain_timeout: float = 60.0,
) -> TrafficStats:
    """Place Poisson arrivals for ``duration`` s, then wait for those calls to end.

    ``scripts`` maps a FastAGI script (``inbound?queue=support``) to a weight;
    ``patience`` is a (min, max) uniform range of seconds, None for infinite.
    """
    rng = random.Random(seed)
    names = list(scripts)
    weights = [scripts[n] for n in names]
    loop = asyncio.get_running_loop()
    start = loop.time()
    placed: list[FakeCall] = []
    while True:
        await asyncio.sleep(rng.expovariate(rate_per_second))
        if loop.time() - start >= duration:
            break
        script = rng.choices(names, weights)[0]
        wait = rng.uniform(*patience) if patience is not None else None
        caller = f"555{rng.randint(0, 9999):04d}"
        placed.append(await pbx.place_call(script, caller_id=caller, patience=wait))
    pending = [c for c in placed if not c.done]
    if pending:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(c._done.wait() for c in pending)), drain_timeout
            )
    return traffic_stats(placed)
