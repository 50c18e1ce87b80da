"""Agent desk live-update benchmark.

N agents each keep their desk's websocket open (``/desk/ws``, signed in as that
agent: a session from the real :class:`wallboard.auth.SessionStore` on the same
Redis, its cookie sent), plus supervisor desks, on one wallboard server in its
own process (measured alone with psutil; the runtime's Redis client) over an
embedded Redis. Random agents change state through the ACD's own scripts
(:meth:`acd.store.store.Store.agent_command`: login, pause with a reason,
unpause, logout) at a steady rate, after a warm-up.

``own``: per change to agent X at ``at`` (the script stores it as
``state_since``), the time until X's OWN desk socket gets the first desk message
with ``agent.state_since >= at``: one agent's ``at`` only grows, so it shows
this change or a later one (equal ``state_since`` with another state: "wrong").
``sup``: the same on the supervisor desk (X's row). ``msgs/change``: desk
messages at all agent sockets per change. ``builds/s``: ``Desk.build`` calls in
the server. ``srv cmds/change``: Redis ``total_commands_processed`` over the
window minus the writer's own (per kind of change, scripts' inner calls
included, measured before the server starts). CPU, RSS: the server process.

    .venv/bin/python bench/desk.py [--agents 50,200] [--supervisors 1] [--seconds 10]
        [--rate 20] [--warmup 2] [--repo PATH] [--compare PATH]

``--repo PATH``: the server runs from that checkout (cwd and PYTHONPATH);
``--compare PATH``: each agent count also runs with the server from PATH
("before") beside ``--repo`` ("now"). Load and desks always run from here.

Target: 200 agents, own p95 <= 250 ms, about one desk message per change, the
server well under one core at 20 changes/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = str(Path(__file__).resolve())
HERE = Path(SCRIPT).parent
# bench/ holds acd.py and wallboard.py: they must never shadow the packages.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path.pop(0)
if "--serve" not in sys.argv:  # the server imports the checkout PYTHONPATH names
    sys.path.insert(0, str(HERE.parent))

import psutil  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from acd.agents import PAUSE_CODES  # noqa: E402
from acd.core import settings as cfg  # noqa: E402
from acd.core.agent_rules import Command  # noqa: E402
from acd.core.credentials import hash_password  # noqa: E402
from acd.store.embedded import EmbeddedRedis, _die_with_parent, free_port  # noqa: E402
from acd.store.keys import Keys  # noqa: E402
from acd.store.store import Store  # noqa: E402

QUEUES = ("support", "sales", "billing", "returns")
REASONS = tuple(dict.fromkeys(PAUSE_CODES.values()))
WAIT = 60.0  # seconds: the bound of every wait for the server or the sockets


class BenchError(Exception):
    """A failure reported as one message, without a traceback."""


def bench_config(agents: int, supervisors: int, prefix: str, password_hash: str) -> cfg.Config:
    """N agents over four queues and the supervisors, all with one password."""
    return cfg.Config(
        source="<desk bench>", redis=cfg.RedisConfig(key_prefix=prefix),
        wallboard=cfg.WallboardConfig(timezone="UTC"),
        queues=tuple(cfg.QueueConfig(name=q) for q in QUEUES),
        agents=tuple(cfg.AgentConfig(id=f"a{i}", name=f"Agent {i}", endpoint=f"PJSIP/{1000 + i}",
                                     queues={QUEUES[i % len(QUEUES)]: 50},
                                     password_hash=password_hash) for i in range(agents)),
        supervisors=tuple(cfg.SupervisorConfig(id=f"sup{i}", name=f"Supervisor {i}",
                                               password_hash=password_hash)
                          for i in range(supervisors)),
    )


async def serve(args: argparse.Namespace) -> None:
    """The server process: the app of the checkout on PYTHONPATH, desk builds counted."""
    from aiohttp import web

    import wallboard
    from acd.store.client import connect as connect_redis
    from wallboard import desk as desk_module
    from wallboard.app import create_app

    builds: list[float] = []  # when each desk build finished
    original = getattr(desk_module.Desk, "build", None)
    if original is not None:
        async def counted(self: Any, board: Any, last_change_at: float | None = None) -> Any:
            result = await original(self, board, last_change_at)
            builds.append(time.time())
            return result

        desk_module.Desk.build = counted  # type: ignore[method-assign]
    config = bench_config(int(args.agents), args.supervisors, args.prefix, args.password_hash)
    redis = connect_redis(config.redis, args.redis_url)  # the runtime's client and pool
    runner = web.AppRunner(create_app(config, redis), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(args.port), backlog=2048).start()
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the driver decides when to stop
    print("READY", wallboard.__file__, flush=True)
    try:
        await stop.wait()
    finally:
        print(json.dumps({"builds": builds if original is not None else None}), flush=True)
        await asyncio.wait_for(runner.cleanup(), 15)
        await redis.aclose()


@dataclass
class Server:
    proc: asyncio.subprocess.Process
    port: int
    errors: Any  # the server's stderr: a temporary file


async def start_server(repo: Path, argv: list[str]) -> Server:
    """The server from ``repo`` (cwd and PYTHONPATH), once it says READY."""
    errors = tempfile.TemporaryFile()  # closed by stop_server
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SCRIPT, "--serve", "--port", str(port), *argv,
        cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=errors, preexec_fn=_die_with_parent,
    )
    server = Server(proc, port, errors)
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), WAIT)).decode().strip()
    except TimeoutError:
        line = f"no READY within {WAIT:.0f} s"
    where = line.split(maxsplit=1)[1] if line.startswith("READY ") else ""
    if where.startswith(str(repo) + os.sep):
        return server
    await stop_server(server, close=False)
    errors.seek(0)
    tail = "\n".join(errors.read().decode(errors="replace").strip().splitlines()[-3:])
    errors.close()
    if where:
        raise BenchError(f"the server imported wallboard from {where}, not from {repo}")
    raise BenchError(f"the server from {repo} did not start ({line or 'it exited'})"
                     + (f"; its stderr ends:\n{tail}" if tail else ""))


async def stop_server(server: Server, close: bool = True) -> list[float] | None:
    """SIGTERM, SIGKILL after 15 s; returns the server's desk build times."""
    proc, out = server.proc, b""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 15)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.wait_for(proc.wait(), 5)
            raise
    if close:
        server.errors.close()
    with contextlib.suppress(ValueError, IndexError, KeyError, TypeError):
        builds: list[float] | None = json.loads(out.decode().strip().splitlines()[-1])["builds"]
        return builds
    return None


