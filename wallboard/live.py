"""Live updates: one Redis subscription fans out to every websocket.

The ACD publishes a small JSON message on ``changes`` after every change. The
:class:`LiveHub` listens once for the whole process, coalesces bursts (at most
one broadcast per ``min_interval``), builds each board's snapshot once,
serialises it once and hands the same bytes to every socket showing that
board. Each socket has a one-slot mailbox: a client that cannot keep up only
ever holds the latest payload, and one whose sends stall or whose buffer grows
is dropped.

With ``deltas=True`` (the TV board) a socket gets the full snapshot once, then
numbered deltas (:mod:`wallboard.delta`): a one-agent change is a few hundred
bytes instead of the whole 70 KB board, for every viewer. A socket whose
mailbox still holds an unsent delta gets the latest full snapshot in its
place, so a slow viewer never misses a change; a viewer that sees a gap sends
``{"type": "resync"}`` and gets the full snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import WSMsgType, web
from redis.exceptions import RedisError

from wallboard import delta as deltas_codec
from wallboard.snapshot import Board, JsonObject, dumps

log = logging.getLogger(__name__)

BuildSnapshot = Callable[[Board, "float | None"], Awaitable[JsonObject]]
# Told of every change message (decoded), or None when changes may have been
# missed (a new subscription): the snapshot builder reads only what changed.
ChangeListener = Callable[["Mapping[str, object] | None"], None]


def text_frame(payload: bytes) -> bytes:
    """``payload`` as one websocket text frame the way a server sends it (RFC
    6455 5.2: final, unmasked, not compressed). Encoded once per update and
    written as is to every socket: aiohttp has no call for that."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


@dataclass(frozen=True, slots=True)
class _Message:
    """One message as JSON bytes and as the frame that carries it."""

    payload: bytes
    frame: bytes

    @classmethod
    def of(cls, payload: bytes) -> _Message:
        return cls(payload, text_frame(payload))


@dataclass(eq=False, slots=True)
class _Built:
    """One board's latest snapshot: as data (to diff), as bytes, numbered.
    The full message is encoded when a socket first needs it: with deltas,
    most updates reach every viewer as a delta and never need it."""

    snapshot: JsonObject
    version: int
    at: float  # loop time it was built
    delta: _Message | None = None  # from version - 1 to this one, when one can say it
    versioned: bool = False  # the full message carries the version (deltas on)
    _full: _Message | None = None

    @property
    def full(self) -> _Message:
        if self._full is None:
            snapshot = self.snapshot
            if self.versioned:
                snapshot = deltas_codec.full(snapshot, self.version)
            self._full = _Message.of(dumps(snapshot))
        return self._full


@dataclass(eq=False, slots=True)
class _Client:
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    board: Board
    key: str  # board.key, computed once
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    pending: bytes | None = None
    pending_data: bool = False  # pending is a snapshot or delta (not a heartbeat)
    version: int = -1  # of the last snapshot or delta queued for this socket
    busy_since: float | None = None  # loop time a send started and has not finished
    sender: asyncio.Task[None] | None = None


