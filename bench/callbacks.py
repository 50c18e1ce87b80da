"""Callbacks under overload: abandons with and without them, and how long a
callback takes to reach its caller.

An overloaded queue (more work arriving than the agents can take) with
impatient callers, run twice on the same arrivals: callbacks off, then on
(offered at the position announcement once the expected wait reaches
``--offer-after`` seconds; the callers marked "would take a callback" press
1, then 1 for their own number). Real parts: the fake Asterisk over real
FastAGI and AMI sockets (AMI Originate rings the agent, then the trunk rings
the caller), a real redis-server, the real ACD service in this process.

    .venv/bin/python bench/callbacks.py            # 90 s of arrivals per run
    .venv/bin/python bench/callbacks.py --quick    # 30 s per run
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acd.core.settings import (
    AgentConfig,
    AmiConfig,
    CallbackConfig,
    Config,
    QueueConfig,
    RedisConfig,
)
from acd.presence import AMI_EVENT_FILTERS
from acd.service import AcdService
from acd.store.client import connect
from acd.store.embedded import EmbeddedRedis
from telephony.agi_server import AgiServer
from telephony.ami_client import AmiClient
from telephony.fake import FakeAsterisk, FakeCall

SECRET = "bench"


@dataclasses.dataclass
class Result:
    placed: int
    answered_on_line: int
    abandoned: int
    callbacks_requested: int
    callbacks_reached: int
    callbacks_failed: int
    reach_seconds: list[float]  # request -> caller reached
    still_unfinished: int


async def run_once(args: argparse.Namespace, callbacks: bool, seed: int) -> Result:
    server = EmbeddedRedis()
    await asyncio.to_thread(server.start)
    fake = FakeAsterisk(ami_username="acd", ami_secret=SECRET, seed=seed)
    fake.after_call_linger = 0.2
    fake.external_talk_seconds = args.talk
    await fake.start()
    agents = [f"{1001 + i}" for i in range(args.agents)]
    for aid in agents:
        fake.add_agent(aid, ring_delay=0.5, talk_seconds=args.talk)
        await fake.register(aid)
    cb = CallbackConfig(enabled=callbacks, offer_after_seconds=args.offer_after,
                        attempts=2, retry_seconds=10, ring_seconds=10)
    queue = dataclasses.replace(
        QueueConfig(name="support"), wrap_up_seconds=1, ring_timeout_seconds=10,
        announce_period_seconds=args.announce, short_abandon_seconds=0, callback=cb,
    )
    config = Config(
        source="bench", ami=AmiConfig(username="acd", secret=SECRET),
        redis=RedisConfig(url=server.url, key_prefix=f"cb{uuid.uuid4().hex[:6]}:"),
        queues=(queue,),
        agents=tuple(AgentConfig(id=a, name=f"Agent {a}", endpoint=f"PJSIP/{a}",
                                 queues={"support": 50}) for a in agents),
    )
    redis = connect(config.redis)
    service = AcdService(config, redis)
    await service.start()
    agi = AgiServer(service.routes(), port=0)
    await agi.start()
    fake.agi_port = agi.port
    ami = AmiClient("127.0.0.1", fake.ami_port, "acd", SECRET, event_filters=AMI_EVENT_FILTERS)
    service.attach_ami(ami)
    await ami.start()
    for aid in agents:
        await service.commands.login(aid)
    rng = random.Random(seed)
    calls: list[FakeCall] = []
    requested_at: dict[str, float] = {}
    start = time.monotonic()
    try:
        while time.monotonic() - start < args.seconds:
            await asyncio.sleep(rng.expovariate(args.rate))
            patience = rng.uniform(args.patience_min, args.patience_max)
            accepts = rng.random() < args.accept
            number = f"555{len(calls):05d}"
            dtmf = "11" if accepts else ""
            calls.append(await fake.place_call(caller_id=number, patience=patience, dtmf=dtmf))
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline:
            for call in calls:
                if call.variables.get("ACD_RESULT") == "CALLBACK" and \
                        call.caller_id not in requested_at:
                    requested_at[call.caller_id] = call.ended_at or time.monotonic()
            waiting = await service.store.waiting_count("support")
            if waiting == 0 and all(c.done for c in calls):
                break
            await asyncio.sleep(0.5)
        for call in calls:
            if call.variables.get("ACD_RESULT") == "CALLBACK" and \
                    call.caller_id not in requested_at:
                requested_at[call.caller_id] = call.ended_at or time.monotonic()
        reached = {n: t for n, status, t in fake.external_calls if status == "ANSWER"}
        reach = [reached[n] - requested_at[n] for n in requested_at if n in reached]
        stats: dict[str, float] = {}
        keys = service.store.keys
        for epoch in await redis.zrange(keys.stats_index("support"), 0, -1):
            for k, v in (await redis.hgetall(keys.stats("support", int(str(epoch))))).items():
                stats[str(k)] = stats.get(str(k), 0.0) + float(v)
        return Result(
            placed=len(calls),
            answered_on_line=sum(1 for c in calls if c.outcome == "answered"),
            abandoned=int(stats.get("abandoned", 0)),
            callbacks_requested=int(stats.get("callback_requested", 0)),
            callbacks_reached=int(stats.get("callback_answered", 0)),
            callbacks_failed=int(stats.get("callback_failed", 0)),
            reach_seconds=reach,
            still_unfinished=await service.store.waiting_count("support"),
        )
    finally:
        await agi.close()
        await ami.close()
        await service.close()
        await fake.close()
        await redis.aclose(close_connection_pool=True)
        await asyncio.to_thread(server.cleanup)


def _p(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.1f} s"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s of arrivals per run")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--rate", type=float, default=1.0, help="arrivals per second")
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--talk", type=float, default=8.0, help="talk seconds")
    parser.add_argument("--patience-min", type=float, default=15.0)
    parser.add_argument("--patience-max", type=float, default=60.0)
    parser.add_argument("--accept", type=float, default=0.5,
                        help="share of callers who take a callback when offered")
    parser.add_argument("--offer-after", type=int, default=20,
                        help="expected wait (s) from which the callback is offered")
    parser.add_argument("--announce", type=int, default=10, help="announcement period (s)")
    parser.add_argument("--drain", type=float, default=240.0)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 30.0
    capacity = args.agents / (args.talk + 1 + 0.5)
    print(f"arrivals {args.rate}/s for {args.seconds:.0f} s; {args.agents} agents, talk "
          f"{args.talk} s (capacity about {capacity:.2f} calls/s); patience "
          f"{args.patience_min}-{args.patience_max} s; {args.accept:.0%} take a callback when "
          f"offered (expected wait >= {args.offer_after} s, announced every {args.announce} s)")
    off = await run_once(args, False, seed=7)
    on = await run_once(args, True, seed=7)
    print()
    print("| | callbacks off | callbacks on |")
    print("|---|---|---|")
    print(f"| calls placed | {off.placed} | {on.placed} |")
    print(f"| answered while holding | {off.answered_on_line} | {on.answered_on_line} |")
    print(f"| abandoned | {off.abandoned} | {on.abandoned} |")
    print(f"| callbacks requested / reached / given up | - | {on.callbacks_requested} / "
          f"{on.callbacks_reached} / {on.callbacks_failed} |")
    print(f"| callback: request -> caller reached, median / p90 | - | "
          f"{_p(on.reach_seconds, 0.5)} / {_p(on.reach_seconds, 0.9)} |")
    if on.reach_seconds:
        print(f"| callback: mean reach time | - | {statistics.mean(on.reach_seconds):.1f} s |")
    print(f"| still waiting at the end of the drain | {off.still_unfinished} | "
          f"{on.still_unfinished} |")


if __name__ == "__main__":
    asyncio.run(main())
