"""`acd run --config FILE`: the ACD and the wallboard against a real Asterisk."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from redis.exceptions import RedisError

from acd.config.loader import load_or_report
from acd.core.settings import Config
from callcenter.runtime import start_runtime, stop_runtime

log = logging.getLogger(__name__)


def _redacted(url: str) -> str:
    """A Redis URL fit for a log: the password replaced by ***."""
    return re.sub(r"(://[^:@/]*:)[^@/]*@", r"\1***@", url)


async def wait_for_stop_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _serve(config: Config, serve_wallboard: bool) -> int:
    try:
        rt = await start_runtime(config, serve_wallboard=serve_wallboard)
    except (OSError, RedisError) as exc:
        where = (f" (redis url {_redacted(config.redis.url)})"
                 if isinstance(exc, RedisError) else "")
        print(f"acd: cannot start: {exc}{where}", file=sys.stderr)
        return 1
    try:
        print(f"FastAGI listening on {config.agi.host}:{rt.agi.port}", flush=True)
        if rt.wallboard_url:
            print(f"Wallboard: {rt.wallboard_url}", flush=True)
        await wait_for_stop_signal()
        print("stopping...", flush=True)
    finally:
        await stop_runtime(rt)
    return 0


async def _finish(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main``, then make sure the process can exit.

    Everything is stopped in order by then; a task that swallowed its
    cancellation (some libraries do) must not keep the process alive after
    Ctrl-C or SIGTERM, so leftovers get a bounded wait and then the process
    exits anyway, with ``main``'s exit code.
    """
    code = await main
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        _, pending = await asyncio.wait(leftovers, timeout=5.0)
        if pending:
            log.error("%d task(s) would not stop: %s; exiting anyway", len(pending),
                      ", ".join(sorted(t.get_name() for t in pending)))
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop (libuv: faster sockets for thousands of FastAGI sessions)
    when it is installed, else on the standard event loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(_finish(main))
    return uvloop.run(_finish(main))


def run_service(config_path: str, *, serve_wallboard: bool = True) -> int:
    config = load_or_report(config_path)
    if config is None:
        return 2
    return run_async(_serve(config, serve_wallboard))
