"""Highly available Redis on Sentinel: a primary, a replica and a sentinel
started from the shipped redis-server binary; the primary is killed with
SIGKILL, the sentinel promotes the replica, and calls keep flowing."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from acd.core.models import AgentState
from acd.store.client import parse_sentinel_url
from acd.store.embedded import EmbeddedRedis, free_port, redis_server_binary
from tests.acd.center import Center, agent, build_center, eventually, queue

MASTER = "acdmaster"


class Sentinel:
    """One redis-server in sentinel mode watching ``primary_port``."""

    def __init__(self, workdir: Path, primary_port: int) -> None:
        self.port = free_port()
        self.conf = workdir / "sentinel.conf"
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 400\n"
            f"sentinel failover-timeout {MASTER} 2000\n"
            f"sentinel parallel-syncs {MASTER} 1\n",
            encoding="utf-8",
        )
        self.proc = subprocess.Popen(
            [redis_server_binary(), str(self.conf), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            for _ in range(500):
                try:
                    if client.ping():
                        break
                except redis.RedisError:
                    pass
                time.sleep(0.02)  # waiting for the process to start, not ordering events
        finally:
            client.close()

    def primary_port(self) -> int:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            address = client.sentinel_get_master_addr_by_name(MASTER, return_responses=True)
            assert isinstance(address, tuple), f"the sentinel does not know {MASTER}: {address!r}"
            return address[1]
        finally:
            client.close()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def sentinel_pair(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis, Sentinel]]:
    primary = EmbeddedRedis(tmp_path / "primary")
    primary.start()
    replica = EmbeddedRedis(tmp_path / "replica",
                            extra_args=("--replicaof", "127.0.0.1", str(primary.port)))
    replica.start()
    watcher = Sentinel(tmp_path, primary.port)
    try:
        yield primary, replica, watcher
    finally:
        watcher.stop()
        replica.cleanup()
        primary.cleanup()


def test_sentinel_urls_are_parsed_with_a_clear_error_when_wrong() -> None:
    spec = parse_sentinel_url("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/mymaster/2")
    assert spec.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379))
    assert (spec.master, spec.db, spec.password) == ("mymaster", 2, "pw")
    with pytest.raises(ValueError, match="master name"):
        parse_sentinel_url("redis+sentinel://10.0.0.1:26379")
    with pytest.raises(ValueError, match="host:port"):
        parse_sentinel_url("redis+sentinel://10.0.0.1:notaport/m")


async def test_primary_killed_the_promoted_replica_takes_over(
    sentinel_pair: tuple[EmbeddedRedis, EmbeddedRedis, Sentinel],
) -> None:
    primary, replica, watcher = sentinel_pair
    url = f"redis+sentinel://127.0.0.1:{watcher.port}/{MASTER}"
    c: Center = await build_center(url, f"s{uuid.uuid4().hex[:6]}:", [queue()],
                                   [agent("1001"), agent("1002")], talk_seconds=0.2)
    try:
        await c.start_acd()
        await c.login("1001", "1002")
        first = await c.fake.place_call(caller_id="before")
        await first.wait_done(10)
        assert first.outcome == "answered"
        await eventually(lambda: _handled(c, 1), 5, "first call counted")
        # make sure the replica has it all before the primary dies
        sync = redis.Redis(host="127.0.0.1", port=primary.port)
        sync.wait(1, 2000)
        sync.close()

        primary.kill()
        await eventually(lambda: _promoted(watcher, replica.port), 20, "failover")
        # state survived on the promoted replica: agents still logged in
        await eventually(lambda: _available(c, "1001", "1002"), 10, "agents usable")
        after = await c.fake.place_call(caller_id="after")
        await after.wait_done(15)
        assert after.outcome == "answered" and not after.fell_back
        await eventually(lambda: _handled(c, 2), 10, "second call counted")
        stats = await c.stats("support")
        assert stats["answered"] == 2
    finally:
        await c.close()


async def _promoted(watcher: Sentinel, port: int) -> bool:
    return await asyncio.to_thread(watcher.primary_port) == port


async def _available(c: Center, *agent_ids: str) -> bool:
    try:
        states = [await c.agent_state(a) for a in agent_ids]
        return all(s is AgentState.AVAILABLE for s in states)
    except redis.RedisError:
        return False


async def _handled(c: Center, n: int) -> bool:
    try:
        return (await c.stats("support")).get("handled", 0) == n
    except redis.RedisError:
        return False
