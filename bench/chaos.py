"""Chaos benchmark: faults injected into a loaded call center, and what users notice.

    .venv/bin/python bench/chaos.py            # the issue's load: 20 calls/s, 45 agents, 60 s
    .venv/bin/python bench/chaos.py --quick    # 5 calls/s, 15 agents, 20 s (all scenarios ~6 min)
    .venv/bin/python bench/chaos.py --only redis-kill --only none

The fake Asterisk (in this process) places Poisson calls into ``acd run``
(a subprocess, the same harness as bench/acd.py) backed by a real
``redis-server`` (the shipped binary, AOF everysec). At ``fault_at`` one fault
is injected (SIGKILL of Redis or of an ACD, an AOF that loses its last second,
a Redis that comes back empty, a Sentinel failover). Each scenario reports
calls placed / answered / abandoned / fell back, double assignments, agents
stuck 10 s after the fault ends, seconds until every agent is usable again,
and conversations missing from the Redis interval counters. The method and
the definitions are printed with the table and written, with the table, to
docs/benchmarks-chaos.md (``--write-doc``, on by default; not with ``--only``,
whose table would replace a whole run's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/acd.py is named like the `acd` package: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402
from redis.asyncio.sentinel import Sentinel  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402

from acd.store.embedded import EmbeddedRedis, redis_server_binary  # noqa: E402
from bench.acd_harness import (  # noqa: E402
    ACD_BIN,
    AMI_SECRET,
    KEYS,
    BenchAgent,
    BenchQueue,
    free_port,
    progress,
    raise_nofile,
    render_config,
)
from telephony.fake import CallOutcome, FakeAsterisk, FakeCall  # noqa: E402

QUEUE = "main"
MASTER = "mymaster"
DOC = ROOT / "docs" / "benchmarks-chaos.md"

STUCK_DEFINITION = """\
An agent is *unusable* at a sample (every 0.25 s, read from Redis and from the fake
Asterisk at the same moment) when its softphone is registered, not on a call of the
Asterisk fallback queue, and one of these holds:
  (a) Redis says `ringing` or `on_call` but the phone has no ACD call (neither ringing
      nor bridged);
  (b) Redis says `available` while the phone is bridged to an ACD call;
  (c) Redis says `available` while a caller waits in the agent's queue (the queue's
      waiting set is not empty) and the phone is idle;
  (d) Redis says `wrap_up` more than 2 s after its `wrap_until`;
  (e) Redis has no agent hash, or says `logged_out` or `paused` (the bench never logs
      an agent out or pauses one; auto-pause is off).
