"""Start and stop everything one ACD process runs.

Redis (embedded when no URL is configured), the ACD service, the FastAGI
server, the AMI client (retrying in the background while Asterisk is
unreachable) and the wallboard web server. Used by ``acd run`` and
``acd demo``.

Descriptors: at start the process raises its soft ``RLIMIT_NOFILE`` to the
hard limit, caps the wallboard's connections below what that leaves for
FastAGI and Redis, and logs a warning when the open descriptors near the
limit (checked every few seconds), so a flood of HTTP connections shows in
the log before a call can fall back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import resource
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from acd.core.settings import Config
from acd.presence import AMI_EVENT_FILTERS
from acd.service import AcdService
from acd.store.client import close as close_redis
from acd.store.client import connect as connect_redis
from acd.store.embedded import EmbeddedRedis, default_data_dir
from telephony.agi_server import AgiServer
from telephony.ami_client import AmiClient
from telephony.errors import AmiLoginFailed, AmiNotConnected, AmiTimeout
from wallboard.server import HttpLimits, LimitedSite

log = logging.getLogger(__name__)

# The soft descriptor limit is raised to at most this (the hard limit may be
# "unlimited").
MAX_NOFILE = 1 << 20
# Descriptors kept out of the wallboard's reach: FastAGI calls, Redis, AMI,
# files. A quarter of the limit, at least this many.
MIN_RESERVED_FDS = 128
# Warn when this share of the limit is open; checked every FD_CHECK_SECONDS.
FD_WARN_SHARE = 0.7
FD_CHECK_SECONDS = 5.0


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit in force
    after (logged)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_NOFILE if hard == resource.RLIM_INFINITY else min(hard, MAX_NOFILE)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the descriptor limit from %d (%s)", soft, exc)
    log.info("descriptor limit %d (hard %s)", soft,
             "unlimited" if hard == resource.RLIM_INFINITY else hard)
    return soft


def wallboard_connection_cap(configured: int, fd_limit: int) -> int:
    """``[wallboard] max_connections``, lowered when the descriptor limit
    would not leave room for FastAGI and Redis beside it."""
    room = max(16, fd_limit - max(MIN_RESERVED_FDS, fd_limit // 4))
    if configured > room:
        log.warning(
            "wallboard: max_connections %d lowered to %d: the descriptor limit is %d and "
            "FastAGI and Redis need the rest (raise the hard limit, e.g. LimitNOFILE)",
            configured, room, fd_limit,
        )
        return room
    return configured


def open_descriptors() -> int | None:
    """Descriptors this process has open (None where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


async def _watch_descriptors(limit: int) -> None:
    """Warn once each time the open descriptors cross FD_WARN_SHARE of the limit
    (and say when they are back under it). With the wallboard at its cap the
    warning fires: the log tells of a flood before anything fails."""
    warned = False
    while True:
        count = open_descriptors()
        if count is None:
            return
        high = count >= FD_WARN_SHARE * limit
        if high and not warned:
            log.warning(
                "%d of %d file descriptors open (%.0f %%): new FastAGI calls and Redis "
                "connections will fail at the limit", count, limit, 100 * count / limit,
            )
        elif warned and not high:
            log.info("file descriptors back to %d of %d", count, limit)
        warned = high
        await asyncio.sleep(FD_CHECK_SECONDS)


@dataclass(slots=True)
class Runtime:
    config: Config
    redis: aioredis.Redis
    service: AcdService
    agi: AgiServer
    embedded: EmbeddedRedis | None = None
    ami: AmiClient | None = None
    web_runner: web.AppRunner | None = None
    web_site: LimitedSite | None = None
    wallboard_url: str = ""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def start_runtime(
    config: Config,
    *,
    serve_wallboard: bool = True,
    embedded_dir: Path | None = None,
    ami_retry_max: float = 10.0,
    before_serving: Callable[[Runtime], Awaitable[None]] | None = None,
) -> Runtime:
    """Redis (embedded when no URL is set), the ACD service, FastAGI, then the
    wallboard. ``before_serving`` runs once the service is up and before the
    wallboard takes its first request (the demo seeds its history there)."""
    fd_limit = raise_descriptor_limit()
    embedded: EmbeddedRedis | None = None
    url = config.redis.url
    if not url:
        embedded = EmbeddedRedis(embedded_dir or default_data_dir())
        await asyncio.to_thread(embedded.start)
        url = embedded.url
        log.info("embedded Redis on %s (data in %s)", url, embedded.data_dir)
    redis = connect_redis(config.redis, url)
    try:
        await redis.ping()
    except Exception:
        await close_redis(redis)
        if embedded is not None:
            embedded.stop()
        raise
    service = AcdService(config, redis)
    agi = AgiServer(
        service.routes(),
        host=config.agi.host,
        port=config.agi.port,
        allowed_peers=config.agi.allowed_peers,
        # [agi] idle_timeout bounds a connection that never finishes its header;
        # a caller on hold is silent for as long as the wait lasts: no idle limit.
        header_timeout=config.agi.idle_timeout,
        idle_timeout=None,
    )
    rt = Runtime(config=config, redis=redis, service=service, agi=agi, embedded=embedded)
    try:
        await service.start()
        await agi.start()
        service.agi_listening = True
        if before_serving is not None:
            await before_serving(rt)
        if serve_wallboard:
            from wallboard.app import create_app

            app = create_app(config, redis, agent_commands=service.commands,
                             health=service.health)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            rt.web_runner = runner
            wb = config.wallboard
            limits = HttpLimits(
                header_timeout=wb.header_timeout,
                max_connections=wallboard_connection_cap(wb.max_connections, fd_limit),
            )
            site = LimitedSite(runner, wb.host, wb.port, limits=limits)
            await site.start()
            rt.web_site = site
            host = config.wallboard.host
            shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
            port = config.wallboard.port
            if port == 0 and runner.addresses:  # a free port was asked for
                port = int(runner.addresses[0][1])
            rt.wallboard_url = f"http://{shown}:{port}/"
        rt.tasks.append(asyncio.create_task(_keep_ami(rt, ami_retry_max), name="ami-connect"))
        rt.tasks.append(
            asyncio.create_task(_watch_descriptors(fd_limit), name="descriptor-watch")
        )
    except BaseException:
        # A half-started process must not leave Redis, sockets or tasks behind.
        await stop_runtime(rt)
        raise
    return rt


async def _keep_ami(rt: Runtime, retry_max: float = 10.0) -> None:
    """Connect to AMI; while Asterisk is unreachable or refuses the login, keep
    trying (calls still flow; /healthz says what is wrong). Once connected,
    the client reconnects by itself."""
    cfg = rt.config.ami
    delay = min(1.0, retry_max)
    refused = False
    while True:
        client = AmiClient(
            cfg.host,
            cfg.port,
            cfg.username,
            cfg.secret,
            ping_interval=cfg.ping_interval,
            connect_timeout=cfg.connect_timeout,
            event_filters=AMI_EVENT_FILTERS,
        )
        rt.service.attach_ami(client)
        try:
            await client.start()
        except AmiLoginFailed as exc:
            # A manager.conf fix and reload must not need an ACD restart.
            rt.service.degraded.failed("ami", "logging in", exc)
            if not refused:  # once; the retries are counted, not logged
                log.error("AMI login to %s:%d refused (%s): check [ami] username/secret; "
                          "retrying every %.0f s at most", cfg.host, cfg.port, exc, retry_max)
                refused = True
            with contextlib.suppress(Exception):
                await client.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max)
            continue
        except (AmiNotConnected, AmiTimeout, OSError) as exc:
            rt.service.degraded.failed("ami", "connecting", exc)
            with contextlib.suppress(Exception):
                await client.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max)
            continue
        rt.ami = client
        rt.service.degraded.recovered("ami")
        log.info("AMI connected to %s:%d", cfg.host, cfg.port)
        rt.service.request_resync()
        return


