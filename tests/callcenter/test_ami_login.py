"""A refused first AMI login is retried like any other: fixing manager.conf
(and reloading Asterisk) must not need an ACD restart."""

from __future__ import annotations

import asyncio
import uuid

from acd.core.settings import AgentConfig, AgiConfig, AmiConfig, Config, QueueConfig, RedisConfig
from acd.store.embedded import EmbeddedRedis
from callcenter.runtime import Runtime, start_runtime, stop_runtime
from telephony.fake import FakeAsterisk
from tests.acd.center import eventually


async def test_refused_first_login_is_retried_until_accepted() -> None:
    redis_server = EmbeddedRedis()
    redis_server.start()
    fake = FakeAsterisk(ami_username="acd", ami_secret="the-right-one")
    await fake.start()
    fake.add_agent("1001")
    await fake.register("1001")
    config = Config(
        source="test",
        ami=AmiConfig(port=fake.ami_port, username="acd", secret="a-typo"),
        agi=AgiConfig(port=0),
        redis=RedisConfig(url=redis_server.url, key_prefix=f"al{uuid.uuid4().hex[:6]}:"),
        queues=(QueueConfig(name="support"),),
        agents=(AgentConfig(id="1001", name="Ann", endpoint="PJSIP/1001",
                            queues={"support": 50}),),
    )
    rt: Runtime = await start_runtime(config, serve_wallboard=False, ami_retry_max=0.3)
    try:
        await eventually(lambda: _refused(fake, 2), 10, "refused logins, retried")
        await eventually(lambda: _says_refused(rt), 5, "/healthz saying why")
        fake.ami.secret = "a-typo"  # the operator fixes manager.conf and reloads
        await eventually(lambda: _up(rt), 15, "AMI logged in after the fix")
        await eventually(lambda: _reachable(rt, "1001"), 10, "presence read")
    finally:
        async with asyncio.timeout(30):
            await stop_runtime(rt)
        await fake.close()
        redis_server.cleanup()


async def _refused(fake: FakeAsterisk, n: int) -> bool:
    return fake.ami.failed_logins >= n


async def _says_refused(rt: Runtime) -> bool:
    return "Authentication failed" in rt.service.health()["ami"]


async def _up(rt: Runtime) -> bool:
    return rt.service.health()["ami"] == "up"


async def _reachable(rt: Runtime, agent_id: str) -> bool:
    view = await rt.service.store.agent(agent_id)
    return view is not None and view.reachable
