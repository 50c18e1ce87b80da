"""Pieces of the ACD benchmark (bench/acd.py): the ACD as a subprocess, a private
Redis, a fake Asterisk that timestamps every ``EXEC Dial``, and small helpers
for CPU accounting and percentiles.

The ACD runs as ``acd run --config FILE`` in its own process so psutil can
measure its CPU and memory apart from the load generator (this process) and
from Redis (a redis-server started here, the same binary and settings the
embedded Redis uses).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import redis.asyncio as aioredis

from acd.store.embedded import EmbeddedRedis
from acd.store.keys import Keys
from telephony.fake import FakeAsterisk, FakeCall

ROOT = Path(__file__).resolve().parent.parent
ACD_BIN = ROOT / ".venv" / "bin" / "acd"
AMI_SECRET = "bench-ami-secret"
API_TOKEN = "bench-api-token-0123456789abcdef"
PREFIX = "bench:"
KEYS = Keys(PREFIX)
#: Set by ``bench/acd.py --profile DIR``: py-spy samples the ACD process of each run.
PROFILE_DIR: Path | None = None


def raise_nofile(wanted: int = 65536) -> int:
    """Raise RLIMIT_NOFILE (the ACD subprocess inherits it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# ---- the fake Asterisk, with Dial timestamps ------------------------------------------


@dataclass(frozen=True, slots=True)
class DialRecord:
    """One ``EXEC Dial`` as the fake Asterisk received it (wall clock, comparable with
    the epoch timestamps the ACD writes into Redis)."""

    at: float
    endpoint: str
    call: FakeCall


class TimedFake(FakeAsterisk):
    """The fake Asterisk, noting the wall-clock time each ``EXEC Dial`` arrives."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.dials: list[DialRecord] = []

    async def dial(self, call: FakeCall, endpoint: str, ring_timeout: float) -> tuple[str, int]:
        self.dials.append(DialRecord(time.time(), endpoint, call))
        return await super().dial(call, endpoint, ring_timeout)


# ---- configuration --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchQueue:
    name: str
    wrap_up_seconds: int = 0
    ring_timeout_seconds: int = 1
    announce_period_seconds: int = 0
    auto_pause_after_misses: int = 0
    short_abandon_seconds: int = 0


@dataclass(frozen=True, slots=True)
class BenchAgent:
    id: str
    queues: tuple[str, ...]


def render_config(
    *,
    ami_port: int,
    agi_port: int,
    redis_url: str,
    web_port: int,
    queues: Iterable[BenchQueue],
    agents: Iterable[BenchAgent],
    idle_timeout: float = 30.0,
    redis_extra: Iterable[str] = (),
) -> str:
    """The TOML the ACD subprocess runs with (``redis_extra``: more ``[redis]`` lines,
    e.g. ``instance_lease_seconds = 3``)."""
    lines = [
        "[ami]",
        'host = "127.0.0.1"',
        f"port = {ami_port}",
        'username = "acd"',
        f'secret = "{AMI_SECRET}"',
        "",
        "[agi]",
        'host = "127.0.0.1"',
        f"port = {agi_port}",
        f"idle_timeout = {idle_timeout}",
        "",
        "[redis]",
        f'url = "{redis_url}"',
        f'key_prefix = "{PREFIX}"',
        "retention_days = 1",
        *redis_extra,
        "",
        "[wallboard]",
        'host = "127.0.0.1"',
        f"port = {web_port}",
        f'api_token = "{API_TOKEN}"',
        "",
    ]
    for q in queues:
        lines += [
            "[[queues]]",
            f'name = "{q.name}"',
            f"wrap_up_seconds = {q.wrap_up_seconds}",
            f"ring_timeout_seconds = {q.ring_timeout_seconds}",
            f"announce_period_seconds = {q.announce_period_seconds}",
            f"auto_pause_after_misses = {q.auto_pause_after_misses}",
            f"short_abandon_seconds = {q.short_abandon_seconds}",
            "max_wait_seconds = 0",
            "",
        ]
    for a in agents:
        served = ", ".join(f"{name} = 50" for name in a.queues)
        lines += [
            "[[agents]]",
            f'id = "{a.id}"',
            f'name = "Agent {a.id}"',
            f'endpoint = "PJSIP/{a.id}"',
            f"queues = {{ {served} }}",
            "",
        ]
    return "\n".join(lines)


# ---- processes ------------------------------------------------------------------------


@dataclass
class CpuMeter:
    """CPU seconds used by a set of processes between :meth:`start` and :meth:`stop`."""

    procs: dict[str, psutil.Process]
    _t0: float = 0.0
    _c0: dict[str, float] = field(default_factory=dict)
    percent: dict[str, float] = field(default_factory=dict)

    def _cpu(self, proc: psutil.Process) -> float:
        try:
            t = proc.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return math.nan

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._c0 = {k: self._cpu(p) for k, p in self.procs.items()}

    def stop(self) -> dict[str, float]:
        wall = max(1e-9, time.monotonic() - self._t0)
        self.percent = {
            k: 100.0 * (self._cpu(p) - self._c0[k]) / wall for k, p in self.procs.items()
        }
        return self.percent


class Center:
    """A private Redis, the fake Asterisk (here) and ``acd run`` (a subprocess)."""

    def __init__(self, name: str, *, wallboard: bool = False, pool: int = 0) -> None:
        self.name = name
        #: >0: the ACD's Redis URL carries ``?max_connections=N`` (redis-py's asyncio pool
        #: refuses a command outright once 100 connections are in use).
        self.pool = pool
        self.wallboard = wallboard
        self.workdir = Path(tempfile.mkdtemp(prefix=f"acd-bench-{name}-"))
        self.redis_server = EmbeddedRedis(self.workdir / "redis")
        self.fake = TimedFake(agi_port=0, ami_username="acd", ami_secret=AMI_SECRET, seed=7,
                              after_call_linger=1.0, linger_timeout=10.0)
        self.agi_port = free_port()
        self.web_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.stdout = self.workdir / "acd.out"
        self.stderr = self.workdir / "acd.err"
        self.profiler: subprocess.Popen[bytes] | None = None
        self.acd: psutil.Process | None = None
        self.redis_proc: psutil.Process | None = None
        self.redis: aioredis.Redis | None = None
        self.http: aiohttp.ClientSession | None = None

    @property
    def r(self) -> aioredis.Redis:
        assert self.redis is not None
        return self.redis

    @property
    def acd_process(self) -> psutil.Process:
        assert self.acd is not None
        return self.acd

    async def start(
        self,
        queues: Sequence[BenchQueue],
        agents: Sequence[BenchAgent],
        *,
        idle_timeout: float = 30.0,
    ) -> None:
        await asyncio.to_thread(self.redis_server.start)
        self.redis = aioredis.Redis.from_url(self.redis_server.url, decode_responses=True)
        info = await self.redis.info("server")
        self.redis_proc = psutil.Process(int(info["process_id"]))
        await self.fake.start()
        self.fake.agi_port = self.agi_port
        config = render_config(
            ami_port=self.fake.ami_port,
            agi_port=self.agi_port,
            redis_url=self.redis_server.url
            + (f"?max_connections={self.pool}" if self.pool else ""),
            web_port=self.web_port,
            queues=queues,
            agents=agents,
            idle_timeout=idle_timeout,
        )
        path = self.workdir / "acd.toml"
        await asyncio.to_thread(path.write_text, config)
        await asyncio.to_thread(self._spawn, path)
        deadline = time.monotonic() + 30
        proc = self.proc
        assert proc is not None
        while "FastAGI listening" not in self.stdout.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"acd exited: {self.stderr.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("acd did not start within 30 s")
            await asyncio.sleep(0.05)
        # The ACD connects to AMI in the background: wait for its resync to start.
        while not any(
            (a.action or "").lower() == "pjsipshowcontacts" for a in self.fake.ami.actions
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"acd did not resync over AMI within 30 s: {self.log_tail()}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)

    def _spawn(self, config_path: Path) -> None:
        """Start ``acd run`` (and py-spy on it when profiling); blocking, run in a thread."""
        cmd = [str(ACD_BIN), "run", "--config", str(config_path)]
        if not self.wallboard:
            cmd.append("--no-wallboard")
        env = dict(os.environ, ACD_DATA_DIR=str(self.workdir / "var"))
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        self.acd = psutil.Process(self.proc.pid)
        if PROFILE_DIR is not None:
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            self.profiler = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(self.proc.pid),
                 "--format", "raw", "--rate", "200", "--nonblocking",
                 "--output", str(PROFILE_DIR / f"{self.name}.txt")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def meter(self) -> CpuMeter:
        assert self.acd is not None and self.redis_proc is not None
        return CpuMeter({"acd": self.acd, "redis": self.redis_proc, "bench": psutil.Process()})

    async def register_and_login(self, endpoints: Iterable[str], *, via_api: bool = False) -> None:
        """Register every softphone, then log the agents in (FastAGI feature code or API)."""
        ids = list(endpoints)
        for endpoint in ids:
            await self.fake.register(endpoint)
        await asyncio.sleep(0.3)  # let the ACD apply the presence events
        sem = asyncio.Semaphore(50)

        async def one(agent_id: str) -> None:
            async with sem:
                if via_api:
                    await self.api(agent_id, "login")
                else:
                    call = await self.fake.place_call(f"agent/login?agent={agent_id}")
                    await call.wait_done(30)

        await asyncio.gather(*(one(a) for a in ids))
        await self.wait_agents_available(len(ids))

    async def wait_agents_available(self, count: int, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while await self.r.zcard(KEYS.available) < count:
            if time.monotonic() > deadline:
                have = await self.r.zcard(KEYS.available)
                raise RuntimeError(f"only {have} of {count} agents available")
            await asyncio.sleep(0.05)

    async def api(self, agent_id: str, action: str) -> tuple[float, float]:
        """POST /api/agents/{id}/{action}; returns the wall-clock times it was sent and
        answered."""
        if self.http is None:
            self.http = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {API_TOKEN}"},
                timeout=aiohttp.ClientTimeout(total=10),
            )
        url = f"http://127.0.0.1:{self.web_port}/api/agents/{agent_id}/{action}"
        sent = time.time()
        async with self.http.post(url, json={}) as response:
            body = await response.json()
        if not body.get("ok"):
            raise RuntimeError(f"API {action} {agent_id}: {body!r}")
        return sent, time.time()

    def rss(self) -> int:
        return int(self.acd_process.memory_info().rss)

    async def close(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.profiler.wait, 20)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
        await self.fake.close()
        if self.http is not None:
            await self.http.close()
        if self.redis is not None:
            await self.redis.aclose()
        await asyncio.to_thread(self.redis_server.cleanup)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, n: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.stderr.read_text().splitlines()[-n:])
        return ""

    def log_count(self, needle: str) -> int:
        with contextlib.suppress(OSError):
            return self.stderr.read_text().count(needle)
        return 0


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)