async def stop_runtime(rt: Runtime) -> None:
    """Stop in dependency order; every step runs even if one fails."""
    for task in rt.tasks:
        task.cancel()
    for task in rt.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if rt.web_runner is not None:
        with contextlib.suppress(Exception):
            await rt.web_runner.cleanup()
    rt.service.agi_listening = False
    with contextlib.suppress(Exception):
        await rt.agi.close()
    if rt.ami is not None:
        with contextlib.suppress(Exception):
            await rt.ami.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(rt.service.close(), 10)
    with contextlib.suppress(Exception):
        await close_redis(rt.redis)
    if rt.embedded is not None:
        await asyncio.to_thread(rt.embedded.stop)


def with_ports(config: Config, *, ami_port: int | None = None, agi_port: int | None = None,
               host: str | None = None, port: int | None = None) -> Config:
    """A copy of ``config`` with runtime ports filled in (the demo picks free ones)."""
    ami = config.ami if ami_port is None else dataclasses.replace(config.ami, port=ami_port)
    agi = config.agi if agi_port is None else dataclasses.replace(config.agi, port=agi_port)
    wb = config.wallboard
    if host is not None:
        wb = dataclasses.replace(wb, host=host)
    if port is not None:
        wb = dataclasses.replace(wb, port=port)
    return dataclasses.replace(config, ami=ami, agi=agi, wallboard=wb)
