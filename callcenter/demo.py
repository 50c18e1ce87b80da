"""`acd demo`: a lively contact center on one machine, from one command.

Starts an embedded Redis, the fake Asterisk (AMI server, simulated SIP agents
and callers over real FastAGI), the ACD and the wallboard; agents log in and
take breaks, traffic swells and ebbs so queues build up and drain. Ctrl-C or
SIGTERM stops everything this command started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import RedisError

from acd.config.loader import load_or_report
from acd.core.credentials import hash_password
from acd.core.intervals import INTERVAL_SECONDS, wait_bucket_field
from acd.core.settings import AgentConfig, BoardConfig, Config, QueueConfig, SupervisorConfig
from callcenter.runtime import Runtime, start_runtime, stop_runtime, with_ports
from callcenter.service import run_async, wait_for_stop_signal
from telephony.fake import FakeAsterisk

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"

CALLER_NAMES = (
    "Anna Nowak", "John Smith", "Łukasz Wiśniewski", "Maria García", "Chen Wei",
    "Fatima Al-Sayed", "Olu Adeyemi", "Sven Ødegaard", "<script>alert('x')</script>",
    "Priya Sharma", "Tomás Ruiz", "Hana Suzuki",
)
PAUSE_REASONS = ("Lunch", "Coffee break", "Training", "Team meeting", "Back office")

# A big floor (`ACD_DEMO_QUEUES=8 ACD_DEMO_AGENTS=120 acd demo`): queue names
# and agent names the generated configuration uses.
FLOOR_QUEUES = (
    "support", "sales", "billing", "returns", "technical", "claims", "renewals",
    "payments", "onboarding", "retention", "vip", "complaints",
)
FIRST_NAMES = (
    "Zoë", "Amara", "Lucas", "Søren", "Priya", "Mateo", "Chloé", "Jonas", "Aiko", "Olu",
    "Ingrid", "Tomás", "Fatima", "Wei", "Łucja", "Kofi", "Elena", "Raj", "Maja", "Yusuf",
)
LAST_NAMES = (
    "Kowalczyk", "Okafor", "Ferreira", "Lindqvist", "Raghunathan", "Hernández", "Dubois",
    "Weiß", "Tanaka", "Adeyemi", "Halvorsen", "Ruiz", "Haddad", "Zhang", "Wiśniewska",
    "Mensah", "Popescu", "Iyer", "Nowak", "Demir",
)
MAX_FLOOR_QUEUES = len(FLOOR_QUEUES)
MAX_FLOOR_AGENTS = 400


def floor_config(base: Config, queues: int, agents: int) -> Config:
    """``base`` with ``queues`` queues and ``agents`` agents generated (each agent
    in one or two queues), for showing a big floor. Queue settings are copied
    from the base's first queue; skills requirements are dropped."""
    queues = max(1, min(queues, MAX_FLOOR_QUEUES))
    agents = max(1, min(agents, MAX_FLOOR_AGENTS))
    template = base.queues[0] if base.queues else QueueConfig(name="support")
    qs = tuple(
        dataclasses.replace(
            template, name=name, required_skills=(), relaxation=(), overflow_queue="",
            service_level_seconds=(60 if i % 3 == 1 else 120),
        )
        for i, name in enumerate(FLOOR_QUEUES[:queues])
    )
    people = tuple(
        AgentConfig(
            id=str(2001 + i),
            name=f"{FIRST_NAMES[i % len(FIRST_NAMES)]} "
            f"{LAST_NAMES[(i // len(FIRST_NAMES) + i) % len(LAST_NAMES)]}",
            endpoint=f"PJSIP/{2001 + i}",
            queues={qs[i % queues].name: 80, qs[(i * 7 + 3) % queues].name: 40},
        )
        for i in range(agents)
    )
    boards = (BoardConfig(name="floor", queues=tuple(q.name for q in qs), title="Contact centre"),)
    wallboard = dataclasses.replace(base.wallboard, boards=boards)
    return dataclasses.replace(base, queues=qs, agents=people, wallboard=wallboard)


def with_demo_token(config: Config) -> tuple[Config, bool]:
    """The demo's agent API needs a bearer token: the config's, or a fresh one
    (second item True when generated)."""
    if config.wallboard.api_token:
        return config, False
    token = secrets.token_urlsafe(16)
    return dataclasses.replace(
        config, wallboard=dataclasses.replace(config.wallboard, api_token=token)
    ), True


DEMO_SUPERVISOR = "super"
# Quicker scrypt for throwaway demo passwords (the stored hash names its cost).
_DEMO_HASH_N = 2**12


@dataclass(frozen=True, slots=True)
class DeskLogins:
    """The passwords generated for one demo run's agent desk."""

    agent_password: str
    supervisor_id: str
    supervisor_password: str
    human_agent: str  # left to the person trying the demo


