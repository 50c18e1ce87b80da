"""FastAGI server: a thin asyncio adapter around :mod:`telephony.agi_protocol`.

Asterisk opens one TCP connection per ``AGI(agi://host:port/script?query)``.
Each connection is an :class:`asyncio.Protocol` (the event loop hands it bytes
as they arrive, so the socket is read continuously and a ``HANGUP`` notice is
seen even while no command is in flight, e.g. while the caller hears hold
music). The bytes go to an :class:`~telephony.agi_protocol.AgiProtocol`, which
owns the session rules (header, which reply answers which command, ``HANGUP``
notices, 511, interim 100, malformed lines); this module turns its events into
futures, timers and socket closes. Once the header is complete the connection
is routed by script path to a handler coroutine, which drives the call through
:class:`AgiSession`.

Rules the server enforces, because Asterisk relies on them:

* the socket is closed as soon as the handler returns or raises, and at the
  latest ``hangup_grace`` seconds after the caller hung up, even if the handler
  is still busy with its own bookkeeping (Asterisk waits for the close with no
  timeout, holding the channel);
* a peer outside ``allowed_peers`` is dropped before anything is read;
* a bad peer (a line over 8192 bytes, garbage, a header that does not end
  within ``header_timeout``, a reply nobody asked for) is dropped with one log
  line giving the reason; every other session keeps running;
* nothing waits forever on the peer: every command has a timeout
  (``command_timeout`` unless the caller gives its own) and sockets use TCP
  keepalive, so a partitioned or hung Asterisk is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Self, TypeVar, cast

from telephony.agi_codec import AgiReply, AgiRequest
from telephony.agi_protocol import (
    AgiCommand,
    AgiProtocol,
    AgiState,
    ConnectionClosed,
    HungUp,
    ProtocolViolation,
    ReplyReceived,
    RequestReceived,
    check_reply,
)
from telephony.errors import AgiCommandError, CallerHangup
from telephony.sockets import set_keepalive

__all__ = ["AgiServer", "AgiSession", "Handler"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AgiSession:
    """One FastAGI call, as seen by a handler.

    Commands are sent one at a time (a lock serialises concurrent callers) and
    each waits for its reply. The caller hanging up surfaces as
    :class:`~telephony.errors.CallerHangup` (``HANGUP`` notice, ``511`` dead
    channel, or the connection closing); :class:`AgiDeadChannel` is a subclass
    of it. Created by :class:`AgiServer`; handlers never build one.
    """

    def __init__(
        self,
        request: AgiRequest,
        peer: str,
        transport: asyncio.Transport,
        *,
        hangup_grace: float,
        command_timeout: float | None = None,
        protocol: AgiProtocol,
    ) -> None:
        self.request = request
        self.command_timeout = command_timeout
        self.peer = peer
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        # The future of each command the protocol has in flight. One whose caller
        # gave up (timeout, cancellation) is abandoned in the protocol, which
        # matches its late reply to it and drops it.
        self._waiters: dict[AgiCommand, asyncio.Future[AgiReply]] = {}
        self._gone = asyncio.Event()
        self._closed = False
        self._hangup_grace = hangup_grace
        self._grace_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<AgiSession {self.request.script!r} {self.request.channel} peer={self.peer}>"

    # ---- state ---------------------------------------------------------------------

    @property
    def hung_up(self) -> bool:
        """True once the caller hung up (or the connection to Asterisk is gone)."""
        return self._protocol.hung_up or self._closed

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        return self._closed

    # ---- commands ------------------------------------------------------------------

    async def command(
        self,
        *words: str,
        timeout: float | None = None,  # noqa: ASYNC109 (per-command limit, asyncio.timeout inside)
        dead_ok: bool = False,
        keep_waiting: Callable[[], Awaitable[bool]] | None = None,
    ) -> AgiReply:
        """Send one command and return its ``200`` reply.

        ``words`` are the command's words, verb included
        (``command("GET", "VARIABLE", "DIALSTATUS")``); quoting is done here.
        Raises :class:`CallerHangup` if the caller has hung up (unless
        ``dead_ok``: Asterisk still runs ``GET``/``SET VARIABLE``, ``VERBOSE``,
        ``EXEC`` on a dead channel) or the connection closes while waiting;
        :class:`AgiDeadChannel` on ``511``, :class:`AgiInvalidCommand` on
        ``510``, :class:`AgiUsageError` on ``520``, :class:`AgiCommandError`
        on any other non-200 status; :class:`TimeoutError` if no reply comes
        within ``timeout`` seconds (the session stays usable: the late reply is
        recognised and dropped). ``timeout`` defaults to the server's
        ``command_timeout``. With ``keep_waiting``, a timeout first asks it
        whether the reply is still expected (e.g. a Dial whose agent answered
        lasts the whole conversation): True waits another ``timeout``.
        """
        if timeout is None:
            timeout = self.command_timeout
        async with self._lock:
            if self._transport.is_closing():
                self._protocol.close()
            # Raises CallerHangup (closed; hung up unless dead_ok), AgiProtocolError (words).
            command = self._protocol.send_command(*words, dead_ok=dead_ok)
            name = command.text
            waiter: asyncio.Future[AgiReply] = self._loop.create_future()
            self._waiters[command] = waiter
            self._transport.write(self._protocol.data_to_send())
            try:
                while True:
                    if await self._settled_within(waiter, timeout):
                        reply = waiter.result()
                        break
                    if keep_waiting is not None and await keep_waiting():
                        continue
                    raise TimeoutError(f"no reply to {name!r} within {timeout} s")
            except BaseException:
                if not waiter.done():
                    waiter.cancel()
                    self._protocol.abandon(command)  # its late reply is matched and dropped
                raise
            finally:
                self._waiters.pop(command, None)
        return check_reply(reply, name)

    async def _settled_within(
        self, waiter: asyncio.Future[AgiReply], seconds: float | None
    ) -> bool:
        """Wait until ``waiter`` is done (True) or ``seconds`` pass (False; None: no limit).

        Like ``asyncio.wait({waiter}, timeout=...)``, which this replaced for
        being the largest single cost of a round trip: a timeout leaves the
        waiter pending (its late reply still matches it), and a cancel is
        never eaten (it propagates; the caller cancels the waiter).
        """
        if waiter.done():
            return True
        wake: asyncio.Future[None] = self._loop.create_future()

        def settle(_: object = None) -> None:
            if not wake.done():
                wake.set_result(None)

        waiter.add_done_callback(settle)
        timer = None if seconds is None else self._loop.call_later(seconds, settle)
        try:
            await wake
        finally:
            if timer is not None:
                timer.cancel()
            waiter.remove_done_callback(settle)
        return waiter.done()

    async def answer(self) -> None:
        """Answer the channel (``ANSWER``)."""
        reply = await self.command("ANSWER")
        if reply.result < 0:
            self._raise_failed(reply, "ANSWER")

    async def hangup(self) -> None:
        """Hang the channel up (``HANGUP``); a caller already gone is not an error."""
        if self.hung_up:
            return
        with contextlib.suppress(CallerHangup):
            await self.command("HANGUP")

    async def stream_file(self, name: str, escape_digits: str = "") -> str:
        """Play a sound file; return the escape digit pressed, or ``""``.

        A file Asterisk cannot play (``result=-1`` on a live channel) is logged
        and skipped rather than raised: a missing prompt must not drop a caller.
        """
        reply = await self.command("STREAM", "FILE", name, escape_digits)
        return self._digit(reply, f"STREAM FILE {name}")

    async def say_number(self, number: int, escape_digits: str = "") -> str:
        """Say a number; return the escape digit pressed, or ``""``."""
        reply = await self.command("SAY", "NUMBER", str(int(number)), escape_digits)
        return self._digit(reply, f"SAY NUMBER {number}")

    async def get_data(self, prompt: str, timeout_ms: int = 5000, max_digits: int = 1) -> str:
        """Play ``prompt`` and collect up to ``max_digits`` DTMF digits (``""`` on timeout)."""
        reply = await self.command(
            "GET", "DATA", prompt, str(int(timeout_ms)), str(int(max_digits))
        )
        if reply.result_text == "-1":
            if self.hung_up:
                raise CallerHangup(f"caller hung up during GET DATA {prompt}")
            logger.warning("GET DATA %s failed on %s: %s", prompt, self.request.channel, reply.text)
            return ""
        # result_text, not result: digits may start with 0 or contain '*'.
        return reply.result_text

    async def set_music(self, on: bool, music_class: str = "default") -> None:
        """Start (``SET MUSIC on <class>``) or stop (``SET MUSIC off``) music on hold."""
        if on:
            await self.command("SET", "MUSIC", "on", music_class)
        else:
            await self.command("SET", "MUSIC", "off")

    async def exec(
        self,
        app: str,
        *args: str,
        timeout: float | None = None,  # noqa: ASYNC109
        keep_waiting: Callable[[], Awaitable[bool]] | None = None,
    ) -> AgiReply:
        """Run a dialplan application: ``exec("Dial", "PJSIP/1001", "15", "t")``.

        Asterisk passes only the word after the application name to it, so the
        arguments are joined with ``,`` into that one word
        (``EXEC Dial PJSIP/1001,15,t``). ``result`` is the application's return
        value (``-2``: no such application; ``Dial`` returns ``-1`` when the
        called party hangs up: read ``DIALSTATUS`` with :meth:`get_variable`).
        """
        if args:
            return await self.command(
                "EXEC", app, ",".join(args), timeout=timeout, keep_waiting=keep_waiting
            )
        return await self.command("EXEC", app, timeout=timeout, keep_waiting=keep_waiting)

    async def get_variable(self, name: str) -> str | None:
        """Value of a channel variable or function, ``None`` when it is not set.

        Works after the caller hung up (Asterisk allows it on a dead channel),
        so the outcome of a ``Dial`` can still be read.
        """
        reply = await self.command("GET", "VARIABLE", name, dead_ok=True)
        if reply.result == 0:
            return None
        return reply.data if reply.data is not None else ""

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (``SET VARIABLE``)."""
        await self.command("SET", "VARIABLE", name, value, dead_ok=True)

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write ``message`` to Asterisk's verbose log."""
        await self.command("VERBOSE", message, str(int(level)), dead_ok=True)

    # ---- waiting while no command is in flight ------------------------------------

    async def wait_for_hangup(self) -> None:
        """Return when the caller hangs up (or the connection closes)."""
        await self._gone.wait()

    async def guard(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``, unless the caller hangs up first.

        On hang-up the awaitable is cancelled and :class:`CallerHangup` is
        raised; this is how a handler waits for something else (an agent to
        become free) while the caller is on hold with no command in flight.
        If both happen at once, the awaitable's result wins: it may be a
        reservation the handler must release, and the next command raises.
        """
        inner = asyncio.ensure_future(awaitable)
        if self.hung_up:
            inner.cancel()
            with contextlib.suppress(BaseException):
                await inner
            raise CallerHangup("caller hung up")
        gone = asyncio.ensure_future(self._gone.wait())
        try:
            await asyncio.wait((inner, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (inner, gone):
                if not task.done():
                    task.cancel()
            if not inner.done() or not gone.done():
                await asyncio.wait((inner, gone))
        if inner.done() and not inner.cancelled():
            return inner.result()
        raise CallerHangup("caller hung up while waiting")

    # ---- plumbing (called by the connection) ---------------------------------------

    def _digit(self, reply: AgiReply, what: str) -> str:
        if reply.result < 0:
            if self.hung_up:
                raise CallerHangup(f"caller hung up during {what}")
            logger.warning("%s failed on %s: %s", what, self.request.channel, reply.text)
            return ""
        if 0 < reply.result < 0x110000:
            return chr(reply.result)
        return ""

    def _raise_failed(self, reply: AgiReply, what: str) -> None:
        if self.hung_up:
            raise CallerHangup(f"caller hung up during {what}")
        raise AgiCommandError(reply.status, reply.text, what)

    def _on_reply(self, event: ReplyReceived) -> None:
        waiter = self._waiters.get(event.command)
        if waiter is not None and not waiter.done():
            waiter.set_result(event.reply)

    def _on_peer_closed(self, event: ConnectionClosed) -> None:
        why = "mid-reply" if event.truncated else "with a command in flight"
        for command in event.unanswered:
            waiter = self._waiters.get(command)
            if waiter is not None and not waiter.done():
                waiter.set_exception(CallerHangup(f"AGI connection closed {why}"))

    def _mark_hung_up(self) -> None:
        self._gone.set()
        if not self._closed and self._grace_timer is None:
            self._grace_timer = self._loop.call_later(self._hangup_grace, self._grace_expired)

    def _grace_expired(self) -> None:
        self._grace_timer = None
        if not self._closed and not self._transport.is_closing():
            logger.info(
                "closing AGI socket of %s: handler still busy %.1f s after hang-up",
                self.request.channel,
                self._hangup_grace,
            )
            self._close()

    def _on_connection_lost(self) -> None:
        self._protocol.receive_eof()
        self._protocol.events_received()  # nothing more is read: the waiters fail below
        self._closed = True
        self._gone.set()
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(CallerHangup("AGI connection closed"))

    def _close(self) -> None:
        self._protocol.close()
        if not self._transport.is_closing():
            self._transport.close()


Handler = Callable[[AgiSession], Awaitable[None]]


class _AgiConnection(asyncio.Protocol):
    """One accepted socket: bytes into its :class:`AgiProtocol`, events to its session."""

    def __init__(self, server: AgiServer) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._protocol = AgiProtocol()
        self._session: AgiSession | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0
        self._dropped = False
        self.lost: asyncio.Future[None] = self._loop.create_future()

    # -- asyncio callbacks --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        host = str(peername[0]) if isinstance(peername, tuple) else ""
        self._peer = _format_peer(peername)
        self._server._connections.add(self)
        if not self._server._peer_allowed(host):
            self.drop("peer not in allowed_peers")
            return
        set_keepalive(transport.get_extra_info("socket"))
        self._last_data = self._loop.time()
        self._timer = self._loop.call_later(self._server.header_timeout, self._header_timeout)

    def data_received(self, data: bytes) -> None:
        if self._dropped:
            return
        self._last_data = self._loop.time()
        self._protocol.receive_data(data)
        self._handle_events()

    def eof_received(self) -> bool:
        if not self._dropped:
            self._protocol.receive_eof()
            self._handle_events()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._server._connections.discard(self)
        if self._session is not None:
            self._session._on_connection_lost()
        if not self.lost.done():
            self.lost.set_result(None)

    # -- helpers --

    def _handle_events(self) -> None:
        for event in self._protocol.events_received():
            session = self._session
            if isinstance(event, RequestReceived):
                if not self._start_session(event.request):
                    return
            elif isinstance(event, ProtocolViolation):
                self.drop(event.reason)
                return
            elif isinstance(event, ConnectionClosed):
                if session is not None:
                    session._on_peer_closed(event)
                elif event.phase is AgiState.HEADER:
                    # A bare connect-and-close is a port probe (monitoring, `acd doctor`);
                    # a half-sent header is worth a warning.
                    received = self._protocol.bytes_received
                    logger.log(
                        logging.WARNING if received else logging.DEBUG,
                        "FastAGI peer %s closed after %d bytes, before the end of its header",
                        self._peer,
                        received,
                    )
            elif session is None:
                continue  # the header's session was refused: nothing to route to
            elif isinstance(event, ReplyReceived):
                session._on_reply(event)
            elif isinstance(event, HungUp):
                session._mark_hung_up()
            # InterimReply: the command stays in flight; nothing to do.

    def drop(self, reason: str) -> None:
        """Log why and close the connection at once."""
        if self._dropped:
            return
        self._dropped = True
        self._protocol.close()
        session = self._session
        where = f" ({session.request.script!r} {session.request.channel})" if session else ""
        logger.warning("dropping FastAGI connection from %s%s: %s", self._peer, where, reason)
        if self._transport is not None:
            self._transport.abort()

    def _start_session(self, request: AgiRequest) -> bool:
        assert self._transport is not None
        handler = self._server._routes.get(request.script)
        if handler is None:
            self.drop(f"unknown AGI script {request.script!r} (request {request.request!r})")
            return False
        self._session = AgiSession(
            request,
            self._peer,
            self._transport,
            hangup_grace=self._server.hangup_grace,
            command_timeout=self._server.command_timeout,
            protocol=self._protocol,
        )
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._server.idle_timeout is not None:
            self._timer = self._loop.call_later(self._server.idle_timeout, self._idle_check)
        self._server._spawn(self._session, handler)
        return True

    def _header_timeout(self) -> None:
        self._timer = None
        self.drop(f"header not complete within {self._server.header_timeout:g} s")

    def _idle_check(self) -> None:
        timeout = self._server.idle_timeout
        assert timeout is not None
        silent = self._loop.time() - self._last_data
        if silent >= timeout:
            self._timer = None
            self.drop(f"peer silent for {silent:.1f} s")
        else:
            self._timer = self._loop.call_later(timeout - silent, self._idle_check)


def _format_peer(peername: object) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername)


class AgiServer:
    """FastAGI listener routing each connection by script path to a handler.

    ``routes`` maps a script path (``"inbound"``, ``"agent/login"``) to an
    ``async def handler(session)``. Use as ``async with AgiServer(...) as s``
    or call :meth:`start` / :meth:`close`. ``port=0`` binds a free port,
    readable from :attr:`port` after start.
    """

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allowed_peers: Sequence[str] = ("127.0.0.1/32", "::1/128"),
        header_timeout: float = 10.0,
        idle_timeout: float | None = None,
        hangup_grace: float = 2.0,
        command_timeout: float | None = 300.0,
        on_session_error: Callable[[AgiSession, Exception], None] | None = None,
    ) -> None:
        self._routes = {path.strip("/"): handler for path, handler in routes.items()}
        self.host = host
        self._requested_port = port
        self._networks: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(peer, strict=False) for peer in allowed_peers
        )
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.hangup_grace = hangup_grace
        self.command_timeout = command_timeout
        self._on_session_error = on_session_error
        self._server: asyncio.Server | None = None
        self._connections: set[_AgiConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        """Number of handlers currently running."""
        return len(self._tasks)

    async def start(self) -> None:
        """Start listening."""
        if self._server is not None:
            raise RuntimeError("AgiServer already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _AgiConnection(self), self.host, self._requested_port, reuse_address=True
        )
        logger.info("FastAGI listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stop accepting, cancel running handlers, close every socket, await it all."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        connections = list(self._connections)
        for connection in connections:
            connection._dropped = True
            if connection._transport is not None:
                connection._transport.abort()
        if connections:
            await asyncio.wait([c.lost for c in connections], timeout=5.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def on_session_error(self, session: AgiSession, exc: Exception) -> None:
        """Log a handler's exception once, with its script and channel (override to extend)."""
        logger.error(
            "AGI handler for script %r failed on %s (peer %s): %r",
            session.request.script,
            session.request.channel,
            session.peer,
            exc,
            exc_info=exc,
        )
        if self._on_session_error is not None:
            self._on_session_error(session, exc)

    # ---- internals -----------------------------------------------------------------

    def _peer_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def _spawn(self, session: AgiSession, handler: Handler) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(session, handler), name=f"agi:{session.request.script}:{session.peer}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, session: AgiSession, handler: Handler) -> None:
        try:
            await handler(session)
        except CallerHangup as exc:
            logger.debug(
                "AGI %r on %s ended by hang-up: %s",
                session.request.script,
                session.request.channel,
                exc,
            )
        except Exception as exc:
            self.on_session_error(session, exc)
        finally:
            session._close()