An agent is *stuck* when it has been unusable in every sample for at least 1 s (so a
reservation in flight, a few ms between Redis and the Dial, never counts).
"Stuck 10 s after" = agents stuck at the first sample at or after fault end + 10 s.
"Usable again after" = seconds from the fault end to the last sample with any stuck
agent (0 when none was stuck after the fault ended; "never" when some still are at the
end of the observation). Samples while Redis does not answer are skipped.
Fault end: Redis accepting connections again (kill, AOF loss, empty), the restarted ACD
listening (ACD kill), the dead instance's lease expired (kill + lease, two ACDs), a
sentinel naming the promoted replica and the replica reporting role master (failover)."""


# ======================================================================================
# processes
# ======================================================================================


class AcdProcess:
    """One ``acd run`` subprocess; can be SIGKILLed and started again (logs append)."""

    def __init__(self, name: str, workdir: Path, config: str, agi_port: int) -> None:
        self.name = name
        self.workdir = workdir
        self.agi_port = agi_port
        self.config_path = workdir / f"{name}.toml"
        self.config_path.write_text(config)
        self.stdout = workdir / f"{name}.out"
        self.stderr = workdir / f"{name}.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _spawn(self) -> None:
        env = dict(os.environ, ACD_DATA_DIR=str(self.workdir / f"var-{self.name}"))
        with open(self.stdout, "ab") as out, open(self.stderr, "ab") as err:
            self.proc = subprocess.Popen(
                [str(ACD_BIN), "run", "--config", str(self.config_path), "--no-wallboard"],
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )

    async def start(self, fake: FakeAsterisk, within: float = 30.0) -> None:
        resyncs = _contact_resyncs(fake)
        await asyncio.to_thread(self._spawn)
        self.starts += 1
        deadline = time.monotonic() + within
        proc = self.proc
        assert proc is not None
        while self.stdout.read_text().count("FastAGI listening") < self.starts:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within {within:.0f} s")
            await asyncio.sleep(0.05)
        while _contact_resyncs(fake) <= resyncs:  # its AMI resync started
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not resync over AMI: {self.log_tail()}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    def log_tail(self, n: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.stderr.read_text().splitlines()[-n:])
        return ""

    def log_lines(self, needle: str) -> list[str]:
        with contextlib.suppress(OSError):
            return [ln for ln in self.stderr.read_text().splitlines() if needle in ln]
        return []


def _contact_resyncs(fake: FakeAsterisk) -> int:
    return sum(1 for a in fake.ami.actions if (a.action or "").lower() == "pjsipshowcontacts")


class SentinelProcess:
    """``redis-server sentinel.conf --sentinel`` from the shipped binary."""

    def __init__(self, workdir: Path, primary_port: int, quorum: int) -> None:
        self.port = free_port()
        self.dir = workdir / f"sentinel-{self.port}"
        self.dir.mkdir(parents=True)
        self.conf = self.dir / "sentinel.conf"
        self.conf.write_text("\n".join([
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.dir}",
            f"logfile {self.dir / 'sentinel.log'}",
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} {quorum}",
            f"sentinel down-after-milliseconds {MASTER} 1000",
            f"sentinel failover-timeout {MASTER} 10000",
            f"sentinel parallel-syncs {MASTER} 1",
            "",
        ]))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), str(self.conf), "--sentinel"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ======================================================================================
# parameters and results
# ======================================================================================


@dataclass(frozen=True, slots=True)
class Params:
    rate: float
    duration: float
    fault_at: float
    agents: int
    wrap_up: int
    ring_delay: float
    talk: tuple[float, float]
    patience: tuple[float, float]
    lease: float
    seed: int

    def describe(self) -> str:
        return (f"Poisson {self.rate:g} calls/s for {self.duration:g} s into one queue, fault "
                f"at t={self.fault_at:g} s; {self.agents} agents (ring {self.ring_delay:g} s, "
                f"talk {self.talk[0]:g}-{self.talk[1]:g} s spread over the agents, wrap-up "
                f"{self.wrap_up} s, ring timeout 5 s, auto-pause off); caller patience uniform "
                f"{self.patience[0]:g}-{self.patience[1]:g} s; [redis] "
                f"instance_lease_seconds = {self.lease:g}; seed {self.seed}")


@dataclass(slots=True)
class Placed:
    call: FakeCall
    at: float  # monotonic, when placed
    unreachable: bool = False  # no ACD accepted the FastAGI connection


@dataclass(slots=True)
class Fault:
    start: float = 0.0  # monotonic
    end: float = 0.0
    note: str = ""


@dataclass(slots=True)
class Result:
    name: str
    placed: int = 0
    answered: int = 0  # bridged to an agent by an ACD Dial
    abandoned: int = 0  # hung up before reaching any agent (ACD or fallback)
    fell_back: int = 0
    fallback_answered: int = 0
    unreachable: int = 0  # AGI connection refused (the dialplan's fallback then)
    other: int = 0  # closed/hung up by the ACD without an agent, unfinished
    double_dials: int = 0
    double_answers: int = 0
    stuck_after_10s: int | None = None
    stuck_peak: int = 0
    usable_after: float | None = 0.0  # None: never
    logged_out_by_fault: int = 0
    counted_answered: int = 0
    counted_handled: int = 0
    counted_offered: int = 0
    expected_answered: int = 0  # what the counters should hold (see counters note)
    arrived_during_fault: int = 0
    errors: int = 0
    notes: list[str] = field(default_factory=list)
    stuck_examples: list[str] = field(default_factory=list)
    missing_examples: list[str] = field(default_factory=list)

    @property
    def missing_answered(self) -> int:
        return self.expected_answered - self.counted_answered

    @property
    def missing_handled(self) -> int:
        return self.expected_answered - self.counted_handled


# ======================================================================================
# the rig: Redis (or Sentinel), fake Asterisk, one or two ACDs
# ======================================================================================


class Rig:
    def __init__(self, params: Params, *, acds: int = 1, sentinel: bool = False) -> None:
        self.p = params
        self.workdir = Path(tempfile.mkdtemp(prefix="acd-chaos-"))
        self.primary = EmbeddedRedis(self.workdir / "redis-a")
        self.replica: EmbeddedRedis | None = None
        self.sentinels: list[SentinelProcess] = []
        self.use_sentinel = sentinel
        self.n_acds = acds
        self.fake = FakeAsterisk(agi_port=0, ami_username="acd", ami_secret=AMI_SECRET, seed=7,
                                 after_call_linger=0.3, linger_timeout=10.0)
        self.acds: list[AcdProcess] = []
        self.monitor: aioredis.Redis | None = None
        self._sentinel_client: Sentinel | None = None
        self.agents = [BenchAgent(str(2000 + i), (QUEUE,)) for i in range(params.agents)]
        self._place_lock = asyncio.Lock()
        self._next = 0
        self.fallback_tasks: set[asyncio.Task[None]] = set()

    @property
    def r(self) -> aioredis.Redis:
        assert self.monitor is not None
        return self.monitor

    @property
    def redis_url(self) -> str:
        if self.use_sentinel:
            hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
            return f"redis+sentinel://{hosts}/{MASTER}"
        return self.primary.url

    async def start(self) -> None:
        await asyncio.to_thread(self.primary.start)
        if self.use_sentinel:
            await self._start_sentinels()
            self._sentinel_client = Sentinel(  # type: ignore[no-untyped-call]
                [("127.0.0.1", s.port) for s in self.sentinels],
                socket_timeout=0.5, socket_connect_timeout=0.5)
            self.monitor = self._sentinel_client.master_for(
                MASTER, redis_class=aioredis.Redis, decode_responses=True,
                socket_timeout=0.5, socket_connect_timeout=0.5)
        else:
            self.monitor = aioredis.Redis.from_url(self.primary.url, decode_responses=True,
                                                   socket_timeout=0.5,
                                                   socket_connect_timeout=0.5)
        await self.fake.start()
        lo, hi = self.p.talk
        n = len(self.agents)
        for i, a in enumerate(self.agents):
            talk = lo + (hi - lo) * i / max(1, n - 1)
            self.fake.add_agent(a.id, ring_delay=self.p.ring_delay, talk_seconds=talk)
        queues = [BenchQueue(QUEUE, wrap_up_seconds=self.p.wrap_up, ring_timeout_seconds=5,
                             auto_pause_after_misses=0, short_abandon_seconds=5)]
        for i in range(self.n_acds):
            port = free_port()
            config = render_config(
                ami_port=self.fake.ami_port, agi_port=port, redis_url=self.redis_url,
                web_port=free_port(), queues=queues, agents=self.agents,
                redis_extra=[f"instance_lease_seconds = {self.p.lease:g}"])
            acd = AcdProcess(f"acd{i + 1}", self.workdir, config, port)
            self.acds.append(acd)
            await acd.start(self.fake)
        self.fake.agi_port = self.acds[0].agi_port
        await asyncio.sleep(0.5)
        for a in self.agents:
            await self.fake.register(a.id)
        await asyncio.sleep(0.3)
        await self.login([a.id for a in self.agents])
        deadline = time.monotonic() + 30
        while await self.r.zcard(KEYS.available) < len(self.agents):
            if time.monotonic() > deadline:
                raise RuntimeError("agents did not all become available")
            await asyncio.sleep(0.05)

    async def login(self, ids: Sequence[str]) -> None:
        sem = asyncio.Semaphore(20)

        async def one(agent_id: str) -> None:
            async with sem:
                call = await self.place(f"agent/login?agent={agent_id}")
                with contextlib.suppress(TimeoutError):
                    await call.call.wait_done(20)

        await asyncio.gather(*(one(a) for a in ids))

    async def _start_sentinels(self) -> None:
        self.replica = EmbeddedRedis(
            self.workdir / "redis-b",
            extra_args=("--replicaof", "127.0.0.1", str(self.primary.port)))
        await asyncio.to_thread(self.replica.start)
        rep = aioredis.Redis.from_url(self.replica.url, decode_responses=True)
        try:
            deadline = time.monotonic() + 20
            while (await rep.info("replication")).get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    raise RuntimeError("the replica did not sync")
                await asyncio.sleep(0.1)
        finally:
            await rep.aclose()
        for _ in range(3):
            s = SentinelProcess(self.workdir, self.primary.port, quorum=2)
            s.start()
            self.sentinels.append(s)
        deadline = time.monotonic() + 30
        for s in self.sentinels:
            client = aioredis.Redis(host="127.0.0.1", port=s.port, decode_responses=True)
            try:
                while True:
                    with contextlib.suppress(RedisError, OSError):
                        replicas = await client.sentinel_slaves(MASTER)
                        peers = await client.sentinel_sentinels(MASTER, return_responses=True)
                        if isinstance(peers, list) and len(replicas) >= 1 and len(peers) >= 2:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError("the sentinels did not discover each other")
                    await asyncio.sleep(0.2)
            finally:
                await client.aclose()

    def live_ports(self) -> list[int]:
        return [a.agi_port for a in self.acds]

    async def place(self, script: str, *, caller_id: str = "5551234",
                    patience: float | None = None) -> Placed:
        """Place a call; like Asterisk's ``hagi://`` (SRV failover), try the next ACD
        when one refuses the FastAGI connection. A call no ACD accepts goes to the
        fallback queue, as the dialplan does on AGISTATUS=FAILURE."""
        ports = self.live_ports()
        self._next += 1
        order = ports[self._next % len(ports):] + ports[: self._next % len(ports)]
        call: FakeCall | None = None
        async with self._place_lock:  # the fake reads agi_port when it connects
            for port in order:
                self.fake.agi_port = port
                call = await self.fake.place_call(script, caller_id=caller_id,
                                                  patience=patience)
                if call.outcome is not CallOutcome.FAILED:
                    break
        assert call is not None
        placed = Placed(call, time.monotonic())
        if call.outcome is CallOutcome.FAILED and script.startswith("inbound"):
            placed.unreachable = True
            task = asyncio.create_task(self._fallback_unreachable(call, patience))
            self.fallback_tasks.add(task)
            task.add_done_callback(self.fallback_tasks.discard)
        return placed

    async def _fallback_unreachable(self, call: FakeCall, patience: float | None) -> None:
        # The fake ends a refused call at once; the real dialplan (AGISTATUS=FAILURE)
        # continues into Queue(<queue>-fallback): run the fake's fallback queue for it.
        loop = asyncio.get_running_loop()
        timer = None
        if patience is not None:
            timer = loop.call_later(patience,
                                    lambda: None if call.bridged else call._mark_dead("caller"))
        try:
            await self.fake._fallback_queue(call)
        finally:
            if timer is not None:
                timer.cancel()

    async def counters(self) -> dict[str, int]:
        epochs = await self.r.zrange(KEYS.stats_index(QUEUE), 0, -1)
        total = {"offered": 0, "answered": 0, "handled": 0, "abandoned": 0, "lost": 0}
        for epoch in epochs:
            values = await self.r.hmget(KEYS.stats(QUEUE, int(float(str(epoch)))), list(total))
            for name, value in zip(list(total), values, strict=True):
                total[name] += int(float(value or 0))
        return total

    async def close(self) -> None:
        for task in list(self.fallback_tasks):
            task.cancel()
        for acd in self.acds:
            await acd.stop()
        await self.fake.close()
        if self.monitor is not None:
            with contextlib.suppress(Exception):
                await self.monitor.aclose()
        for s in self.sentinels:
            await asyncio.to_thread(s.stop)
        if self.replica is not None:
            await asyncio.to_thread(self.replica.cleanup)
        await asyncio.to_thread(self.primary.cleanup)
        shutil.rmtree(self.workdir, ignore_errors=True)


# ======================================================================================
# the agent monitor
# ======================================================================================


@dataclass(slots=True)
class Sample:
    at: float  # monotonic
    stuck: list[tuple[str, str]]  # (agent, reason)


class Monitor:
    """Samples every agent's Redis state against the fake's phone every 0.25 s."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.samples: list[Sample] = []
        self._since: dict[str, float] = {}
        self._stop = asyncio.Event()
        self.failures = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        fields = ["state", "wrap_until"]
        ids = [a.id for a in self.rig.agents]
        while not self._stop.is_set():
            try:
                async with self.rig.r.pipeline(transaction=False) as pipe:
                    for agent_id in ids:
                        pipe.exists(KEYS.agent(agent_id))
                        pipe.hmget(KEYS.agent(agent_id), fields)
                    pipe.zcard(KEYS.waiting(QUEUE))
                    rows = await pipe.execute()
            except (RedisError, OSError):
                self.failures += 1
                self._since.clear()  # an outage: start over when Redis answers
                await asyncio.sleep(0.25)
                continue
            now_mono, now = time.monotonic(), time.time()
            waiting = int(rows[-1])
            stuck: list[tuple[str, str]] = []
            for i, agent_id in enumerate(ids):
                exists, (state, wrap_until) = rows[2 * i], rows[2 * i + 1]
                reason = self._unusable(agent_id, bool(exists), state, wrap_until, waiting, now)
                if reason is None:
                    self._since.pop(agent_id, None)
                    continue
                since = self._since.setdefault(agent_id, now_mono)
                if now_mono - since >= 1.0:
                    stuck.append((agent_id, reason))
            self.samples.append(Sample(now_mono, stuck))
            await asyncio.sleep(0.25)

    def _unusable(self, agent_id: str, exists: bool, state: str | None,
                  wrap_until: str | None, waiting: int, now: float) -> str | None:
        phone = self.rig.fake.agents[agent_id]
        if not phone.registered or phone.private_call:
            return None
        on_acd_call = phone.call is not None
        if not exists or state in (None, "logged_out", "paused"):
            return f"(e) {state or 'no hash'}"
        if state in ("ringing", "on_call") and not on_acd_call:
            return f"(a) {state}, phone idle"
        if state == "available" and on_acd_call:
            return "(b) available, phone on an ACD call"
        if state == "available" and waiting > 0:
            return "(c) available while callers wait"
        if state == "wrap_up" and wrap_until and now > float(wrap_until) + 2.0:
            return "(d) wrap-up overdue"
        return None

    def stuck_at(self, t: float) -> list[tuple[str, str]] | None:
        for s in self.samples:
            if s.at >= t:
                return s.stuck
        return None

    def usable_after(self, fault_end: float) -> float | None:
        after = [s for s in self.samples if s.at >= fault_end]
        if not after:
            return None
        if after[-1].stuck:
            return None
        last = max((s.at for s in after if s.stuck), default=None)
        return 0.0 if last is None else last + 0.25 - fault_end

    def peak_after(self, t: float) -> int:
        return max((len(s.stuck) for s in self.samples if s.at >= t), default=0)