def with_demo_desk(config: Config) -> tuple[Config, DeskLogins]:
    """Every agent and a supervisor get a password generated for this run
    (agents that already have a hash keep it)."""
    agent_password = secrets.token_urlsafe(9)
    supervisor_password = secrets.token_urlsafe(9)
    hashed = hash_password(agent_password, n=_DEMO_HASH_N)
    agents = tuple(
        a if a.password_hash else dataclasses.replace(a, password_hash=hashed)
        for a in config.agents
    )
    supervisors = config.supervisors
    if not any(s.id == DEMO_SUPERVISOR for s in supervisors):
        supervisors = (*supervisors, SupervisorConfig(
            id=DEMO_SUPERVISOR, name="Sam Supervisor",
            password_hash=hash_password(supervisor_password, n=_DEMO_HASH_N),
        ))
    human = config.agents[0].id if config.agents else ""
    logins = DeskLogins(agent_password, DEMO_SUPERVISOR, supervisor_password, human)
    return dataclasses.replace(config, agents=agents, supervisors=supervisors), logins


def _bare(endpoint: str) -> str:
    """``PJSIP/1001`` -> ``1001`` (the fake's endpoint names)."""
    return endpoint.split("/", 1)[1] if "/" in endpoint else endpoint


class DemoTraffic:
    """Callers arriving as a Poisson process whose rate swells and ebbs."""

    def __init__(self, fake: FakeAsterisk, config: Config, rng: random.Random,
                 base_rate: float, period: float) -> None:
        self.fake = fake
        self.queues = [q.name for q in config.queues]
        self.weights = [3.0, 2.0, 1.0][: len(self.queues)] + [1.0] * max(0, len(self.queues) - 3)
        # Traffic grows with the floor: about one call per 2.5 s per 20 agents.
        base_rate *= max(1.0, len(config.agents) / 20)
        self.rng = rng
        self.base_rate = base_rate
        self.period = period
        self.placed = 0
        self._calls: set[asyncio.Task[None]] = set()

    def rate(self, t: float) -> float:
        return self.base_rate * (1.0 + 0.7 * math.sin(2 * math.pi * t / self.period))

    async def run(self) -> None:
        start = time.monotonic()
        try:
            while True:
                rate = max(0.05, self.rate(time.monotonic() - start))
                await asyncio.sleep(self.rng.expovariate(rate))
                queue = self.rng.choices(self.queues, self.weights)[0]
                self.placed += 1
                task = asyncio.create_task(self._one_call(queue))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
        finally:
            for task in list(self._calls):
                task.cancel()
            await asyncio.gather(*self._calls, return_exceptions=True)

    async def _one_call(self, queue: str) -> None:
        number = f"+4822{self.rng.randrange(1000000, 9999999)}"
        vip = self.rng.random() < 0.05
        script = f"inbound?queue={queue}" + ("&priority=5" if vip else "")
        try:
            call = await self.fake.place_call(
                script,
                caller_id=number,
                caller_name=self.rng.choice(CALLER_NAMES),
                patience=self.rng.uniform(20.0, 240.0),
            )
            await call.wait_done(3600)
        except (OSError, TimeoutError) as exc:
            log.debug("demo call failed: %s", exc)


async def seed_history(rt: Runtime, rng: random.Random, now: float) -> int:
    """Simulated counters for today's intervals before the demo started, so the
    board's "today" figures and service-level sparkline have a morning behind
    them. Returns the number of intervals written."""
    store = rt.service.store
    tz = zoneinfo.ZoneInfo(rt.config.wallboard.timezone)
    midnight = dt.datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    start = int(midnight.timestamp()) // INTERVAL_SECONDS * INTERVAL_SECONDS
    current = int(now) // INTERVAL_SECONDS * INTERVAL_SECONDS
    written = 0
    for qi, queue in enumerate(rt.config.queues):
        for epoch in range(start, current, INTERVAL_SECONDS):
            hour = dt.datetime.fromtimestamp(epoch, tz).hour
            busy = 8 <= hour < 19
            # Busier first queues; from the fifth on, all alike (any count works).
            peak = max(14, 40 - 8 * qi)
            offered = rng.randint(10, peak) if busy else rng.randint(0, 2)
            counts: dict[str, float] = {"offered": offered}
            for _ in range(offered):
                wait = rng.expovariate(1 / (25.0 + 25 * (qi % 4)))
                if rng.random() < 0.06:
                    counts["abandoned"] = counts.get("abandoned", 0) + 1
                    if wait < queue.short_abandon_seconds:
                        counts["short_abandoned"] = counts.get("short_abandoned", 0) + 1
                    continue
                talk = rng.lognormvariate(5.0, 0.5)
                for field, value in (
                    ("answered", 1), ("handled", 1), ("wait_seconds", wait),
                    ("talk_seconds", talk), ("wrap_seconds", queue.wrap_up_seconds),
                    ("handle_seconds", talk + queue.wrap_up_seconds),
                    (wait_bucket_field(wait), 1),
                ):
                    counts[field] = counts.get(field, 0) + value
                if wait <= queue.service_level_seconds:
                    counts["answered_within_target"] = (
                        counts.get("answered_within_target", 0) + 1
                    )
                if queue.dispositions:
                    resolved = rng.random() < 0.88
                    for field, value in (("dispositioned", 1), ("resolved", resolved)):
                        counts[field] = counts.get(field, 0) + value
                if rng.random() < 0.3:  # a third of callers answer the survey
                    good = rng.random() < 0.86
                    for field, value in (("csat_answers", 1), ("csat_good", good)):
                        counts[field] = counts.get(field, 0) + value
            await store.add_counters(queue.name, epoch, counts, now)
            written += 1
    return written