@dataclass
class Pending:
    at: float
    state: str
    measured: bool


@dataclass
class Tracker:
    """Changes not yet shown, per (agent, on the supervisor desk), matched as
    desk messages arrive; latencies in ms (key False: own desk, True: supervisor)."""

    pending: dict[tuple[str, bool], deque[Pending]] = field(default_factory=dict)
    ms: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    msgs: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    outstanding: int = 0  # measured changes not yet on their own desk
    wrong: int = 0
    counting: bool = False  # inside the measured window: count messages
    load_done: bool = False
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[str] = field(default_factory=list)

    def expect(self, agent: str, change: Pending, supervisors: int) -> None:
        for sup in (False, True)[: 1 + bool(supervisors)]:
            self.pending.setdefault((agent, sup), deque()).append(change)
        self.outstanding += change.measured

    def seen(self, agent: str, received: float, state: str, since: float | None,
             sup: bool) -> None:
        queue = self.pending.get((agent, sup))
        while queue and since is not None and queue[0].at <= since + 1e-6:
            change = queue.popleft()
            if change.measured:
                self.ms[sup].append((received - change.at) * 1000)
            if change.measured and not sup:
                self.wrong += abs(change.at - since) < 1e-6 and state != change.state
                self.outstanding -= 1
                if self.outstanding == 0 and self.load_done:
                    self.drained.set()


async def total_commands(redis: aioredis.Redis) -> int:
    return int((await redis.info("stats"))["total_commands_processed"])


