"""Connecting to Redis: one place that turns ``[redis]`` into a client.

- ``redis://``, ``rediss://``, ``unix://``: one server (a blocking pool, so a
  burst of callers waits a moment for a connection instead of failing).
- ``redis+sentinel://host:port[,host:port...]/MASTER[/DB]`` (``rediss+sentinel``
  for TLS): Redis Sentinel. The client asks the sentinels for the current
  primary and follows a failover to the promoted replica; a password in the
  URL (``redis+sentinel://:secret@h1:26379,h2:26379/mymaster``) is used for
  the data nodes.

Every client gets explicit limits: socket and connect timeouts, periodic
health checks of idle connections, TCP keepalive, and a short retry with
backoff on connection errors, so a black-holed primary makes a command fail
within about ``socket_timeout`` instead of freezing a call session.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.core.settings import RedisConfig

MAX_CONNECTIONS = 64

# The sentinel connections behind a Sentinel-managed client, closed with it.
_SENTINELS: weakref.WeakKeyDictionary[aioredis.Redis, Sentinel] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None
    username: str | None
    ssl: bool


def parse_sentinel_url(url: str) -> SentinelUrl:
    """``redis+sentinel://[user:pass@]h1:p1,h2:p2/master[/db]`` -> its parts.

    Raises ValueError with a message naming what is wrong.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis+sentinel", "rediss+sentinel"):
        raise ValueError(f"not a sentinel URL: {parts.scheme}://")
    netloc = parts.netloc
    creds, _, hosts = netloc.rpartition("@")
    username = password = None
    if creds:
        user, _, pw = creds.partition(":")
        username = unquote(user) or None
        password = unquote(pw) or None
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host:
            host, port = port, "26379"
        try:
            sentinels.append((host.strip("[]"), int(port or 26379)))
        except ValueError:
            raise ValueError(f"bad sentinel address {item!r} (expected host:port)") from None
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("no master name (expected redis+sentinel://host:port/MASTER[/DB])")
    try:
        db = int(path[1]) if len(path) > 1 else 0
    except ValueError:
        raise ValueError(f"bad database number {path[1]!r}") from None
    return SentinelUrl(tuple(sentinels), unquote(path[0]), db, password, username,
                       parts.scheme.startswith("rediss"))


def _limits(config: RedisConfig) -> dict[str, Any]:
    return {
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.connect_timeout,
        "socket_keepalive": True,
        "health_check_interval": config.health_check_interval,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "decode_responses": True,
    }


def connect(config: RedisConfig, url: str | None = None) -> aioredis.Redis:
    """A client for ``url`` (default: ``config.url``) with ``config``'s limits.

    Nothing is sent yet; the first command connects.
    """
    target = url if url is not None else config.url
    limits = _limits(config)
    if "+sentinel://" in target:
        spec = parse_sentinel_url(target)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(spec.sentinels),
            sentinel_kwargs={
                "socket_timeout": config.socket_timeout,
                "socket_connect_timeout": config.connect_timeout,
            },
            password=spec.password,
            username=spec.username,
            db=spec.db,
            ssl=spec.ssl,
            **limits,
        )
        client: aioredis.Redis = sentinel.master_for(
            spec.master, redis_class=aioredis.Redis, max_connections=MAX_CONNECTIONS
        )
        _SENTINELS[client] = sentinel
        return client
    pool = aioredis.BlockingConnectionPool.from_url(
        target,
        max_connections=MAX_CONNECTIONS,
        timeout=max(1.0, config.socket_timeout * 2),
        **limits,
    )
    return aioredis.Redis(connection_pool=pool)


async def close(client: aioredis.Redis) -> None:
    """Close a client from :func:`connect`: its pool, and its sentinels' connections."""
    await client.aclose(close_connection_pool=True)
    sentinel = _SENTINELS.pop(client, None)
    if sentinel is not None:
        for node in sentinel.sentinels:
            await node.aclose(close_connection_pool=True)