# ======================================================================================
# faults
# ======================================================================================

FaultFn = Callable[[Rig, Fault], Awaitable[None]]


async def no_fault(rig: Rig, fault: Fault) -> None:
    fault.start = fault.end = time.monotonic()


async def redis_kill(rig: Rig, fault: Fault, down: float = 5.0) -> None:
    fault.start = time.monotonic()
    await asyncio.to_thread(rig.primary.kill)
    await asyncio.sleep(down)
    await asyncio.to_thread(rig.primary.start)
    fault.end = time.monotonic()


def _aof(rig: Rig) -> Path:
    return rig.primary.data_dir / "appendonly.aof"


async def redis_kill_aof_loss(rig: Rig, fault: Fault) -> None:
    # Called 1 s before the fault time: note the AOF size, wait 1 s, SIGKILL, cut the
    # file back to the noted size (what an OS crash does to writes not yet fsynced
    # with appendfsync everysec), start again 0.6 s after the kill.
    aof = _aof(rig)
    before = aof.stat()
    await asyncio.sleep(1.0)
    fault.start = time.monotonic()
    await asyncio.to_thread(rig.primary.kill)
    at_kill = aof.stat()
    same_file = at_kill.st_ino == before.st_ino
    os.truncate(aof, before.st_size)
    await asyncio.sleep(0.6)
    await asyncio.to_thread(rig.primary.start)
    fault.end = time.monotonic()
    log = (rig.primary.data_dir / "redis.log").read_text(errors="replace")
    # Redis 6.2 logs "short read" / "aof-load-truncated" for a cut inside a command
    # and "Revert incomplete MULTI/EXEC" for a cut inside a transaction.
    repaired = any(m in log for m in ("short read", "aof-load-truncated", "Revert incomplete"))
    fault.note = (f"AOF cut from {at_kill.st_size:,} to {before.st_size:,} bytes "
                  f"({at_kill.st_size - before.st_size:,} bytes, the last 1 s of writes)"
                  + ("" if same_file else "; WARNING: the AOF was rewritten meanwhile")
                  + ("; Redis reported a truncated tail and loaded the rest"
                     if repaired else "; the cut fell on a command boundary"))