async def agents_life(
    rt: Runtime, rng: random.Random, stopping: asyncio.Event | None = None,
    leave_alone: frozenset[str] = frozenset(),
) -> None:
    """Agents log in one by one, then now and then take a break, until
    ``stopping`` is set (a flag as well as cancellation: a cancel that lands
    inside a store call can be swallowed there, and the loop must end anyway).
    Agents in ``leave_alone`` are left to a person at the agent desk."""
    stopping = stopping or asyncio.Event()
    ids = [a.id for a in rt.config.agents if a.id not in leave_alone]
    step = min(0.15, 6.0 / max(1, len(ids)))  # a big floor is in within about 6 s
    for agent_id in ids:
        if stopping.is_set():
            return
        with contextlib.suppress(Exception):
            await rt.service.commands.login(agent_id)
        await asyncio.sleep(step)
    scale = max(1.0, len(ids) / 20)  # as many breaks per agent on a big floor
    while not stopping.is_set():
        await asyncio.sleep(rng.uniform(4.0, 10.0) / scale)
        if stopping.is_set():
            return
        agent_id = rng.choice(ids)
        view = await rt.service.store.agent(agent_id)
        if view is None:
            continue
        with contextlib.suppress(Exception):
            if view.state.value == "paused":
                await rt.service.commands.unpause(agent_id)
            elif view.state.value in ("available", "wrap_up") and rng.random() < 0.5:
                await rt.service.commands.pause(agent_id, rng.choice(PAUSE_REASONS))


DISPOSITION_WEIGHTS = {"resolved": 0.85, "follow_up": 0.08, "escalated": 0.05}


async def dispositions_life(
    rt: Runtime, rng: random.Random, stopping: asyncio.Event,
    leave_alone: frozenset[str] = frozenset(),
) -> None:
    """The simulated agents record a disposition during each wrap-up (so the
    board's resolution rate moves); a person's agent is left alone."""
    ids = [a.id for a in rt.config.agents if a.id not in leave_alone]
    done: set[str] = set()
    while not stopping.is_set():
        await asyncio.sleep(1.0)
        views = await rt.service.store.agents(ids)
        for view in views:
            if view.state.value != "wrap_up" or not view.call_id or view.call_id in done:
                continue
            done.add(view.call_id)
            queue = rt.config.queue(view.queue)
            if queue is None or not queue.dispositions or rng.random() < 0.3:
                continue  # some wrap-ups end with no disposition, as on a real floor
            codes = list(queue.dispositions)
            weights = [DISPOSITION_WEIGHTS.get(c, 0.02) for c in codes]
            with contextlib.suppress(Exception):
                await rt.service.commands.disposition(
                    view.id, view.call_id, rng.choices(codes, weights)[0])
        if len(done) > 10_000:
            done.clear()


