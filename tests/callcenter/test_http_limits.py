"""The wallboard's HTTP limits protect FastAGI in a real ``acd run`` process.

The process runs with a 1,024 descriptor limit (soft and hard, as on many
hosts); 1,500 sockets are opened to the wallboard and left idle; a FastAGI
call must still be accepted and answered, and the log must say what
happened (limit, lowered cap, refusals, descriptors near the limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from acd.store.embedded import EmbeddedRedis, free_port
from telephony.agi_codec import encode_header

ROOT = Path(__file__).resolve().parents[2]
IDLE_SOCKETS = 1500
CHILD_FD_LIMIT = 1024

CHILD = r"""
import asyncio, json, logging, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[3]), int(sys.argv[3])))
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(levelname)s %(name)s %(message)s")
import callcenter.runtime as runtime
runtime.FD_CHECK_SECONDS = 0.2
from acd.core.settings import (AgentConfig, AgiConfig, AmiConfig, Config, QueueConfig,
                              RedisConfig, WallboardConfig)

async def main():
    config = Config(
        source="http limits test",
        ami=AmiConfig(port=int(sys.argv[2]), username="acd", secret="s"),
        agi=AgiConfig(port=0),
        redis=RedisConfig(url=sys.argv[1], key_prefix="limits:"),
        wallboard=WallboardConfig(port=0, header_timeout=60, idle_timeout=60),
        queues=(QueueConfig(name="support"),),
        agents=(AgentConfig(id="1001", name="Ann", endpoint="PJSIP/1001",
                            queues={"support": 50}),),
    )
    rt = await runtime.start_runtime(config, ami_retry_max=5)
    print(json.dumps({"agi": rt.agi.port, "web": rt.web_site.port,
                      "cap": rt.web_site.limits.max_connections}), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_SOCKETS + 500
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"this test opens {IDLE_SOCKETS} sockets; the hard limit is {hard}")
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Child:
    """``acd run``'s runtime in its own process, its log collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.log.append(line.decode(errors="replace").rstrip())
            self._changed.set()

    async def wait_for_log(self, text: str, seconds: float = 30) -> str:
        async with asyncio.timeout(seconds):
            while True:
                found = next((line for line in self.log if text in line), None)
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        async with asyncio.timeout(15):
            await self.proc.wait()
        await self._reader


@pytest.fixture
async def child(redis_server: EmbeddedRedis) -> AsyncIterator[tuple[Child, dict[str, int]]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, redis_server.url, str(free_port()), str(CHILD_FD_LIMIT),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    running = Child(proc)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            ports = json.loads(await proc.stdout.readline())
        yield running, ports
    finally:
        await running.stop()


async def test_idle_sockets_on_the_wallboard_do_not_stop_a_fastagi_call(
    enough_descriptors: None, child: tuple[Child, dict[str, int]]
) -> None:
    proc, ports = child
    # The cap was lowered to leave FastAGI and Redis their descriptors.
    assert ports["cap"] < CHILD_FD_LIMIT
    assert "descriptor limit 1024" in await proc.wait_for_log("descriptor limit")
    await proc.wait_for_log("max_connections 2000 lowered to")

    sockets = []
    try:
        for _ in range(IDLE_SOCKETS):
            sockets.append(await asyncio.open_connection("127.0.0.1", ports["web"]))
        await proc.wait_for_log("refusing new ones with 503")
        await proc.wait_for_log("file descriptors open")

        # A call arrives: the FastAGI server accepts it and runs the flow.
        reader, writer = await asyncio.open_connection("127.0.0.1", ports["agi"])
        writer.write(encode_header({
            "network": "yes", "network_script": "inbound?queue=support",
            "request": f"agi://127.0.0.1:{ports['agi']}/inbound?queue=support",
            "channel": "PJSIP/trunk-00000001", "uniqueid": "1700000000.1",
            "callerid": "48111222333", "calleridname": "Caller",
        }))
        await writer.drain()
        async with asyncio.timeout(10):
            command = (await reader.readline()).decode().strip()
        writer.close()
        assert command, "\n".join(proc.log[-15:])
        assert command.split()[0] in {"ANSWER", "GET", "SET", "EXEC", "STREAM", "VERBOSE"}, command
    finally:
        for _, w in sockets:
            w.close()
    assert not any("Traceback" in line for line in proc.log), "\n".join(proc.log[-30:])