class Writer:
    """Random agents change state as the ACD's scripts do it."""

    def __init__(self, store: Store, agents: int, seed: int, tracker: Tracker,
                 supervisors: int) -> None:
        self.store, self.tracker, self.supervisors = store, tracker, supervisors
        self.rng = random.Random(seed)
        self.states = {f"a{i}": "logged_out" for i in range(agents)}
        self.kinds: dict[str, int] = {}  # measured changes by command

    async def open(self, config: cfg.Config) -> None:
        """The floor as at a shift's start: every agent reachable and logged in."""
        now = time.time()
        await self.store.ensure_agents(config.agents, now)
        for agent in self.states:
            await self.store.set_reachable(agent, True, now)
            await self.store.agent_command(agent, Command.LOGIN, now)
            self.states[agent] = "available"

    def pick(self) -> tuple[str, Command, str, str]:
        agent = self.rng.choice(list(self.states))
        state, roll = self.states[agent], self.rng.random()
        if state == "logged_out":
            return agent, Command.LOGIN, "", "available"
        if roll < 0.15:
            return agent, Command.LOGOUT, "", "logged_out"
        if state == "paused":
            return agent, Command.UNPAUSE, "", "available"
        return agent, Command.PAUSE, self.rng.choice(REASONS), "paused"

    async def change(self, measured: bool, track: bool = True) -> str:
        agent, command, reason, state = self.pick()
        change = Pending(time.time(), state, measured)
        if track:  # before the write: its message may come at once
            self.tracker.expect(agent, change, self.supervisors)
        result = await self.store.agent_command(agent, command, change.at, reason)
        if result.state.value != state:
            raise BenchError(f"{agent} {command.value}: {result.state.value}, not {state}")
        self.states[agent] = state
        if measured:
            self.kinds[command.value] = self.kinds.get(command.value, 0) + 1
        return command.value

    async def calibrate(self, redis: aioredis.Redis, per_kind: int) -> dict[str, float]:
        """Redis commands per change of each kind (EVALSHA and the script's own
        calls), measured with nothing else on Redis."""
        await self.change(False, track=False)  # the script loaded
        costs: dict[str, list[int]] = {}
        while len(costs) < 4 or min(len(v) for v in costs.values()) < per_kind:
            before = await total_commands(redis)
            kind = await self.change(False, track=False)
            costs.setdefault(kind, []).append(await total_commands(redis) - before - 1)
        return {k: sum(v) / len(v) for k, v in costs.items()}  # (minus the first INFO)

    async def pace(self, seconds: float, rate: float, measured: bool) -> int:
        """Changes at ``rate`` per second for ``seconds``; returns how many."""
        started = next_at = time.monotonic()
        count = 0
        while time.monotonic() - started < seconds:
            await self.change(measured)
            count += 1
            next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        return count


async def desk(url: str, cookie: str, agent: str, tracker: Tracker,
               opened: asyncio.Event, stop: asyncio.Event) -> None:
    """One desk page's socket: an agent's (``agent``) or a supervisor's ("")."""
    try:
        async with connect(url, additional_headers={"Cookie": cookie}, open_timeout=WAIT,
                           close_timeout=5, compression=None, max_size=None,
                           ping_interval=None) as ws:
            closer = asyncio.create_task(_close_on(stop, ws))
            async for raw in ws:
                received, data = time.time(), json.loads(raw)
                if data.get("type") == ("supervisor" if not agent else "desk"):
                    opened.set()
                    tracker.msgs[not agent] += tracker.counting
                    for row in [data["agent"]] if agent else data["agents"]:
                        tracker.seen(row["id"], received, row["state"], row["state_since"],
                                     sup=not agent)
            await closer
    except Exception as exc:  # reported, never hidden
        if not stop.is_set():
            tracker.errors.append(f"{agent or 'supervisor'}: {type(exc).__name__}: {exc}")
        opened.set()


async def _close_on(stop: asyncio.Event, ws: ClientConnection) -> None:
    await stop.wait()
    await ws.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


