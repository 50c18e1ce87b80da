"""A whole contact center on loopback for end-to-end tests.

Real Redis, the real ACD service and FastAGI server, a real AMI client, and
the fake Asterisk placing calls over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from acd.core.models import AgentState
from acd.core.settings import AgentConfig, AmiConfig, Config, QueueConfig, RedisConfig
from acd.presence import AMI_EVENT_FILTERS
from acd.service import AcdService
from acd.store.client import close, connect
from acd.store.store import Store
from telephony.agi_server import AgiServer
from telephony.ami_client import AmiClient
from telephony.fake import FakeAsterisk
from tests.redis_reads import stats_totals

SECRET = "test-secret"


def bare(endpoint: str) -> str:
    return endpoint.split("/", 1)[1] if "/" in endpoint else endpoint


def make_config(
    queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], prefix: str
) -> Config:
    return Config(
        source="test",
        ami=AmiConfig(username="acd", secret=SECRET),
        redis=RedisConfig(key_prefix=prefix),
        queues=tuple(queues),
        agents=tuple(agents),
    )


@dataclass
class Acd:
    """One ACD process: service + FastAGI server + AMI client."""

    service: AcdService
    agi: AgiServer
    ami: AmiClient | None
    redis: aioredis.Redis

    async def stop(self, *, crash: bool = False) -> None:
        """Stop; ``crash`` skips the service's own clean-up, as a killed process would."""
        await self.agi.close()
        if self.ami is not None:
            await self.ami.close()
        if crash:
            self.service._closing = True  # its loops stop; nothing is cleaned up
            for task in self.service._tasks:
                task.cancel()
            await asyncio.wait_for(
                asyncio.gather(*self.service._tasks, return_exceptions=True), 10
            )
        else:
            await self.service.close()
        await close(self.redis)


@dataclass
class Center:
    config: Config
    redis_url: str
    fake: FakeAsterisk
    acds: list[Acd] = field(default_factory=list)
    # The ACDs' clock: real time plus what the test advanced it by, so a test
    # orders idle times and arrivals without sleeping.
    skew: float = 0.0

    def clock(self) -> float:
        return time.time() + self.skew

    def advance(self, seconds: float) -> None:
        self.skew += seconds

    @property
    def acd(self) -> Acd:
        return self.acds[0]

    @property
    def store(self) -> Store:
        return self.acd.service.store

    async def start_acd(self, *, lease: float = 3.0, with_ami: bool = True) -> Acd:
        redis = connect(RedisConfig(url=self.redis_url, socket_timeout=1.0))
        service = AcdService(self.config, redis, lease=lease, sweep_interval=0.1,
                             clock=self.clock)
        await service.start()
        agi = AgiServer(service.routes(), port=0)
        await agi.start()
        service.agi_listening = True
        ami = None
        if with_ami:
            ami = AmiClient("127.0.0.1", self.fake.ami_port, "acd", SECRET, ping_interval=5,
                            reconnect_min=0.05, reconnect_max=0.2,
                            event_filters=AMI_EVENT_FILTERS)
            service.attach_ami(ami)
            await ami.start()
            # The login's FullyBooted starts the presence resync: wait for it.
            await eventually(lambda: _resynced(service), 10, "the AMI resync")
        acd = Acd(service, agi, ami, redis)
        self.acds.append(acd)
        self.fake.agi_port = agi.port
        return acd

    async def login(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            await self.acd.service.commands.login(agent_id)

    async def agent_state(self, agent_id: str) -> AgentState:
        view = await self.store.agent(agent_id)
        assert view is not None
        return view.state

    async def stats(self, queue: str) -> dict[str, float]:
        """Today's counters for a queue, summed over intervals."""
        return await stats_totals(self.acd.redis, self.store.keys, queue)

    async def close(self) -> None:
        # Bounded: a clean-up that hangs must fail the test run, not stall it.
        for acd in self.acds:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(acd.stop(), 20)
        await asyncio.wait_for(self.fake.close(), 20)


async def _resynced(service: AcdService) -> bool:
    return service.resyncs >= 1


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "condition"  # noqa: ASYNC109
) -> None:
    """Poll an async condition until it holds (the system under test is concurrent)."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def build_center(
    redis_url: str,
    prefix: str,
    queues: Sequence[QueueConfig],
    agents: Sequence[AgentConfig],
    *,
    behaviours: dict[str, str] | None = None,
    talk_seconds: float = 0.3,
    ring_delay: float = 0.05,
    register: bool = True,
) -> Center:
    config = make_config(queues, agents, prefix)
    fake = FakeAsterisk(agi_port=0, ami_username="acd", ami_secret=SECRET, seed=1)
    await fake.start()
    for agent in agents:
        fake.add_agent(
            bare(agent.endpoint),
            ring_delay=ring_delay,
            behaviour=(behaviours or {}).get(agent.id, "answer"),
            talk_seconds=talk_seconds,
        )
        if register:
            await fake.register(bare(agent.endpoint))
    return Center(config=config, redis_url=redis_url, fake=fake)


def agent(aid: str, queues: dict[str, int] | None = None,
          skills: dict[str, int] | None = None) -> AgentConfig:
    return AgentConfig(id=aid, name=f"Agent {aid}", endpoint=f"PJSIP/{aid}",
                       queues=queues if queues is not None else {"support": 50},
                       skills=skills or {})


def queue(name: str = "support", **kw: Any) -> QueueConfig:
    """A queue with quick test timings; ``kw`` overrides any QueueConfig field
    (a misspelt one fails: dataclasses.replace raises TypeError)."""
    defaults: dict[str, Any] = {
        "wrap_up_seconds": 0,
        "ring_timeout_seconds": 1,
        "announce_period_seconds": 0,
        "short_abandon_seconds": 0,
    }
    defaults.update(kw)
    return dataclasses.replace(QueueConfig(name=name), **defaults)
