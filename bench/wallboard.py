"""Wallboard fan-out benchmark.

N concurrent websocket viewers (the ``websockets`` client library) watch one
wallboard server while changes are written to Redis and published on
``changes`` exactly as the ACD does, at a steady rate. For every change and
every viewer we take the time from the change (its ``at``) to the arrival of
the first message that includes it (``last_change_at >= at``): the
event-to-viewer latency, coalescing wait included. The server runs in its own
process so its CPU and memory are measured alone (psutil).

Each viewer count runs twice in the same process tree: the server sending
every viewer the full snapshot on every update (``full``, the behaviour
before deltas) and sending numbered deltas (``delta``, today's). Viewers
check the delta numbers and ask for a full snapshot on a gap, as the page does
(column ``gaps``). Column ``srv p95`` is the server's share: from a change to
the moment its update had been written to every socket (the server logs it),
without the viewers' own processing, which shares the same CPUs.

    .venv/bin/python bench/wallboard.py [--viewers 10,100,1000] [--seconds 10] [--rate 20]
        [--queues 12] [--agents 200] [--modes full,delta] [--min-interval SECONDS]

``BENCH_SERVER_PROFILE=PATH`` in the environment runs the server under
cProfile and writes its profile to ``PATH.full`` / ``PATH.delta``.

Target: 1,000 viewers with p95 <= 250 ms and the server under one core, on a
200-agent, 12-queue board (the figures measured before on the same board are
printed beside: before deltas, and with deltas before live builds).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd.core.intervals import interval_start, wait_bucket_field
from acd.core.settings import AgentConfig, Config, QueueConfig, WallboardConfig
from acd.store.embedded import EmbeddedRedis
from acd.store.keys import Keys

ALL_QUEUES = (
    "support", "sales", "billing", "returns", "technical", "claims", "renewals",
    "payments", "onboarding", "retention", "vip", "complaints",
)  # fmt: skip
QUEUES: tuple[str, ...] = ALL_QUEUES[:12]
AGENTS = 200
# docs/wallboard.md's figures for this board (12 queues, 200 agents) before
# deltas: p50 ms, p95 ms, server CPU %, KB per message.
PREVIOUS = {
    10: (120.0, 186.0, 21.7, 76.0),
    100: (140.0, 226.0, 27.5, 76.0),
    1000: (513.0, 806.0, 41.0, 75.0),
}
# The same with deltas, before live builds (every update read the whole board
# from Redis, 100 ms coalescing; medians of three runs at load 1.7-2.6):
# p50 ms, p95 ms, srv p95 ms, server CPU %.
PREVIOUS_DELTAS = {
    10: (107.0, 173.0, 136.0, 31.0),
    100: (95.0, 145.0, 117.0, 34.0),
    1000: (183.0, 334.0, 199.0, 43.0),
}


def set_size(queues: int, agents: int) -> None:
    global QUEUES, AGENTS
    QUEUES = ALL_QUEUES[: max(1, min(queues, len(ALL_QUEUES)))]
    AGENTS = agents
_LAST_CHANGE = re.compile(rb'"last_change_at":([0-9.eE+-]+|null)')
_VERSION = re.compile(rb'"type":"(snapshot|delta)"|"version":([0-9]+)|"base":([0-9]+)')


def bench_config() -> Config:
    return Config(
        source="<bench>",
        wallboard=WallboardConfig(timezone="Europe/Warsaw"),
        queues=tuple(QueueConfig(name=q) for q in QUEUES),
        agents=tuple(
            AgentConfig(
                id=f"a{i}",
                name=f"Agent {i}",
                endpoint=f"PJSIP/{1000 + i}",
                queues={QUEUES[i % len(QUEUES)]: 50, QUEUES[(i + 1) % len(QUEUES)]: 10},
            )
            for i in range(AGENTS)
        ),
    )


# --- server process ----------------------------------------------------------------


async def serve(redis_url: str, port: int, deltas: bool, min_interval: float | None) -> None:
    from aiohttp import web

    from wallboard import app as wallboard_app
    from wallboard.app import create_app

    if min_interval is not None:
        wallboard_app.LIVE_MIN_INTERVAL = min_interval

    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    app = create_app(bench_config(), redis, live_deltas=deltas)
    hub = app[wallboard_app.HUB_KEY]
    hub.fanout_log = []
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    try:
        await stop.wait()
    finally:
        # When each update had been written to every socket: the server's
        # share of the latency, without the viewers' own processing.
        print(json.dumps(hub.fanout_log), flush=True)
        await runner.cleanup()
        await redis.aclose()


# --- the ACD's side: writes and change messages ---------------------------------------


class FakeAcd:
    """Writes what the ACD writes for calls and agents, then publishes."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.keys = Keys()
        self.rng = random.Random(1)
        self.waiting: dict[str, list[str]] = {q: [] for q in QUEUES}
        self.serial = 0

    async def history(self, now: float) -> None:
        """Counters for today so the snapshot has realistic size."""
        pipe = self.redis.pipeline(transaction=False)
        start = interval_start(now - 12 * 3600)
        while start <= now:
            for q in QUEUES:
                key = self.keys.stats(q, start)
                pipe.hset(
                    key,
                    mapping={
                        "offered": 20,
                        "answered": 18,
                        "abandoned": 2,
                        "answered_within_target": 15,
                        "wait_seconds": 900,
                        "handled": 18,
                        "handle_seconds": 4000,
                        wait_bucket_field(30): 10,
                        wait_bucket_field(90): 8,
                    },
                )
            start += 900
        for i in range(AGENTS):
            pipe.sadd(self.keys.agents, f"a{i}")
            pipe.hset(
                self.keys.agent(f"a{i}"),
                mapping={
                    "id": f"a{i}",
                    "name": f"Agent {i}",
                    "state": "available",
                    "state_since": now,
                    "reachable": "1",
                },
            )
        await pipe.execute()

    async def change(self) -> float:
        """One change (a call arrives/leaves, or an agent changes state); returns ``at``."""
        at = time.time()
        q = self.rng.choice(QUEUES)
        pipe = self.redis.pipeline(transaction=True)
        kind = self.rng.choice(("call", "agent", "stats"))
        agent = ""
        if kind == "call" and (len(self.waiting[q]) < 5 or self.rng.random() < 0.5):
            self.serial += 1
            call = f"c{self.serial}"
            self.waiting[q].append(call)
            pipe.hset(
                self.keys.call(call),
                mapping={
                    "id": call,
                    "queue": q,
                    "caller_name": f"Caller {self.serial}",
                    "arrival": at,
                    "state": "waiting",
                },
            )
            pipe.zadd(self.keys.waiting(q), {call: at})
            pipe.zadd(self.keys.arrivals(q), {call: at})
            pipe.hincrby(self.keys.stats(q, interval_start(at)), "offered", 1)
        elif kind == "call":
            call = self.waiting[q].pop(0)
            pipe.zrem(self.keys.waiting(q), call)
            pipe.zrem(self.keys.arrivals(q), call)
        elif kind == "agent":
            agent = f"a{self.rng.randrange(AGENTS)}"
            state = self.rng.choice(("available", "on_call", "wrap_up", "paused", "ringing"))
            pipe.hset(self.keys.agent(agent), mapping={"state": state, "state_since": at})
            q = ""  # as the scripts' agent changes: the agent named, not a queue
        else:
            key = self.keys.stats(q, interval_start(at))
            pipe.hincrby(key, "answered", 1)
            pipe.hincrby(key, "answered_within_target", 1)
            pipe.hincrbyfloat(key, "wait_seconds", 20.0)
            pipe.hincrby(key, wait_bucket_field(20.0), 1)
        # The message as the scripts send it: what changed, and when.
        message = {"kind": kind, "queue": q, "agent": agent, "at": at}
        pipe.publish(self.keys.changes, json.dumps(message))
        await pipe.execute()
        return at


