"""`acd run`'s runtime: the HTTP agent API drives the real ACD service."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from acd.core.settings import (
    AgentConfig,
    AgiConfig,
    AmiConfig,
    Config,
    QueueConfig,
    RedisConfig,
    WallboardConfig,
)
from acd.store.embedded import EmbeddedRedis
from callcenter.runtime import Runtime, start_runtime, stop_runtime
from telephony.fake import FakeAsterisk

TOKEN = "api-token-for-tests"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
async def runtime(redis_server: EmbeddedRedis) -> AsyncIterator[tuple[Runtime, FakeAsterisk]]:
    fake = FakeAsterisk(ami_username="acd", ami_secret="s")
    await fake.start()
    fake.add_agent("1001")
    await fake.register("1001")
    config = Config(
        source="test",
        ami=AmiConfig(port=fake.ami_port, username="acd", secret="s"),
        agi=AgiConfig(port=0),
        redis=RedisConfig(url=redis_server.url, key_prefix=f"rt{uuid.uuid4().hex[:6]}:"),
        wallboard=WallboardConfig(port=0, api_token=TOKEN),
        queues=(QueueConfig(name="support"),),
        agents=(AgentConfig(id="1001", name="Ann", endpoint="PJSIP/1001",
                            queues={"support": 50}),),
    )
    rt = await start_runtime(config, serve_wallboard=True)
    fake.agi_port = rt.agi.port
    try:
        yield rt, fake
    finally:
        # Bounded: a task that swallows its cancellation must fail the test,
        # not hang the run (the wallboard hub once did).
        async with asyncio.timeout(30):
            await stop_runtime(rt)
            await fake.close()


async def test_agent_api_changes_the_acd_state(runtime: tuple[Runtime, FakeAsterisk]) -> None:
    rt, fake = runtime
    base = rt.wallboard_url.rstrip("/")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/agents/1001/login") as resp:
            assert resp.status == 401  # no token: nothing changes
        view = await rt.service.store.agent("1001")
        assert view is not None and view.state.value == "logged_out"
        async with http.post(f"{base}/api/agents/1001/login", headers=auth) as resp:
            assert resp.status == 200
        async with http.post(f"{base}/api/agents/1001/login", headers=auth) as resp:
            assert resp.status == 409  # already logged in
        async with http.post(f"{base}/api/agents/9999/login", headers=auth) as resp:
            assert resp.status == 404
        async with http.post(f"{base}/api/agents/1001/pause", headers=auth,
                             json={"reason": "<b>Lunch</b>"}) as resp:
            assert resp.status == 200
        view = await rt.service.store.agent("1001")
        assert view is not None and view.state.value == "paused"
        assert view.pause_reason == "<b>Lunch</b>"
        async with http.get(f"{base}/healthz") as resp:
            health = await resp.json()
        assert health["fastagi"] == "up" and health["redis"] == "up"
        async with http.post(f"{base}/api/agents/1001/unpause", headers=auth) as resp:
            assert resp.status == 200
    call = await fake.place_call()
    await call.wait_done(10)
    assert call.dial_attempts == [("1001", "ANSWER")]


async def test_a_taken_port_fails_cleanly(runtime: tuple[Runtime, FakeAsterisk]) -> None:
    rt, _ = runtime
    taken = int(rt.wallboard_url.rstrip("/").rsplit(":", 1)[1])
    config = dataclasses.replace(
        rt.config,
        wallboard=dataclasses.replace(rt.config.wallboard, port=taken),
        agi=dataclasses.replace(rt.config.agi, port=0),
    )
    with pytest.raises(OSError):
        await start_runtime(config)


async def test_what_runs_before_serving_is_on_the_first_page_served(
    runtime: tuple[Runtime, FakeAsterisk],
) -> None:
    # The demo seeds the morning's counters there: the wallboard is not
    # listening yet, and its first answer already holds them.
    rt, _ = runtime
    config = dataclasses.replace(
        rt.config,
        redis=dataclasses.replace(rt.config.redis, key_prefix=f"rt{uuid.uuid4().hex[:6]}:"),
        agi=dataclasses.replace(rt.config.agi, port=0),
    )
    seen: list[object] = []

    async def seed(started: Runtime) -> None:
        seen.append(started.web_site)  # no wallboard socket yet
        now = time.time()
        await started.service.store.add_counters("support", now, {"offered": 7}, now)

    other = await start_runtime(config, before_serving=seed)
    try:
        assert seen == [None]
        async with aiohttp.ClientSession() as http:
            async with http.get(other.wallboard_url + "api/snapshot") as resp:
                snapshot = await resp.json()
        [support] = snapshot["queues"]
        assert support["offered"] == 7
    finally:
        async with asyncio.timeout(30):
            await stop_runtime(other)
