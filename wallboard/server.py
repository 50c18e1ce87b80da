"""The wallboard's listening socket, with the limits a floor's network needs.

aiohttp closes an idle keep-alive connection after ``keepalive_timeout`` (the
app sets it from ``[wallboard] idle_timeout``), but it has no separate limit
for a request's headers and no cap on connections: idle or half-sent
requests could pile up until the process runs out of descriptors, and then
the FastAGI server in the same process cannot accept a call. The
:class:`LimitedSite` puts a thin protocol in front of aiohttp's for each
connection that

- refuses a connection beyond ``max_connections`` at once (503, JSON), so the
  descriptors that remain stay free for FastAGI and Redis;
- closes a new connection whose request headers are not complete within
  ``header_timeout`` (408, JSON). Later requests on a kept-alive connection
  are bounded by aiohttp's idle timeout, which also ends a half-sent one.

Everything else passes through untouched (websocket upgrades included).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

log = logging.getLogger(__name__)

_END_OF_HEAD = b"\r\n\r\n"
# A refusal or timeout notice is logged at most this often (a flood would
# otherwise become a flood of log lines).
_LOG_EVERY = 30.0


def _response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


_BUSY = _response(503, "Service Unavailable", "too_many_connections",
                  "the wallboard has all the connections it may hold; try again")
_TOO_SLOW = _response(408, "Request Timeout", "header_timeout",
                      "the request headers did not arrive in time")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    header_timeout: float = 10.0
    max_connections: int = 2000


@dataclass(slots=True)
class ConnectionStats:
    """Counters a test or /healthz can read."""

    open: int = 0
    refused: int = 0
    header_timeouts: int = 0


_NOTHING = asyncio.Protocol()  # the inner protocol until a connection is admitted


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the header timer and the cap."""

    def __init__(self, guard: _Guard) -> None:
        self._inner: asyncio.Protocol = _NOTHING
        self._guard = guard
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, but has its API
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        if not self._guard.admit():
            transport.write(_BUSY)
            transport.close()
            return
        self._admitted = True
        self._inner = self._guard.make_handler()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.limits.header_timeout, self._too_slow)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self._timer is not None:
            seen = self._tail + data
            if _END_OF_HEAD in seen:
                self._timer.cancel()
                self._timer = None
                self._tail = b""
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._admitted:
            self._admitted = False
            self._guard.release()
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()

    def _too_slow(self) -> None:
        self._timer = None
        self._guard.timed_out()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_TOO_SLOW)
            self._transport.close()


class _Guard:
    """The protocol factory handed to the event loop: one :class:`_Guarded`
    around each of aiohttp's handlers, and the shared connection count."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limits: HttpLimits,
        stats: ConnectionStats,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self.limits = limits
        self.stats = stats
        self._clock = clock
        self._logged_refusal = -_LOG_EVERY
        self._logged_timeout = -_LOG_EVERY

    def __call__(self) -> _Guarded:
        return _Guarded(self)

    def make_handler(self) -> asyncio.Protocol:
        return self._factory()

    def admit(self) -> bool:
        if self.stats.open >= self.limits.max_connections:
            self.stats.refused += 1
            now = self._clock()
            if now - self._logged_refusal >= _LOG_EVERY:
                self._logged_refusal = now
                log.warning(
                    "wallboard: %d connections open, the limit (max_connections); refusing "
                    "new ones with 503 (%d refused so far)",
                    self.stats.open, self.stats.refused,
                )
            return False
        self.stats.open += 1
        return True

    def release(self) -> None:
        self.stats.open -= 1

    def timed_out(self) -> None:
        self.stats.header_timeouts += 1
        now = self._clock()
        if now - self._logged_timeout >= _LOG_EVERY:
            self._logged_timeout = now
            log.info(
                "wallboard: closed a connection whose request headers took over %g s "
                "(%d so far)", self.limits.header_timeout, self.stats.header_timeouts,
            )


class LimitedSite(web.TCPSite):
    """A :class:`aiohttp.web.TCPSite` whose connections go through the limits.

    ``TCPSite.start`` hands ``runner.server`` straight to ``create_server``;
    this start does the same with the guard in front of it."""

    def __init__(
        self, runner: web.BaseRunner, host: str | None, port: int | None,
        *, limits: HttpLimits, **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self.limits = limits
        self.stats = ConnectionStats()

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            _Guard(server, self.limits, self.stats),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