class LiveHub:
    """Owner of the subscription task and of every live socket."""

    def __init__(
        self,
        redis: aioredis.Redis,
        channel: str,
        build: BuildSnapshot,
        *,
        min_interval: float = 0.15,
        settle: float = 0.01,
        refresh_interval: float = 10.0,
        heartbeat_interval: float = 5.0,
        slow_client_seconds: float = 5.0,
        max_buffer_bytes: int = 1 << 20,
        deltas: bool = False,
        clock: Callable[[], float] = time.time,
        on_change: ChangeListener | None = None,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._build = build
        self._min_interval = min_interval
        self._settle = settle
        self._refresh_interval = refresh_interval
        self._heartbeat_interval = heartbeat_interval
        self._slow_client_seconds = slow_client_seconds
        self._max_buffer_bytes = max_buffer_bytes
        self._deltas = deltas
        self._clock = clock
        self._on_change = on_change
        self._clients: set[_Client] = set()
        self._dirty = asyncio.Event()
        self._last_change_at: float | None = None
        self._latest: dict[str, _Built] = {}
        self._building: dict[str, asyncio.Future[_Built]] = {}
        self.subscribed = False
        self._stopping = False
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # set once the first subscription is made
        self.store_ok = True
        self.dropped_slow_clients = 0
        self.resyncs = 0  # full snapshots sent because a viewer asked
        # When a list: (last_change_at, clock) once each update has been handed
        # to every socket (bench/wallboard.py reads it; None costs nothing).
        self.fanout_log: list[tuple[float, float]] | None = None

    @property
    def last_change_at(self) -> float | None:
        """``at`` of the latest change message received (the ACD's clock)."""
        return self._last_change_at

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # --- background work (owned by the app's cleanup_ctx) -------------------

    async def run(self) -> None:
        """Listen, broadcast and heartbeat until :meth:`close` (or cancelled).

        Every loop checks the stop flag and waits with ``asyncio.timeout``
        rather than ``asyncio.wait_for``: on Python 3.11 ``wait_for`` drops a
        cancellation that races a wait that has just completed, which once
        left this task running for ever and hung the app's cleanup."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen(), name="wallboard-listen")
            group.create_task(self._broadcast_loop(), name="wallboard-broadcast")
            group.create_task(self._heartbeat_loop(), name="wallboard-heartbeat")

    async def close(self) -> None:
        """Close every socket (going away) so pages reconnect to the next server,
        and make the listener stop."""
        self._stopping = True
        self._stop.set()
        self._dirty.set()  # wake the broadcast loop so it sees the flag
        clients = list(self._clients)
        for client in clients:
            if client.sender is not None:
                client.sender.cancel()
        if clients:
            await asyncio.wait(
                [asyncio.ensure_future(self._close_ws(c.ws)) for c in clients], timeout=2.0
            )

    @staticmethod
    async def _close_ws(ws: web.WebSocketResponse) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"server shutting down")

    async def _listen(self) -> None:
        backoff = 0.1
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # A client with a retry (the runtime's) reconnects and
                # re-subscribes by itself after a Redis restart, and what was
                # published meanwhile is lost without an error: hear of it.
                if pubsub.connection is not None:
                    pubsub.connection.register_connect_callback(self._reconnected)
                self.subscribed = True
                self.ready.set()
                backoff = 0.1
                # Changes may have been missed while away: everything is news.
                if self._on_change is not None:
                    self._on_change(None)
                self._dirty.set()
                # get_message with a timeout rather than listen(): redis-py can
                # swallow a cancellation inside a blocking read, and the flag
                # below still ends the loop within the timeout.
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.25)
                    if message is not None and message.get("type") == "message":
                        self._note_change(message.get("data"))
                return
            except (RedisError, OSError) as exc:
                if self.subscribed:
                    log.warning("wallboard: Redis subscription lost (%s); retrying", exc)
                self.subscribed = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.subscribed = False
                if pubsub.connection is not None:
                    pubsub.connection.deregister_connect_callback(self._reconnected)
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]

    async def _reconnected(self, connection: object) -> None:
        """redis-py's connect callback (a method: it is kept as a weak one),
        run after the client re-subscribed on a new connection by itself:
        changes may have been missed, as after a subscription of our own."""
        log.info("wallboard: Redis subscription re-made by the client; reading everything")
        if self._on_change is not None:
            self._on_change(None)
        self._dirty.set()

    def _note_change(self, data: object) -> None:
        decoded: object = None
        try:
            raw = data.decode() if isinstance(data, bytes) else str(data)
            decoded = json.loads(raw)
            stamp: Any = decoded.get("at") if isinstance(decoded, dict) else None
            at = float(stamp)
        except (ValueError, TypeError, AttributeError):
            at = self._clock()  # a change all the same; timestamp it on arrival
        if math.isfinite(at) and (self._last_change_at is None or at > self._last_change_at):
            self._last_change_at = at
        if self._on_change is not None:
            # A message that says nothing usable: anything may have changed.
            self._on_change(decoded if isinstance(decoded, dict) else None)
        self._dirty.set()

    async def _broadcast_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = -math.inf
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._refresh_interval):
                    await self._dirty.wait()
            if self._stopping:
                return
            # Let a burst (agent + call + stats for one event) land together, and
            # keep at most one broadcast per min_interval.
            await asyncio.sleep(max(self._settle, last + self._min_interval - loop.time()))
            self._dirty.clear()
            if not self._clients or self._stopping:
                continue
            last = loop.time()
            await self.broadcast()

    async def broadcast(self) -> None:
        """Build each shown board that :meth:`_to_build` picks, once, and queue
        the bytes for its sockets (every build reaches every socket of its
        board: see :meth:`_payload`)."""
        boards = {c.key: c.board for c in self._clients}
        for board in self._to_build(boards):
            try:
                await self._payload(board, max_age=0.0)
            except (RedisError, OSError) as exc:
                if self.store_ok:
                    log.warning("wallboard: cannot read Redis (%s)", exc)
                self.store_ok = False
                self._not_built()
                return
            self.store_ok = True

    def _to_build(self, boards: Mapping[str, Board]) -> list[Board]:
        """The shown boards this broadcast builds: all of them (a subclass
        that knows which boards a change can touch builds fewer)."""
        return list(boards.values())

    def _not_built(self) -> None:
        """A broadcast stopped on a store error: what it was to build is
        still to build (for a subclass that keeps track)."""

    def built_at(self, key: str) -> float | None:
        """Loop time of the board's latest build, None if never built."""
        built = self._latest.get(key)
        return built.at if built is not None else None

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._heartbeat_interval):
                    await self._stop.wait()
            if self._stopping:
                return
            ok = self.subscribed and self.store_ok
            beat = _Message.of(dumps({"type": "heartbeat", "at": self._clock(), "ok": ok}))
            for client in list(self._clients):
                if client.pending is None:
                    self._queue(client, beat, data=False)

    # --- per socket ----------------------------------------------------------

    async def _payload(self, board: Board, max_age: float) -> _Built:
        """The board's latest build if younger than ``max_age``, else a new one
        (one build at a time per board), queued for every socket showing it."""
        loop = asyncio.get_running_loop()
        cached = self._latest.get(board.key)
        if cached is not None and loop.time() - cached.at <= max_age:
            return cached
        in_flight = self._building.get(board.key)
        if in_flight is not None:
            return await asyncio.shield(in_flight)
        future: asyncio.Future[_Built] = loop.create_future()
        self._building[board.key] = future
        try:
            snapshot = await self._build(board, self._last_change_at)
            built = self._encode(snapshot, self._latest.get(board.key), loop.time())
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: only waiters re-raise it
            raise
        finally:
            del self._building[board.key]
        self._latest[board.key] = built
        future.set_result(built)
        key = board.key
        for client in list(self._clients):
            if client.key == key:
                self._offer(client, built)
        if self.fanout_log is not None and self._last_change_at is not None:
            self.fanout_log.append((self._last_change_at, self._clock()))
        return built

    def _encode(self, snapshot: JsonObject, previous: _Built | None, at: float) -> _Built:
        if not self._deltas:
            return _Built(snapshot=snapshot, version=0, at=at)
        version = previous.version + 1 if previous is not None else 1
        change = deltas_codec.diff(previous.snapshot, snapshot) if previous is not None else None
        delta = None
        if change is not None and previous is not None:
            message = deltas_codec.message(change, snapshot, version, previous.version)
            delta = _Message.of(dumps(message))
        return _Built(snapshot=snapshot, version=version, at=at, delta=delta, versioned=True)

    def _offer(self, client: _Client, built: _Built, *, full: bool = False) -> None:
        """Queue ``built`` for ``client``: its delta when the socket has every
        version before it and nothing unsent, else the full snapshot (which
        replaces whatever was waiting in the mailbox)."""
        if not self._deltas:
            self._queue(client, built.full, data=True)
            return
        if built.version == client.version and not full:
            return  # already queued or sent
        message = built.full
        if not full and client.version == built.version - 1 and not client.pending_data:
            message = built.delta or built.full
        client.version = built.version
        self._queue(client, message, data=True)

    def _queue(self, client: _Client, message: _Message, *, data: bool) -> None:
        loop = asyncio.get_running_loop()
        stalled = (
            client.busy_since is not None
            and loop.time() - client.busy_since > self._slow_client_seconds
        )
        transport = client.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        if stalled or buffered > self._max_buffer_bytes:
            self._drop(client)
            return
        if (
            transport is not None
            and buffered == 0
            and client.pending is None
            and client.busy_since is None
            and not client.ws.closed
            and not transport.is_closing()
        ):
            # The socket has nothing in flight: write the ready frame now, the
            # same bytes object for every viewer, with no task switch. (A
            # socket that has bytes waiting goes through its send loop, which
            # waits for the peer to read.)
            transport.write(message.frame)
            return
        client.pending = message.payload
        client.pending_data = data
        client.wake.set()

    def _drop(self, client: _Client) -> None:
        log.info("wallboard: dropping a slow client (%s)", client.board.key or "all queues")
        self.dropped_slow_clients += 1
        self._clients.discard(client)
        if client.sender is not None:
            client.sender.cancel()
        if client.transport is not None:
            client.transport.abort()  # never wait on a peer that does not read

    async def _send_loop(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await client.wake.wait()
            client.wake.clear()
            payload, client.pending = client.pending, None
            client.pending_data = False
            if payload is None:
                continue
            client.busy_since = loop.time()
            await client.ws.send_frame(payload, WSMsgType.TEXT)
            client.busy_since = None

    async def serve(self, request: web.Request, board: Board) -> web.WebSocketResponse:
        """Run one websocket: the snapshot now, then updates until it closes."""
        # No per-message compression: deflating the same payload once per
        # socket would cost more CPU than everything else put together.
        ws = web.WebSocketResponse(heartbeat=30.0, compress=False, max_msg_size=64 * 1024)
        try:
            await ws.prepare(request)
        except (ConnectionError, RuntimeError) as exc:
            # The viewer went away mid-upgrade: nothing to serve, nothing to log loudly.
            log.debug("wallboard: websocket upgrade aborted (%s)", type(exc).__name__)
            return ws
        client = _Client(ws=ws, transport=request.transport, board=board, key=board.key)
        try:
            await self._payload(board, max_age=self._min_interval)
        except (RedisError, OSError):
            await ws.close(code=1011, message=b"store unavailable")
            return ws
        self._clients.add(client)
        client.sender = asyncio.create_task(self._send_loop(client), name="wallboard-send")
        # The latest build, which may be newer than the one awaited above.
        self._offer(client, self._latest[board.key], full=True)
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
                # Viewers only listen, except to ask for the full snapshot
                # after a gap in the deltas; anything else is ignored.
                if message.type == WSMsgType.TEXT and self._deltas and _is_resync(message.data):
                    latest = self._latest.get(board.key)
                    if latest is not None and client in self._clients:
                        self.resyncs += 1
                        self._offer(client, latest, full=True)
        finally:
            self._clients.discard(client)
            client.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await client.sender
        return ws


def _is_resync(text: object) -> bool:
    if not isinstance(text, str) or len(text) > 200:
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "resync"