# --- viewers ----------------------------------------------------------------------------


@dataclass
class Viewer:
    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (received, last_change_at)
    messages: int = 0
    bytes: int = 0
    gaps: int = 0  # deltas that did not follow the version held: a full snapshot was asked for
    error: str = ""


def _head(data: bytes) -> tuple[str, int | None, int | None]:
    """(type, version, base) from the first bytes of a message."""
    kind, version, base = "", None, None
    for m in _VERSION.finditer(data, 0, 240):
        if m.group(1):
            kind = m.group(1).decode()
        elif m.group(2):
            version = int(m.group(2))
        elif m.group(3):
            base = int(m.group(3))
    return kind, version, base


async def watch(url: str, viewer: Viewer, connected: asyncio.Event, stop: asyncio.Event) -> None:
    try:
        async with connect(
            url, compression=None, max_size=None, open_timeout=60, ping_interval=None
        ) as ws:
            first = True
            held: int | None = None  # version on "screen"
            waiting_full = False

            async def close_on_stop() -> None:
                await stop.wait()
                await ws.close()

            # A plain receive loop: wait_for around each recv() made a task per
            # message, and the viewers' own CPU showed up as latency.
            closer = asyncio.create_task(close_on_stop())
            while True:
                try:
                    raw = await ws.recv(decode=False)
                except ConnectionClosedOK:
                    break
                received = time.time()
                data = raw if isinstance(raw, bytes) else raw.encode()
                viewer.messages += 1
                viewer.bytes += len(data)
                kind, version, base = _head(data)
                if kind == "snapshot":
                    held, waiting_full = version, False
                elif kind == "delta":
                    if waiting_full:
                        continue
                    if base != held:  # as the page: ask for the whole board
                        viewer.gaps += 1
                        waiting_full = True
                        await ws.send('{"type":"resync"}')
                        continue
                    held = version
                else:
                    continue  # heartbeat
                match = _LAST_CHANGE.search(data, 0, 200)
                if match and match.group(1) != b"null":
                    viewer.arrivals.append((received, float(match.group(1))))
                if first:
                    first = False
                    connected.set()
            await closer
    except Exception as exc:  # reported in the table, never hidden
        viewer.error = f"{type(exc).__name__}: {exc}"
        connected.set()


