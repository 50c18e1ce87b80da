"""Asyncio AMI client: login, actions with awaitable responses, events, reconnect.

A thin transport around :mod:`telephony.ami_codec`. The socket is read in its
own task and never waits for event callbacks (Asterisk drops a client that does
not read within its ``writetimeout``, 100 ms by default): events are queued and
handed to callbacks by a separate dispatcher task, in arrival order.

Tasks owned by an :class:`AmiClient` (all cancelled and awaited by
:meth:`AmiClient.close`): the supervisor (connect, login, reconnect with capped
exponential backoff and jitter), the reader and the keep-alive of the current
connection, and the event dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType

from telephony.ami_codec import AmiMessage, AmiParser, EventList, EventListCollector, encode_action
from telephony.errors import (
    AmiActionFailed,
    AmiLoginFailed,
    AmiNotConnected,
    AmiProtocolError,
    AmiTimeout,
)
from telephony.sockets import set_keepalive

__all__ = ["AmiClient", "EventCallback", "ReconnectCallback"]

log = logging.getLogger(__name__)

EventCallback = Callable[[AmiMessage], Awaitable[None] | None]
ReconnectCallback = Callable[[], Awaitable[None]]

_READ_SIZE = 16 * 1024
_CLOSE_TIMEOUT = 1.0
_SECRET_KEYS = frozenset({"secret", "key"})


class _Connection:
    """One TCP connection and the per-connection state that dies with it."""

    __slots__ = (
        "list_futures",
        "lists",
        "login_done",
        "parser",
        "pending",
        "reader",
        "tasks",
        "writer",
    )

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = AmiParser()
        self.pending: dict[str, asyncio.Future[AmiMessage]] = {}
        self.lists = EventListCollector()
        self.list_futures: dict[str, asyncio.Future[EventList]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.login_done = False

    def fail_all(self, exc: BaseException) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self.pending.clear()
        for lfut in self.list_futures.values():
            if not lfut.done():
                lfut.set_exception(exc)
        self.list_futures.clear()


class AmiClient:
    """An AMI client that stays connected.

    ``await start()`` connects and logs in (raising :class:`AmiLoginFailed` for
    bad credentials, :class:`AmiNotConnected` if Asterisk cannot be reached),
    then keeps the session alive: a ``Ping`` every ``ping_interval`` seconds,
    and on any loss a reconnect with backoff from ``reconnect_min`` doubling to
    ``reconnect_max`` (with jitter) followed by a fresh login and the
    :meth:`on_reconnect` hooks. The secret is never logged.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        ping_interval: float = 20.0,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        event_filters: Sequence[str] = (),
    ) -> None:
        self.host = host
        #: Asterisk ``Filter`` expressions (e.g. ``Event: DialEnd``) added after
        #: every login, so a busy Asterisk sends only the events that matter.
        self.event_filters = tuple(event_filters)
        self.port = port
        self.username = username
        self._secret = secret
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max

        self._conn: _Connection | None = None
        self._closing = False
        self._started = False
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        # None is the stop sentinel: a callback that swallows a cancellation
        # (some libraries do) must not keep the dispatcher alive forever.
        self._events: asyncio.Queue[AmiMessage | None] = asyncio.Queue()
        self._subscribers: dict[str | None, list[EventCallback]] = {}
        self._reconnect_hooks: list[ReconnectCallback] = []
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(3)
        #: Banner of the current (or last) connection, e.g. ``Asterisk Call Manager/11.0.0``.
        self.banner: str | None = None
        #: Successful logins so far (the first one included).
        self.logins = 0

    def __repr__(self) -> str:  # never shows the secret
        state = "connected" if self.connected else "disconnected"
        return f"<AmiClient {self.username}@{self.host}:{self.port} {state}>"

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a connection is up and logged in."""
        conn = self._conn
        return conn is not None and conn.login_done and not conn.writer.is_closing()

    async def start(self) -> None:
        """Connect and log in, then keep the session alive in background tasks."""
        if self._started:
            raise RuntimeError("AmiClient.start() called twice")
        self._started = True
        self._dispatcher = asyncio.create_task(self._dispatch_events(), name="ami-dispatch")
        try:
            await self._connect_and_login()
        except BaseException:
            await self.close()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def close(self) -> None:
        """Log off (best effort), close the socket, cancel and await every task."""
        if self._closing:
            return
        self._closing = True
        # The supervisor first, so that no new connection appears behind our back.
        await _cancel_and_wait([self._supervisor])
        conn = self._conn
        if conn is not None and self.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request(conn, "Logoff", ()), _CLOSE_TIMEOUT)
        if conn is not None:
            await self._drop(conn, AmiNotConnected("AMI client closed"))
            await _cancel_and_wait(conn.tasks)
        self._events.put_nowait(None)
        await _cancel_and_wait([self._dispatcher])

    async def __aenter__(self) -> AmiClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- subscriptions -----------------------------------------------------------------

    def on_event(self, name: str | None, callback: EventCallback) -> None:
        """Call ``callback(message)`` for each event named ``name`` (None: every event).

        Names compare case-insensitively. Callbacks run in the dispatcher task, one
        at a time in arrival order; an exception is logged and the next runs.
        Events that belong to a pending :meth:`action_list` go to that list only.
        """
        key = None if name is None else name.lower()
        self._subscribers.setdefault(key, []).append(callback)

    def on_reconnect(self, callback: ReconnectCallback) -> None:
        """Await ``callback()`` after every successful re-login (not the first login)."""
        self._reconnect_hooks.append(callback)

    # ---- actions -----------------------------------------------------------------------

    async def action(self, name: str, **fields: str) -> AmiMessage:
        """Send action ``name`` and return its response.

        Raises :class:`AmiActionFailed` on ``Response: Error``,
        :class:`AmiNotConnected` when down, :class:`AmiTimeout` after
        ``action_timeout`` seconds.
        """
        return await self.send_action(name, fields)

    async def send_action(
        self, name: str, fields: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    ) -> AmiMessage:
        """Like :meth:`action`, with fields as a mapping or as pairs (repeated keys allowed)."""
        conn = self._require_connection()
        response = await self._request(conn, name, fields)
        if (response.response or "").lower() == "error":
            raise AmiActionFailed(name, response.get("Message") or "")
        return response

    async def action_list(self, name: str, **fields: str) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send a list action; return its response and its events up to ``...Complete``.

        The closing ``...Complete`` event is not part of the list. A list that
        Asterisk refuses (``Response: Error``) raises :class:`AmiActionFailed`.
        """
        conn = self._require_connection()
        action_id = self._next_id()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[EventList] = loop.create_future()
        conn.lists.expect(action_id)
        conn.list_futures[action_id] = fut
        try:
            await self._write(conn, encode_action(name, action_id, fields), name, fields)
            result = await asyncio.wait_for(fut, self.action_timeout)
        except TimeoutError:
            raise AmiTimeout(
                f"AMI {name} list not complete after {self.action_timeout} s"
            ) from None
        finally:
            conn.lists.cancel(action_id)
            conn.list_futures.pop(action_id, None)
        if result.failed:
            raise AmiActionFailed(name, result.response.get("Message") or "")
        return result.response, list(result.events)

    def _require_connection(self) -> _Connection:
        conn = self._conn
        if conn is None or not self.connected:
            raise AmiNotConnected(f"AMI not connected to {self.host}:{self.port}")
        return conn

    def _next_id(self) -> str:
        return f"acd-{self._id_prefix}-{next(self._ids)}"

    async def _request(
        self,
        conn: _Connection,
        name: str,
        fields: Mapping[str, str] | Sequence[tuple[str, str]],
    ) -> AmiMessage:
        action_id = self._next_id()
        fut: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        conn.pending[action_id] = fut
        try:
            await self._write(conn, encode_action(name, action_id, fields), name, fields)
            return await asyncio.wait_for(fut, self.action_timeout)
        except TimeoutError:
            raise AmiTimeout(f"AMI {name} got no response in {self.action_timeout} s") from None
        finally:
            conn.pending.pop(action_id, None)

    async def _write(
        self,
        conn: _Connection,
        data: bytes,
        name: str,
        fields: Mapping[str, str] | Sequence[tuple[str, str]],
    ) -> None:
        if conn.writer.is_closing():
            raise AmiNotConnected("AMI connection is closing")
        if log.isEnabledFor(logging.DEBUG):
            pairs = fields.items() if isinstance(fields, Mapping) else fields
            shown = {k: ("***" if k.lower() in _SECRET_KEYS else v) for k, v in pairs}
            log.debug("AMI -> %s %s", name, shown)
        try:
            conn.writer.write(data)
            await conn.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise AmiNotConnected(f"AMI write failed: {exc}") from exc

    # ---- connection management ---------------------------------------------------------

    async def _connect_and_login(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise AmiNotConnected(f"cannot connect to AMI {self.host}:{self.port}: {exc}") from exc
        set_keepalive(writer.get_extra_info("socket"))
        conn = _Connection(reader, writer)
        self._conn = conn
        conn.tasks.append(asyncio.create_task(self._read_loop(conn), name="ami-reader"))
        try:
            response = await self._request(
                conn,
                "Login",
                (("Username", self.username), ("Secret", self._secret), ("Events", "on")),
            )
        except BaseException:
            await self._drop(conn, AmiNotConnected("AMI login did not complete"))
            raise
        if (response.response or "").lower() != "success":
            await self._drop(conn, AmiNotConnected("AMI login failed"))
            raise AmiLoginFailed(
                f"AMI login as {self.username!r} refused: {response.get('Message') or '?'}"
            )
        for expression in self.event_filters:
            reply = await self._request(
                conn, "Filter", (("Operation", "Add"), ("Filter", expression))
            )
            if (reply.response or "").lower() != "success":
                log.warning("AMI Filter %r refused (%s): receiving all events",
                            expression, reply.get("Message") or "?")
        self.banner = conn.parser.banner
        conn.login_done = True
        self.logins += 1
        if self.ping_interval > 0:
            conn.tasks.append(asyncio.create_task(self._keepalive(conn), name="ami-keepalive"))
        log.info("AMI logged in to %s:%s as %s", self.host, self.port, self.username)

    async def _drop(self, conn: _Connection, exc: BaseException) -> None:
        """Close ``conn`` and fail everything waiting on it."""
        conn.fail_all(exc)
        conn.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), _CLOSE_TIMEOUT)

    async def _supervise(self) -> None:
        """Wait for the connection to die, then reconnect with backoff, forever."""
        while not self._closing:
            conn = self._conn
            if conn is not None and conn.tasks:
                await asyncio.wait([conn.tasks[0]])  # the reader ends when the socket does
                for task in conn.tasks[1:]:
                    task.cancel()
                for task in conn.tasks[1:]:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self._drop(conn, AmiNotConnected("AMI connection lost"))
                log.warning("AMI connection to %s:%s lost", self.host, self.port)
            await self._reconnect()
            for hook in list(self._reconnect_hooks):
                try:
                    await hook()
                except Exception:
                    log.exception("AMI on_reconnect hook %r failed", hook)

    async def _reconnect(self) -> None:
        attempt = 0
        while True:
            delay = min(self.reconnect_max, self.reconnect_min * (2**attempt))
            delay *= random.uniform(0.5, 1.0)  # jitter: many ACDs must not retry in step
            await asyncio.sleep(delay)
            attempt = min(attempt + 1, 30)
            try:
                await self._connect_and_login()
                return
            except AmiLoginFailed as exc:
                # Credentials may be fixed by a manager.conf reload; keep trying slowly.
                log.error("%s; retrying in up to %.0f s", exc, self.reconnect_max)
                attempt = 30
            except (AmiNotConnected, AmiTimeout, AmiProtocolError) as exc:
                log.info("AMI reconnect attempt failed: %s", exc)

    async def _keepalive(self, conn: _Connection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._request(conn, "Ping", ())
            except (AmiTimeout, AmiNotConnected) as exc:
                log.warning("AMI keep-alive failed (%s); dropping the connection", exc)
                conn.writer.close()  # the reader sees EOF and the supervisor reconnects
                return

    async def _read_loop(self, conn: _Connection) -> None:
        reader = conn.reader
        parser = conn.parser
        try:
            while True:
                data = await reader.read(_READ_SIZE)
                if not data:
                    return
                for message in parser.feed(data):
                    self._route(conn, message)
        except AmiProtocolError as exc:
            log.error("AMI protocol error from %s:%s: %s", self.host, self.port, exc)
        except (ConnectionError, OSError) as exc:
            log.info("AMI read failed: %s", exc)
        finally:
            conn.fail_all(AmiNotConnected("AMI connection lost"))

    def _route(self, conn: _Connection, message: AmiMessage) -> None:
        action_id = message.action_id
        if action_id is not None and conn.lists.is_pending(action_id):
            done = conn.lists.feed(message)
            if done is not None:
                fut = conn.list_futures.get(action_id)
                if fut is not None and not fut.done():
                    fut.set_result(done)
            return
        if message.is_event:
            self._events.put_nowait(message)
            return
        if action_id is not None:
            pending = conn.pending.get(action_id)
            if pending is not None and not pending.done():
                pending.set_result(message)
                return
        log.debug("AMI response with no waiting action: %s", message.to_dict())

    async def _dispatch_events(self) -> None:
        while True:
            message = await self._events.get()
            if message is None:
                return
            name = (message.event or "").lower()
            callbacks = [*self._subscribers.get(name, ()), *self._subscribers.get(None, ())]
            for callback in callbacks:
                try:
                    result = callback(message)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("AMI event callback %r failed on %s", callback, message.event)

    @property
    def queued_events(self) -> int:
        """Events read but not yet handed to callbacks."""
        return self._events.qsize()


async def _cancel_and_wait(tasks: Sequence[asyncio.Task[None] | None]) -> None:
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    for task in live:
        # Bounded: a task that swallowed its cancellation is cancelled again
        # rather than awaited forever.
        for _ in range(50):
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 0.1)
            if task.done():
                break
            task.cancel()
