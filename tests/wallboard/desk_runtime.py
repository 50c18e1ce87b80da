"""The agent desk's test bed: the real ACD service (store, Lua, dispatcher)
on a real Redis, the fake Asterisk over real AMI and FastAGI, and the
wallboard app with a clock the test can move forward (session expiry)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from acd.core.credentials import hash_password
from acd.core.settings import (
    AgentConfig,
    AgiConfig,
    AmiConfig,
    Config,
    QueueConfig,
    RedisConfig,
    SupervisorConfig,
    WallboardConfig,
)
from callcenter.runtime import Runtime, start_runtime, stop_runtime
from telephony.fake import FakeAsterisk, FakeCall

PASSWORDS = {"1001": "ann-secret-1", "1002": "ben-secret-2", "sup": "boss-secret-3"}
# Cheap scrypt parameters: the tests check behaviour, not the hash's cost.
_HASHES = {user: hash_password(pw, n=2**10) for user, pw in PASSWORDS.items()}
DISPOSITIONS = ("resolved", "follow_up", "escalated")


class GatedFake(FakeAsterisk):
    """The fake Asterisk, but a phone with a gate keeps ringing until the test
    opens it (the ACD has already marked the agent ringing by then), so a test
    can look at the offer without racing the ring delay."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gates: dict[str, asyncio.Event] = {}
        self.ringing: dict[str, asyncio.Event] = {}

    def hold_ring(self, endpoint: str) -> asyncio.Event:
        self.gates[endpoint] = asyncio.Event()
        self.ringing[endpoint] = asyncio.Event()
        return self.gates[endpoint]

    async def dial(self, call: FakeCall, endpoint: str, ring_timeout: float) -> tuple[str, int]:
        gate = self.gates.pop(endpoint, None)
        if gate is not None:
            self.ringing[endpoint].set()
            await gate.wait()
        return await super().dial(call, endpoint, ring_timeout)


def desk_config(redis_url: str, ami_port: int) -> Config:
    return Config(
        source="<desk test>",
        ami=AmiConfig(port=ami_port, username="acd", secret="s"),
        agi=AgiConfig(port=0),
        redis=RedisConfig(url=redis_url, key_prefix=f"desk{uuid.uuid4().hex[:6]}:"),
        wallboard=WallboardConfig(port=0, api_token="machine-token", timezone="UTC"),
        queues=(
            QueueConfig(
                name="support",
                dispositions=DISPOSITIONS,
                resolved_dispositions=("resolved",),
                wrap_up_ends_on_disposition=True,
                wrap_up_seconds=600,  # ends when the disposition is saved
                ring_timeout_seconds=60,
            ),
        ),
        agents=(
            AgentConfig(id="1001", name="Ann <b>Lee</b>", endpoint="PJSIP/1001",
                        queues={"support": 50}, password_hash=_HASHES["1001"]),
            AgentConfig(id="1002", name="Ben Ode", endpoint="PJSIP/1002",
                        queues={"support": 40}, password_hash=_HASHES["1002"]),
        ),
        supervisors=(SupervisorConfig(id="sup", name="Sue Visor", password_hash=_HASHES["sup"]),),
    )


@dataclass
class DeskBed:
    rt: Runtime
    fake: GatedFake
    skew: list[float] = field(default_factory=lambda: [0.0])

    def clock(self) -> float:
        return time.time() + self.skew[0]

    @property
    def store(self) -> Any:
        return self.rt.service.store

    async def agent_state(self, agent_id: str) -> str:
        view = await self.store.agent(agent_id)
        return "" if view is None else str(view.state.value)


async def eventually(bed: DeskBed, check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for a condition the ACD reaches by itself: re-checked after every
    change message the ACD publishes (bounded by the test's timeout)."""
    pubsub = bed.rt.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(bed.store.keys.changes)
    try:
        while not await check():
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


@asynccontextmanager
async def desk_bed(redis_url: str, *, talk_seconds: float = 3600.0) -> AsyncIterator[DeskBed]:
    fake = GatedFake(ami_username="acd", ami_secret="s")
    await fake.start()
    for endpoint in ("1001", "1002"):
        fake.add_agent(endpoint, ring_delay=0.05, talk_seconds=talk_seconds)
        await fake.register(endpoint)
    rt = await start_runtime(desk_config(redis_url, fake.ami_port), serve_wallboard=False)
    fake.agi_port = rt.agi.port
    bed = DeskBed(rt, fake)
    try:
        yield bed
    finally:
        async with asyncio.timeout(30):
            await stop_runtime(rt)
            await fake.close()
