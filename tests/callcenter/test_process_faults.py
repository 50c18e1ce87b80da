"""Real processes die: `acd run` killed with SIGKILL, alone and beside a second
one. The fake Asterisk (in this process, over real sockets) and a private
redis-server are the world the ACD processes see."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from acd.core.agent_rules import Command
from acd.core.models import AgentState
from acd.core.settings import RedisConfig
from acd.store.client import connect
from acd.store.embedded import EmbeddedRedis, free_port
from acd.store.store import Store
from telephony.fake import FakeAsterisk
from tests.acd.center import eventually
from tests.redis_reads import stats_totals, stream_entries

SECRET = "fault-secret"
AGENTS = ("1001", "1002")


def write_config(path: Path, *, ami_port: int, agi_port: int, redis_url: str, prefix: str,
                 ring_timeout: int = 10) -> Path:
    lines = [
        "[ami]", 'host = "127.0.0.1"', f"port = {ami_port}", 'username = "acd"',
        f'secret = "{SECRET}"', "",
        "[agi]", 'host = "127.0.0.1"', f"port = {agi_port}", "",
        "[redis]", f'url = "{redis_url}"', f'key_prefix = "{prefix}"',
        "instance_lease_seconds = 1.0", "",
        "[[queues]]", 'name = "support"', "wrap_up_seconds = 0",
        f"ring_timeout_seconds = {ring_timeout}", "announce_period_seconds = 0",
        "short_abandon_seconds = 0", "",
    ]
    for aid in AGENTS:
        lines += ["[[agents]]", f'id = "{aid}"', f'name = "Agent {aid}"',
                  f'endpoint = "PJSIP/{aid}"', "queues = { support = 50 }", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class AcdProcess:
    """`acd run --config F --no-wallboard` as a child process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callcenter.cli", "run", "--config", str(self.config),
            "--no-wallboard",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read(ready))
        await asyncio.wait_for(ready.wait(), 30)

    async def _read(self, ready: asyncio.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if "FastAGI listening" in line:
                ready.set()
        ready.set()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return code


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[dict[str, object]]:
    redis_server = EmbeddedRedis()
    redis_server.start()
    fake = FakeAsterisk(ami_username="acd", ami_secret=SECRET, seed=3)
    fake.after_call_linger = 0.1
    await fake.start()
    for aid in AGENTS:
        fake.add_agent(aid, ring_delay=0.05, talk_seconds=60)
        await fake.register(aid)
    prefix = f"p{uuid.uuid4().hex[:8]}:"
    redis = connect(RedisConfig(url=redis_server.url))
    store = Store(redis, RedisConfig(key_prefix=prefix))
    procs: list[AcdProcess] = []
    try:
        yield {"redis": redis_server, "fake": fake, "store": store, "prefix": prefix,
               "procs": procs, "tmp": tmp_path}
    finally:
        for p in procs:
            await p.stop()
        await asyncio.wait_for(fake.close(), 20)
        await redis.aclose(close_connection_pool=True)
        redis_server.cleanup()


async def _start(world: dict[str, object], name: str, ring_timeout: int = 10) -> AcdProcess:
    fake = world["fake"]
    redis_server = world["redis"]
    assert isinstance(fake, FakeAsterisk) and isinstance(redis_server, EmbeddedRedis)
    port = free_port()
    cfg = write_config(Path(str(world["tmp"])) / f"{name}.toml", ami_port=fake.ami_port,
                       agi_port=port, redis_url=redis_server.url, prefix=str(world["prefix"]),
                       ring_timeout=ring_timeout)
    proc = AcdProcess(cfg)
    await proc.start()
    procs = world["procs"]
    assert isinstance(procs, list)
    procs.append(proc)
    fake.agi_port = port
    return proc


async def _stats(store: Store) -> dict[str, float]:
    return await stats_totals(store.redis, store.keys, "support")


async def _state_is(store: Store, agent_id: str, *states: AgentState) -> bool:
    view = await store.agent(agent_id)
    return view is not None and view.state in states


async def test_killed_acd_process_its_callers_fall_back_its_conversations_stay_final(
    world: dict[str, object],
) -> None:
    fake, store = world["fake"], world["store"]
    assert isinstance(fake, FakeAsterisk) and isinstance(store, Store)
    first = await _start(world, "first")
    for aid in AGENTS:
        await eventually(partial(_known, store, aid), 10, "agents created")
        await store.agent_command(aid, Command.LOGIN, time.time())
    talking = [await fake.place_call(caller_id=f"talk{i}") for i in range(2)]
    for aid in AGENTS:
        await eventually(partial(_state_is, store, aid, AgentState.ON_CALL), 10,
                         f"agent {aid} on call")
    waiting = await fake.place_call(caller_id="waiting", patience=30)
    await eventually(lambda: _waiting_count(store, 1), 10, "a caller on hold")

    first.kill()  # SIGKILL: no clean-up, sockets reset by the kernel
    assert await first.stop() == -signal.SIGKILL
    await eventually(lambda: _fell_back(waiting), 10, "the waiting caller in the fallback queue")

    await _start(world, "second")
    # the dead process's waiting caller is recorded lost once its lease is gone
    await eventually(lambda: _stat_is(store, "lost", 1), 15, "lost caller recorded")
    for aid in AGENTS:  # conversations go on without the ACD; then they end
        await fake.agent_hangup(aid)
    await asyncio.gather(*(call.wait_done(10) for call in talking))
    assert [c.fell_back for c in talking] == [False, False]  # answered calls are final
    for aid in AGENTS:
        await eventually(partial(_state_is, store, aid, AgentState.AVAILABLE), 15,
                         f"agent {aid} freed")
    await eventually(lambda: _stat_is(store, "handled", 2), 10, "both conversations counted")
    stats = await _stats(store)
    assert stats["offered"] == 3 and stats["answered"] == 2
    # nobody was double-booked, and the ACD that took over answers new callers
    await waiting.hangup()
    await waiting.wait_done(15)
    assert sum(a.double_dials for a in fake.agents.values()) == 0
    for a in fake.agents.values():
        a.talk_seconds = 0.2
    after = await fake.place_call(caller_id="after")
    await after.wait_done(15)
    assert after.outcome == "answered" and not after.fell_back


async def test_one_of_two_acd_processes_killed_mid_ring_frees_its_agent(
    world: dict[str, object],
) -> None:
    fake, store = world["fake"], world["store"]
    assert isinstance(fake, FakeAsterisk) and isinstance(store, Store)
    fake.agents["1001"].ring_delay = 60  # rings until the ring timeout
    fake.agents["1002"].talk_seconds = 0.2  # may take the caller in the fallback queue
    doomed = await _start(world, "doomed", ring_timeout=2)
    for aid in AGENTS:
        await eventually(partial(_known, store, aid), 10, "agents created")
    await store.agent_command("1001", Command.LOGIN, time.time())
    ringing = await fake.place_call(caller_id="rings", patience=5)
    await eventually(lambda: _state_is(store, "1001", AgentState.RINGING), 10, "ringing")
    survivor = await _start(world, "survivor", ring_timeout=2)
    doomed.kill()
    await doomed.stop()
    await ringing.wait_done(15)
    assert ringing.fell_back  # no answer, socket gone: the dialplan's fallback queue
    await eventually(lambda: _state_is(store, "1001", AgentState.AVAILABLE), 15,
                     "agent freed by the survivor")
    reaped = [f for f in await stream_entries(store.redis, store.keys.events)
              if f.get("type") == "instance_reaped"]
    assert len(reaped) == 1
    fake.agents["1001"].ring_delay = 0.05
    fake.agents["1001"].talk_seconds = 0.2
    after = await fake.place_call(caller_id="after")
    await after.wait_done(15)
    assert after.dial_attempts == [("1001", "ANSWER")]
    assert (await _stats(store))["lost"] == 1
    assert sum(a.double_dials for a in fake.agents.values()) == 0
    assert await survivor.stop() == 0  # SIGTERM: a clean, bounded exit


async def _known(store: Store, agent_id: str) -> bool:
    return await store.agent(agent_id) is not None


async def _waiting_count(store: Store, n: int) -> bool:
    return await store.waiting_count("support") == n


async def _fell_back(call: object) -> bool:
    return bool(getattr(call, "fell_back", False))


async def _stat_is(store: Store, field: str, n: float) -> bool:
    return (await _stats(store)).get(field, 0) == n


async def test_killed_between_dial_and_answer_the_conversation_is_counted_answered(
    world: dict[str, object],
) -> None:
    fake, store = world["fake"], world["store"]
    assert isinstance(fake, FakeAsterisk) and isinstance(store, Store)
    fake.agents["1001"].ring_delay = 1.0  # answered after the ACD is gone
    first = await _start(world, "first")
    for aid in AGENTS:
        await eventually(partial(_known, store, aid), 10, "agents created")
    await store.agent_command("1001", Command.LOGIN, time.time())
    talking = await fake.place_call(caller_id="late-answer")
    await eventually(lambda: _rang(fake, "1001"), 10, "the phone ringing")
    first.kill()
    await first.stop()
    await eventually(lambda: _bridged(talking), 10, "answered with no ACD running")
    await _start(world, "second")
    # Asterisk shows the caller bridged: the dead process's call is answered, not lost
    await eventually(lambda: _state_is(store, "1001", AgentState.ON_CALL), 15,
                     "recorded as a conversation")
    await fake.agent_hangup("1001")
    await talking.wait_done(10)
    assert not talking.fell_back
    await eventually(lambda: _stat_is(store, "handled", 1), 15, "the conversation counted")
    stats = await _stats(store)
    assert stats["answered"] == 1 and stats.get("lost", 0) == 0
    await eventually(lambda: _state_is(store, "1001", AgentState.AVAILABLE), 15, "agent free")


async def _rang(fake: FakeAsterisk, endpoint: str) -> bool:
    return fake.agents[endpoint].rings >= 1


async def _bridged(call: object) -> bool:
    return bool(getattr(call, "bridged", False))