async def redis_back_empty(rig: Rig, fault: Fault) -> None:
    fault.start = time.monotonic()
    await asyncio.to_thread(rig.primary.kill)
    await asyncio.to_thread(rig.primary.wipe)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(rig.primary.start)
    fault.end = time.monotonic()


async def acd_kill_restart(rig: Rig, fault: Fault) -> None:
    fault.start = time.monotonic()
    rig.acds[0].kill()
    await asyncio.sleep(4.0)
    await rig.acds[0].start(rig.fake)
    fault.end = max(time.monotonic(), fault.start + rig.p.lease)


async def one_of_two_killed(rig: Rig, fault: Fault) -> None:
    fault.start = time.monotonic()
    victim = rig.acds[1]
    victim.kill()  # calls offered to it first are refused and go to the survivor
    fault.end = fault.start + rig.p.lease


async def sentinel_failover(rig: Rig, fault: Fault) -> None:
    assert rig.replica is not None
    fault.start = time.monotonic()
    await asyncio.to_thread(rig.primary.kill)
    want = rig.replica.port
    deadline = time.monotonic() + 60
    probe = aioredis.Redis(host="127.0.0.1", port=rig.sentinels[0].port, decode_responses=True)
    rep = aioredis.Redis.from_url(rig.replica.url, decode_responses=True)
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(RedisError, OSError):
                addr = await probe.sentinel_get_master_addr_by_name(MASTER, return_responses=True)
                role = (await rep.info("replication")).get("role")
                if isinstance(addr, tuple) and int(addr[1]) == want and role == "master":
                    break
            await asyncio.sleep(0.05)
        else:
            fault.note = "the replica was never promoted within 60 s"
    finally:
        await probe.aclose()
        await rep.aclose()
    fault.end = time.monotonic()
    fault.note = fault.note or (f"replica promoted {fault.end - fault.start:.1f} s after the "
                                "kill (down-after-milliseconds 1000)")


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    fault: FaultFn
    acds: int = 1
    sentinel: bool = False
    lead: float = 0.0  # the fault function starts this much before fault_at