async def _demo(config: Config, host: str, port: int, seed: int | None) -> int:
    rng = random.Random(seed)
    config, generated = with_demo_token(config)
    config, logins = with_demo_desk(config)
    human = frozenset({logins.human_agent} - {""})
    workdir = Path(tempfile.mkdtemp(prefix="acd-demo-"))
    fake = FakeAsterisk(
        agi_port=0, ami_username=config.ami.username, ami_secret=config.ami.secret, seed=seed
    )
    await fake.start()
    rt: Runtime | None = None
    tasks: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()
    try:
        for agent in config.agents:
            behaviour = "no_answer" if rng.random() < 0.08 else "answer"
            fake.add_agent(
                _bare(agent.endpoint),
                ring_delay=rng.uniform(0.8, 3.0),
                behaviour=behaviour,
                talk_seconds=rng.uniform(20.0, 55.0),
            )
        cfg = with_ports(config, ami_port=fake.ami_port, agi_port=0, host=host, port=port)
        seeded = 0

        async def seed_morning(started: Runtime) -> None:
            # Before the wallboard serves: no page sees a half-written morning.
            nonlocal seeded
            seeded = await seed_history(started, rng, time.time())

        try:
            rt = await start_runtime(
                cfg, embedded_dir=workdir / "redis", before_serving=seed_morning
            )
        except (OSError, RedisError) as exc:
            print(f"acd demo: cannot start: {exc}", file=sys.stderr)
            return 1
        fake.agi_port = rt.agi.port
        if seeded:
            print(f"demo: today's {seeded} earlier queue intervals hold simulated history",
                  flush=True)
        for agent in config.agents:
            await fake.register(_bare(agent.endpoint))
        traffic = DemoTraffic(fake, config, rng, base_rate=0.45, period=240.0)
        tasks.append(asyncio.create_task(agents_life(rt, rng, stopping, human),
                                         name="demo-agents"))
        tasks.append(asyncio.create_task(dispositions_life(rt, rng, stopping, human),
                                         name="demo-dispositions"))
        tasks.append(asyncio.create_task(traffic.run(), name="demo-traffic"))
        # Listen for Ctrl-C/SIGTERM before telling anyone the URL: a stop asked
        # for right after the URL appeared was otherwise lost (the demo ran on).
        stop = asyncio.create_task(wait_for_stop_signal(), name="demo-stop")
        tasks.append(stop)
        await asyncio.sleep(0)  # the waiter installs its handlers on its first step
        print(f"Wallboard: {rt.wallboard_url}", flush=True)
        example = config.agents[0].id if config.agents else "<id>"
        if generated:  # a throwaway token for this run: safe to show
            print(f"  agent API: curl -X POST -H 'Authorization: Bearer "
                  f"{config.wallboard.api_token}' {rt.wallboard_url}api/agents/{example}/pause"
                  "  (token generated for this demo run)", flush=True)
        else:  # the operator's own secret: never printed
            print(f"  agent API: {rt.wallboard_url}api/agents/{example}/pause with "
                  "'Authorization: Bearer <wallboard.api_token from the config>'", flush=True)
        print("  terminal view: acd wallboard tail --url " + rt.wallboard_url.rstrip("/"),
              flush=True)
        print(f"Agent desk: {rt.wallboard_url}signin  (passwords generated for this demo run)",
              flush=True)
        if logins.human_agent:
            print(f"  agent {logins.human_agent} is yours (the simulated floor leaves it alone):"
                  f" sign in as {logins.human_agent}, password {logins.agent_password},"
                  f" then Log in; panel {rt.wallboard_url}agent", flush=True)
            print("  other agents: the same password (the simulation drives them too)", flush=True)
        print(f"  supervisor: sign in as {logins.supervisor_id}, password "
              f"{logins.supervisor_password}; view {rt.wallboard_url}supervisor", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop
        print("stopping the demo...", flush=True)
        return 0
    finally:
        stopping.set()
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: the runtime below must stop even if a task would not
            _, pending = await asyncio.wait(tasks, timeout=5.0)
            if pending:
                log.error("demo: %s did not stop", ", ".join(t.get_name() for t in pending))
        if rt is not None:
            await stop_runtime(rt)
        await fake.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _floor_size(queues: int | None, agents: int | None) -> tuple[int | None, int | None]:
    """Explicit sizes, else ``ACD_DEMO_QUEUES`` / ``ACD_DEMO_AGENTS``."""
    def pick(given: int | None, name: str) -> int | None:
        if given is not None:
            return given
        raw = os.environ.get(name, "").strip()
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            print(f"acd demo: {name}={raw!r} is not a whole number; ignored", file=sys.stderr)
            return None

    return pick(queues, "ACD_DEMO_QUEUES"), pick(agents, "ACD_DEMO_AGENTS")


def run_demo(
    *,
    host: str,
    port: int,
    config_path: str | None,
    seed: int | None = None,
    queues: int | None = None,
    agents: int | None = None,
) -> int:
    """``acd demo``. ``queues``/``agents`` (or ``ACD_DEMO_QUEUES``/``ACD_DEMO_AGENTS``)
    replace the config's queues and agents with a generated floor of that size."""
    path = config_path or str(DEFAULT_CONFIG)
    config = load_or_report(path)
    if config is None:
        return 2
    n_queues, n_agents = _floor_size(queues, agents)
    if n_queues is not None or n_agents is not None:
        config = floor_config(
            config, n_queues or len(config.queues) or 3, n_agents or len(config.agents) or 20
        )
    return run_async(_demo(config, host, port, seed))