def latencies(changes: list[float], viewer: Viewer) -> list[float]:
    """Per change: first arrival whose last_change_at covers it, minus the change time."""
    out: list[float] = []
    seen = [lc for _, lc in viewer.arrivals]
    for at in changes:
        i = bisect_left(seen, at)
        # arrivals are in order and last_change_at never decreases
        if i < len(seen):
            out.append(viewer.arrivals[i][0] - at)
    return out


def server_latencies(changes: list[float], fanout: list[tuple[float, float]]) -> list[float]:
    """Per change: the first completed fan-out whose last_change_at covers it."""
    fanout = sorted(fanout)
    covered = [lc for lc, _ in fanout]
    out = []
    for at in changes:
        i = bisect_left(covered, at)
        if i < len(fanout):
            out.append(min(done for _, done in fanout[i:i + 3]) - at)
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def run_round(
    url: str,
    redis: aioredis.Redis,
    server: psutil.Process,
    viewers: int,
    seconds: float,
    rate: float,
    mode: str,
) -> tuple[dict[str, float | int | str], list[float]]:
    acd = FakeAcd(redis)
    stop = asyncio.Event()
    states = [Viewer() for _ in range(viewers)]
    events = [asyncio.Event() for _ in range(viewers)]
    tasks = []
    for i in range(viewers):
        tasks.append(asyncio.create_task(watch(url, states[i], events[i], stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # a ramp, as TVs come on over time
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=120)
    await asyncio.sleep(1.0)
    for v in states:
        v.arrivals.clear()
    cpu_before = server.cpu_times()
    me = psutil.Process()
    own_before = me.cpu_times()
    started = time.monotonic()
    changes: list[float] = []
    period = 1.0 / rate
    next_at = started
    while time.monotonic() - started < seconds:
        changes.append(await acd.change())
        next_at += period
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.sleep(1.0)  # let the last updates land
    wall = time.monotonic() - started
    cpu_after = server.cpu_times()
    own_after = me.cpu_times()
    rss = server.memory_info().rss
    stop.set()
    await asyncio.gather(*tasks)
    all_latencies: list[float] = []
    for v in states:
        all_latencies.extend(latencies(changes, v))
    failed = sum(1 for v in states if v.error)
    updates = sum(len(v.arrivals) for v in states) / max(1, viewers) / seconds
    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall
    return {
        "mode": mode,
        "viewers": viewers,
        "failed": failed,
        "gaps": sum(v.gaps for v in states),
        "load": os.getloadavg()[0],
        "changes": len(changes),
        "updates_per_s": updates,
        "p50_ms": pct(all_latencies, 0.50) * 1000,
        "p95_ms": pct(all_latencies, 0.95) * 1000,
        "max_ms": max(all_latencies, default=float("nan")) * 1000,
        "cpu_pct": cpu * 100,
        "viewers_cpu_pct": (own_after.user + own_after.system - own_before.user - own_before.system)
        / wall
        * 100,
        "rss_mb": rss / 1e6,
        "kb_per_msg": sum(v.bytes for v in states) / max(1, sum(v.messages for v in states)) / 1e3,
        "error": next((v.error for v in states if v.error), ""),
    }, changes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_server(
    store_url: str, deltas: bool, min_interval: float | None
) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once per mode, before measuring
        [sys.executable, __file__, "--serve", "--redis-url", store_url, "--port", str(port),
         "--queues", str(len(QUEUES)), "--agents", str(AGENTS)]
        + ([] if deltas else ["--full"])
        + ([] if min_interval is None else ["--min-interval", str(min_interval)]),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        proc.terminate()
        raise RuntimeError("server did not start")
    return proc, port


async def bench(
    viewer_counts: list[int], seconds: float, rate: float, modes: list[str],
    min_interval: float | None = None,
) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    load_before = os.getloadavg()
    rows = []
    with EmbeddedRedis() as store:
        redis = aioredis.Redis.from_url(store.url, decode_responses=True)
        try:
            await FakeAcd(redis).history(time.time())
            for n in viewer_counts:
                for mode in modes:
                    proc, port = await start_server(store.url, mode == "delta", min_interval)
                    try:
                        url = f"ws://127.0.0.1:{port}/ws"
                        server = psutil.Process(proc.pid)
                        row, changes = await run_round(url, redis, server, n, seconds, rate, mode)
                    finally:
                        proc.terminate()
                        out, _ = proc.communicate(timeout=15)
                    fanout = [tuple(x) for x in json.loads(out.strip().splitlines()[-1])]
                    row["server_p95_ms"] = pct(server_latencies(changes, fanout), 0.95) * 1000
                    rows.append(row)
        finally:
            await redis.aclose()
    print(
        f"\nwallboard fan-out: {len(QUEUES)} queues, {AGENTS} agents, {rate:g} changes/s for "
        f"{seconds:g} s, {os.cpu_count()} CPUs, server in its own process; "
        f"load average {load_before[0]:.2f} at start"
    )
    print(
        f"{'mode':>5} {'viewers':>7} {'failed':>6} {'gaps':>4} {'changes':>7} {'upd/s':>6} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'CPU %':>6} {'RSS MB':>7} {'KB/msg':>7} "
        f"{'viewers CPU %':>13} {'load':>5} {'srv p95':>7}"
        "   before deltas: p50 / p95 ms, CPU %, KB/msg"
        " | deltas before live builds: p50 / p95 / srv p95 ms, CPU %"
    )
    ok: bool | None = None
    for r in rows:
        print(
            f"{r['mode']:>5} {r['viewers']:>7} {r['failed']:>6} {r['gaps']:>4} {r['changes']:>7} "
            f"{r['updates_per_s']:>6.1f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
            f"{r['max_ms']:>7.1f} {r['cpu_pct']:>6.1f} {r['rss_mb']:>7.1f} {r['kb_per_msg']:>7.2f} "
            f"{r['viewers_cpu_pct']:>13.1f} {r['load']:>5.2f} {r['server_p95_ms']:>7.1f}"
            + (
                "   {:.0f} / {:.0f}, {:.1f}, {:.0f}".format(*PREVIOUS[int(r["viewers"])])
                if r["viewers"] in PREVIOUS and r["mode"] == "delta"
                else ""
            )
            + (
                " | {:.0f} / {:.0f} / {:.0f}, {:.0f}".format(*PREVIOUS_DELTAS[int(r["viewers"])])
                if r["viewers"] in PREVIOUS_DELTAS and r["mode"] == "delta"
                else ""
            )
        )
        if r["error"]:
            print(f"         first viewer error: {r['error']}")
        if r["viewers"] == 1000 and r["mode"] == "delta":
            ok = float(r["p95_ms"]) <= 250 and float(r["cpu_pct"]) < 100 and r["failed"] == 0
    verdict = "not measured" if ok is None else "met" if ok else "NOT met"
    print("target (1,000 viewers, deltas: p95 <= 250 ms, server < 1 core):", verdict)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="10,100,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--queues", type=int, default=12, help="queues on the board (1-12)")
    parser.add_argument("--agents", type=int, default=200, help="agents on the board")
    parser.add_argument("--modes", default="full,delta", help="full and/or delta")
    parser.add_argument("--min-interval", type=float, default=None,
                        help="the server's coalescing interval in seconds (default: the app's)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_size(args.queues, args.agents)
    if args.serve:
        run = functools.partial(serve, args.redis_url, args.port, not args.full, args.min_interval)
        profile_to = os.environ.get("BENCH_SERVER_PROFILE")
        if not profile_to:
            asyncio.run(run())
            return 0
        # Where the server's time goes: its profile, one file per mode.
        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, run())
        profiler.dump_stats(f"{profile_to}.{'full' if args.full else 'delta'}")
        return 0
    counts = [int(n) for n in args.viewers.split(",")]
    modes = [m for m in args.modes.split(",") if m in ("full", "delta")]
    return asyncio.run(bench(counts, args.seconds, args.rate, modes, args.min_interval))


if __name__ == "__main__":
    sys.exit(main())