SCENARIOS = [
    Scenario("none", "none", no_fault),
    Scenario("redis-kill", "Redis `kill -9`, back after 5 s", redis_kill),
    Scenario("redis-aof-loss", "Redis `kill -9`, AOF loses the last second, back after 0.6 s",
             redis_kill_aof_loss, lead=1.0),
    Scenario("acd-kill", "ACD `kill -9`, restarted after 4 s", acd_kill_restart),
    Scenario("two-acds", "two ACDs on one Redis, one killed", one_of_two_killed, acds=2),
    Scenario("redis-empty", "Redis `kill -9`, back empty after 1 s", redis_back_empty),
    Scenario("sentinel", "Sentinel failover (primary `kill -9`; 1 replica, 3 sentinels, "
             "quorum 2)", sentinel_failover, sentinel=True),
]


# ======================================================================================
# one scenario
# ======================================================================================


async def run_scenario(sc: Scenario, p: Params) -> Result:
    rig = Rig(p, acds=sc.acds, sentinel=sc.sentinel)
    res = Result(sc.title)
    monitor = Monitor(rig)
    try:
        await rig.start()
        progress(f"{sc.key}: {p.agents} agents logged in on {sc.acds} ACD(s); traffic starts")
        rng = random.Random(p.seed)
        placed: list[Placed] = []
        tasks: set[asyncio.Task[None]] = set()
        fault = Fault()
        mon_task = asyncio.create_task(monitor.run())
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        t0_mono = time.monotonic()

        async def place(patience: float) -> None:
            placed.append(await rig.place(f"inbound?queue={QUEUE}",
                                          caller_id=f"555{rng.randint(0, 9999):04d}",
                                          patience=patience))

        async def inject() -> None:
            await asyncio.sleep(max(0.0, p.fault_at - sc.lead))
            await sc.fault(rig, fault)
            if sc.key == "redis-empty":
                await asyncio.sleep(0.5)
                states = [await rig.r.hget(KEYS.agent(a.id), "state") for a in rig.agents]
                res.logged_out_by_fault = sum(1 for s in states if s in (None, "logged_out"))
                # Agents see "logged out" on the wallboard and log in again 2 s later.
                await asyncio.sleep(1.5)
                again = [a.id for a, s in zip(rig.agents, states, strict=True)
                         if s in (None, "logged_out")]
                await rig.login(again)

        injector = asyncio.create_task(inject())
        at = t0 + rng.expovariate(p.rate)
        while at < t0 + p.duration:
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(place(rng.uniform(*p.patience)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            at += rng.expovariate(p.rate)
        await asyncio.gather(*tasks)
        await injector
        progress(f"{sc.key}: traffic done ({len(placed)} calls); draining")
        # Observe at least until fault end + 11 s, then let every call finish.
        await asyncio.sleep(max(0.0, fault.end + 11.5 - time.monotonic()))
        for _ in range(int((p.patience[1] + 15) / 0.25)):
            if not rig.fallback_tasks and all(
                x.call.done for x in placed if not x.unreachable
            ):
                break
            await asyncio.sleep(0.25)
        # Wrap-ups end, reconcilers settle what they must: give the counters a moment.
        ans_fake = sum(1 for x in placed if x.call.agent is not None)
        deadline = time.monotonic() + p.wrap_up + 3 * p.lease + 5
        counts = await _counters(rig)
        while time.monotonic() < deadline:
            if counts.get("handled", 0) >= ans_fake and counts.get("answered", 0) >= ans_fake:
                break
            await asyncio.sleep(0.5)
            counts = await _counters(rig)
        monitor.stop()
        await mon_task

        res.placed = len(placed)
        for x in placed:
            c = x.call
            res.unreachable += x.unreachable
            if c.agent is not None:
                res.answered += 1
            if c.fell_back:
                res.fell_back += 1
                if c.fallback_agent is not None:
                    res.fallback_answered += 1
            if c.agent is None and c.fallback_agent is None:
                if c.hung_up_by == "caller":
                    res.abandoned += 1
                else:
                    res.other += 1
            if sum(1 for _, s in c.dial_attempts if s == "ANSWER") > 1:
                res.double_answers += 1
            if fault.start <= x.at <= fault.end:
                res.arrived_during_fault += 1
        res.double_dials = sum(a.double_dials for a in rig.fake.agents.values())
        stuck = monitor.stuck_at(fault.end + 10.0)
        res.stuck_after_10s = None if stuck is None else len(stuck)
        if stuck:
            res.stuck_examples = [f"{a}: {why}" for a, why in stuck[:5]]
        res.stuck_peak = monitor.peak_after(fault.end)
        res.usable_after = monitor.usable_after(fault.end)
        late = [x for x in monitor.samples if x.at >= fault.end and x.stuck]
        if late:
            def show(x: Sample) -> str:
                who = ", ".join(f"{a}: {w}" for a, w in x.stuck[:4])
                return f"t={x.at - t0_mono:.1f} s ({who})"

            res.notes.append(f"stuck after the fault: {len(late)} samples, first at "
                             f"{show(late[0])}, last at {show(late[-1])}")
        res.counted_answered = counts.get("answered", 0)
        res.counted_handled = counts.get("handled", 0)
        res.counted_offered = counts.get("offered", 0)
        if sc.key == "redis-empty":
            # Counters written before the wipe are gone with the data: only what was
            # answered after Redis came back can be in them.
            res.expected_answered = sum(
                1 for x in placed if x.call.agent is not None and x.call.answered_at is not None
                and x.call.answered_at > fault.end)
            res.notes.append(
                f"{res.logged_out_by_fault} agents logged out by the empty Redis (re-created "
                "logged out, by design); they log in again 2 s after Redis returns. "
                f"Counters compared with the {res.expected_answered} calls answered after "
                "Redis came back (earlier counters were wiped with the data).")
        else:
            res.expected_answered = ans_fake
        if res.missing_answered or res.missing_handled:
            res.missing_examples = await _missing_examples(rig, placed, fault, t0_mono)
        res.errors = sum(len(a.log_lines(" ERROR ")) for a in rig.acds)
        if fault.note:
            res.notes.append(fault.note)
        if monitor.failures:
            res.notes.append(f"Redis unreadable for {monitor.failures * 0.25:.1f} s of samples")
        if res.errors:
            last = [ln[-160:] for a in rig.acds for ln in a.log_lines(" ERROR ")][-3:]
            res.notes.append(f"{res.errors} ERROR lines in the ACD log(s), last: "
                             + " | ".join(last))
        res.notes.append(f"t0={t0_mono:.1f}; fault {fault.start - t0_mono:.1f}-"
                         f"{fault.end - t0_mono:.1f} s; {res.arrived_during_fault} calls arrived "
                         "during it")
        return res
    finally:
        monitor.stop()
        await rig.close()


async def _missing_examples(rig: Rig, placed: Sequence[Placed], fault: Fault,
                            t0: float) -> list[str]:
    """Calls answered in the fake whose Redis record lacks the answer or the end."""
    out: list[str] = []
    fields = ["state", "outcome", "answered", "ended", "owner", "agent"]
    for x in placed:
        c = x.call
        if c.agent is None:
            continue
        try:
            state, outcome, answered, ended, owner, agent = await rig.r.hmget(
                KEYS.call(c.channel.uniqueid), fields)
        except (RedisError, OSError):
            return out
        if answered and outcome == "answered":
            continue
        at = (c.answered_at or 0) - t0
        out.append(f"call {c.channel.uniqueid} answered by {c.agent} at t={at:.2f} s "
                   f"(fault {fault.start - t0:.2f}-{fault.end - t0:.2f} s): Redis state="
                   f"{state!s} outcome={outcome!s} answered={answered!s} ended={ended!s} "
                   f"agent={agent!s} owner={owner!s}")
        if len(out) >= 6:
            break
    return out


async def _counters(rig: Rig) -> dict[str, int]:
    try:
        return await rig.counters()
    except (RedisError, OSError):
        return {}


# ======================================================================================
# the table
# ======================================================================================

HEADER = ("| fault | placed | answered | abandoned | fell back (answered there) | "
          "double-assigned | stuck 10 s after | usable again after | missing from counters "
          "(answered / handled) |")


def row(r: Result) -> str:
    usable = "never" if r.usable_after is None else f"{r.usable_after:.1f} s"
    stuck = "n/a" if r.stuck_after_10s is None else str(r.stuck_after_10s)
    double = r.double_dials + r.double_answers
    fb = f"{r.fell_back} ({r.fallback_answered})"
    return (f"| {r.name} | {r.placed} | {r.answered} | {r.abandoned} | {fb} | {double} | "
            f"{stuck} (peak {r.stuck_peak}) | {usable} | {r.missing_answered} / "
            f"{r.missing_handled} |")


def verdicts(results: Sequence[Result]) -> list[str]:
    out = []
    doubles = sum(r.double_dials + r.double_answers for r in results)
    out.append(f"- 0 double assignments: {'met' if doubles == 0 else f'NOT met ({doubles})'}")
    stuck = [r for r in results if r.stuck_after_10s]
    out.append("- 0 agents stuck 10 s after the fault ends: "
               + ("met" if not stuck else "NOT met (" + "; ".join(
                   f"{r.name}: {r.stuck_after_10s}" for r in stuck) + ")"))
    missing = [r for r in results if r.missing_answered or r.missing_handled]
    out.append("- 0 finished conversations missing from the counters: "
               + ("met" if not missing else "NOT met (" + "; ".join(
                   f"{r.name}: {r.missing_answered} answered / {r.missing_handled} handled"
                   for r in missing) + ")"))
    base = next((r for r in results if r.name == "none"), None)
    kill = next((r for r in results if r.name.startswith("Redis `kill -9`, back after 5")),
                None)
    if base is not None and kill is not None:
        limit = 2 * base.abandoned + kill.arrived_during_fault
        out.append(f"- abandons in a 5 s Redis outage <= 2 x no-fault ({base.abandoned}) + "
                   f"arrivals during the outage ({kill.arrived_during_fault}) = {limit}: "
                   f"{kill.abandoned} -> {'met' if kill.abandoned <= limit else 'NOT met'}")
    return out


def render(results: Sequence[Result], p: Params, mode: str, elapsed: float) -> str:
    lines = [f"Mode: {mode}. {p.describe()}.", "", HEADER,
             "|---|---|---|---|---|---|---|---|---|", *(row(r) for r in results), "",
             "Targets:", *verdicts(results), "", "Notes per scenario:"]
    for r in results:
        extra = []
        if r.unreachable:
            extra.append(f"{r.unreachable} calls found no ACD listening (fallback queue)")
        if r.other:
            extra.append(f"{r.other} calls ended by the ACD without an agent or unfinished")
        extra.append(f"counters: offered {r.counted_offered}, answered {r.counted_answered}, "
                     f"handled {r.counted_handled} (fake: {r.expected_answered} answered)")
        if r.stuck_examples:
            extra.append("stuck: " + ", ".join(r.stuck_examples))
        if r.missing_examples:
            extra.append("not in the counters: " + "; ".join(r.missing_examples))
        lines.append(f"- {r.name}: " + "; ".join([*extra, *r.notes]))
    lines += ["", f"(total {elapsed:.0f} s)"]
    return "\n".join(lines)


def params_for(args: argparse.Namespace) -> Params:
    if args.quick:
        rate, duration, fault_at, agents = 5.0, 20.0, 6.0, 15
    else:
        rate, duration, fault_at, agents = 20.0, 60.0, 20.0, 45
    return Params(
        rate=args.rate or rate, duration=args.duration or duration,
        fault_at=args.fault_at or fault_at, agents=args.agents or agents,
        wrap_up=1, ring_delay=0.2, talk=(0.4, 0.8), patience=(15.0, 45.0),
        lease=args.lease, seed=args.seed)


async def amain(args: argparse.Namespace) -> None:
    p = params_for(args)
    mode = "quick" if args.quick else "full"
    print(f"chaos benchmark, {mode} mode: {p.describe()}", flush=True)
    chosen = [s for s in SCENARIOS if not args.only or s.key in args.only]
    results: list[Result] = []
    started = time.monotonic()
    for sc in chosen:
        t = time.monotonic()
        progress(f"{sc.key} ...")
        try:
            results.append(await run_scenario(sc, p))
        except Exception as exc:  # one broken scenario must not hide the others
            r = Result(sc.title)
            r.stuck_after_10s = None
            r.usable_after = None
            r.notes.append(f"could not complete: {type(exc).__name__}: {exc}"[:300])
            results.append(r)
        progress(f"{sc.key} took {time.monotonic() - t:.0f} s")
        print(row(results[-1]), flush=True)
    text = render(results, p, mode, time.monotonic() - started)
    print()
    print(text)
    print()
    print("Definitions:")
    print(STUCK_DEFINITION)
    if args.write_doc and not args.only:
        write_doc(text, mode)
    elif args.write_doc:
        progress(f"{DOC.relative_to(ROOT)} left as it is: it holds whole runs, not --only ones")


def write_doc(table: str, mode: str) -> None:
    """Replace this mode's section of docs/benchmarks-chaos.md, keep the rest."""
    marker_start, marker_end = f"<!-- chaos:{mode}:start -->", f"<!-- chaos:{mode}:end -->"
    block = f"{marker_start}\n{table}\n{marker_end}"
    text = DOC.read_text() if DOC.exists() else ""
    if marker_start in text and marker_end in text:
        head, rest = text.split(marker_start, 1)
        _, tail = rest.split(marker_end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + f"\n\n## Results, {mode} mode\n\n{block}\n"
    DOC.write_text(text)
    progress(f"wrote {DOC.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 calls/s, 15 agents, 20 s, fault at t=6 s")
    parser.add_argument("--only", action="append", default=[],
                        choices=[s.key for s in SCENARIOS], help="run only this scenario")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--fault-at", type=float, default=0.0)
    parser.add_argument("--agents", type=int, default=0)
    parser.add_argument("--lease", type=float, default=3.0,
                        help="[redis] instance_lease_seconds (default 3, the ACD's default)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-write-doc", dest="write_doc", action="store_false",
                        help="do not update docs/benchmarks-chaos.md (--only never does)")
    args = parser.parse_args()
    raise_nofile()
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