async def run_round(store_url: str, repo: Path, label: str, agents: int, args: argparse.Namespace,
                    serial: int) -> tuple[list[str], list[str]]:
    """One agent count with one server: its table row and notes."""
    from wallboard.auth import COOKIE_NAME, DeskSettings, Principal, Role, SessionStore
    from wallboard.auth import credential_fingerprint as fingerprint

    prefix = f"deskbench{serial}:"  # a fresh floor (and event stream) per round
    password_hash = hash_password("bench-secret", n=2**10)
    config = bench_config(agents, args.supervisors, prefix, password_hash)
    redis = aioredis.Redis.from_url(store_url, decode_responses=True)
    tracker = Tracker()
    writer = Writer(Store(redis, config.redis), agents, serial, tracker, args.supervisors)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    server: Server | None = None
    try:
        await writer.open(config)
        costs = await writer.calibrate(redis, per_kind=10)
        sessions = SessionStore(redis, Keys(prefix), DeskSettings(), time.time,
                                fingerprint=lambda p: fingerprint(config, p))
        people = [(a.id, Principal(a.id, a.name, Role.AGENT)) for a in config.agents]
        people += [("", Principal(s.id, s.name, Role.SUPERVISOR)) for s in config.supervisors]
        cookies = [(who, (await sessions.create(p)).id) for who, p in people]
        server = await start_server(repo, [
            "--redis-url", store_url, "--prefix", prefix, "--password-hash", password_hash,
            "--agents", str(agents), "--supervisors", str(args.supervisors)])
        proc = psutil.Process(server.proc.pid)
        url = f"ws://127.0.0.1:{server.port}/desk/ws"
        opened = [asyncio.Event() for _ in cookies]
        for (who, sid), event in zip(cookies, opened, strict=True):
            tasks.append(asyncio.create_task(
                desk(url, f"{COOKIE_NAME}={sid}", who, tracker, event, stop)))
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), WAIT)
        except TimeoutError:
            raise BenchError(f"{label} {agents}: {sum(not e.is_set() for e in opened)} desks "
                             f"got no first message within {WAIT:.0f} s") from None
        if tracker.errors:
            raise BenchError(f"{label} {agents}: {len(tracker.errors)} desks failed, first: "
                             f"{tracker.errors[0]}")
        await writer.pace(args.warmup, args.rate, measured=False)
        commands0, cpu0, t0 = await total_commands(redis), proc.cpu_times(), time.time()
        tracker.counting = True
        changes = await writer.pace(args.seconds, args.rate, measured=True)
        tracker.load_done = True
        if tracker.outstanding == 0:
            tracker.drained.set()
        with contextlib.suppress(TimeoutError):  # what is still missing then is "missed"
            await asyncio.wait_for(tracker.drained.wait(), 10)
        tracker.counting = False
        commands1, cpu1, t1 = await total_commands(redis), proc.cpu_times(), time.time()
        rss = proc.memory_info().rss
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        running, server = server, None
        builds = await stop_server(running)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await stop_server(server)
        await redis.aclose()
    wall, own = t1 - t0, tracker.ms[False]
    mine = sum(costs.get(k, 0.0) * n for k, n in writer.kinds.items())
    total = commands1 - commands0 - 1  # minus the first INFO
    row = [label, str(agents), str(changes), f"{pct(own, 0.5):.0f} / {pct(own, 0.95):.0f}",
           f"{max(own, default=float('nan')):.0f}", str(tracker.outstanding),
           f"{tracker.msgs[False] / changes:.1f}", f"{pct(tracker.ms[True], 0.95):.0f}",
           f"{tracker.msgs[True] / wall:.1f}",
           "n/a" if builds is None else f"{sum(t0 <= b <= t1 for b in builds) / wall:.0f}",
           f"{(total - mine) / changes:.0f}", f"{mine / changes:.1f}",
           f"{(cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall * 100:.0f}",
           f"{rss / 1e6:.0f}", f"{os.getloadavg()[0]:.2f}"]
    notes = [f"{label} {agents}: {tracker.wrong} messages had a change's state_since but "
             "another state"] if tracker.wrong else []
    notes += [f"{label} {agents}: {len(tracker.errors)} desk errors, first: "
              f"{tracker.errors[0]}"] if tracker.errors else []
    return row, notes


HEADS = ("server", "agents", "changes", "own p50 / p95 ms", "own max ms", "missed",
         "msgs/change", "sup p95 ms", "sup msgs/s", "builds/s", "srv cmds/change",
         "writer cmds/change", "server CPU %", "RSS MB", "load")


async def bench(args: argparse.Namespace, sides: list[tuple[str, Path]]) -> int:
    rows: list[list[str]] = []
    notes: list[str] = []
    with EmbeddedRedis() as store:
        for n in [int(x) for x in args.agents.split(",")]:
            for label, path in sides:
                row, more = await run_round(store.url, path, label, n, args, len(rows) + 1)
                rows.append(row)
                notes += more
    print(f"\nagent desk live updates: {args.rate:g} agent changes/s for {args.seconds:g} s "
          f"(after {args.warmup:g} s warm-up), {args.supervisors} supervisor desk(s), "
          f"{os.cpu_count()} CPUs, server in its own process\n")
    print("| " + " | ".join(HEADS) + " |")
    print("|" + "|".join("---:" if i else "---" for i in range(len(HEADS))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n".join(notes))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", default="50,200", help="agent counts, comma-separated")
    parser.add_argument("--supervisors", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="agent changes per second")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--repo", default=str(HERE.parent), help="checkout the server runs from")
    parser.add_argument("--compare", default="", help="a second checkout, run as 'before'")
    for hidden in ("--serve", "--redis-url", "--port", "--prefix", "--password-hash"):
        kwargs: dict[str, Any] = {"action": "store_true"} if hidden == "--serve" else {}
        parser.add_argument(hidden, help=argparse.SUPPRESS, **kwargs)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return 0
    if args.rate <= 0 or args.seconds <= 0:
        parser.error("--rate and --seconds must be positive")
    sides = [("before", Path(args.compare).resolve())] if args.compare else []
    sides.append(("now", Path(args.repo).resolve()))
    for _, path in sides:
        if not (path / "wallboard" / "desk.py").is_file():
            parser.error(f"{path} is not a checkout of this project (no wallboard/desk.py)")
    try:
        return asyncio.run(bench(args, sides))
    except BenchError as exc:
        print(f"bench/desk.py: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench/desk.py: interrupted", file=sys.stderr)
        return 130
    except (RedisError, OSError) as exc:  # e.g. Ctrl-C stopped the embedded Redis first
        print(f"bench/desk.py: Redis failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
