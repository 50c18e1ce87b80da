"""The desk's live hub: one :class:`wallboard.live.LiveHub` whose "boards"
are one desk each (``agent:{id}`` or ``supervisor``), whose sockets each
belong to a session and close when it ends, and which rebuilds only the
desks a change can touch (see :class:`DeskHub`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from wallboard.auth import SessionStore
from wallboard.live import LiveHub
from wallboard.snapshot import Board, JsonObject

log = logging.getLogger(__name__)

# Close code of a desk socket whose session ended (4000-4999: the
# application's own); the reason is an :class:`wallboard.auth.Ended` value.
SESSION_ENDED_CLOSE = 4401


class _Watch:
    """One desk socket's session, and the socket once it is prepared."""

    __slots__ = ("closing", "key", "ready", "session_id", "wake", "ws")

    def __init__(self, session_id: str, key: str) -> None:
        self.session_id = session_id
        self.key = key  # the desk's board key: whose pushes wake this watcher
        self.ws: web.WebSocketResponse | None = None
        self.ready = asyncio.Event()  # the socket is open (see note_socket)
        self.wake = asyncio.Event()  # re-check the session now
        self.closing = asyncio.Event()  # the watcher is closing the socket


_WATCH_KEY = web.RequestKey("desk_watch", _Watch)


class DeskHub(LiveHub):
    """The desk's hub: every socket belongs to a session, and closes (code
    :data:`SESSION_ENDED_CLOSE`, reason "signed_out", "session_expired" or
    "password_changed") once that session has ended.

    Beside each socket a watcher re-reads its session (without counting that
    as use) when woken and at least every ``check_seconds``, sooner when the
    session's expiry is nearer. It is woken at once by a sign-out or a new
    sign-in through this process (:meth:`end_session`) and after every push
    to its desk, so a session ended elsewhere (another process, deleted in Redis, expired,
    a changed password) closes its sockets within ``check_seconds`` at most.
    The sockets themselves are the :class:`LiveHub`'s; the watcher learns of
    its socket from the app's ``on_response_prepare`` signal.

    An agent's desk is built again only when a change message names that
    agent, after a message that names nothing (or a new subscription: some
    may have been missed) for every desk built before it, and at least every
    ``refresh_seconds``: on a 200-agent floor one agent's change rebuilds one
    desk (and the supervisors'), not 200. Everything an agent's desk shows
    is written by a script whose message names the agent (its state, call,
    wrap-up, disposition and day), except the caller's other contacts (one
    finished elsewhere, a survey answer), which the refresh catches up."""

    def __init__(
        self,
        redis: aioredis.Redis,
        channel: str,
        build: Callable[[Board, float | None], Awaitable[JsonObject]],
        sessions: SessionStore,
        *,
        check_seconds: float,
        clock: Callable[[], float],
        refresh_seconds: float = 10.0,
        also_tell: Callable[[Mapping[str, object] | None], None] | None = None,
    ) -> None:
        # Woken four times per refresh; a desk older than half to three
        # quarters of it (fixed per desk) is rebuilt then, so none is older
        # than ``refresh_seconds``.
        refresh = max(0.01, refresh_seconds)
        super().__init__(
            redis, channel, build, clock=clock, on_change=self._heard,
            refresh_interval=refresh / 4,
        )
        self._also_tell = also_tell  # the supervisor desk's live builder
        self._sessions = sessions
        self._check_seconds = max(0.01, check_seconds)
        self._watches: dict[str, set[_Watch]] = {}
        self.closed_for_session = 0
        self._desk_age = refresh * 0.75
        self._named: set[str] = set()  # agents named since the last broadcast
        # Messages that named nothing so far, and how many there had been when
        # each desk's latest build started: a desk behind the count is stale.
        self._epoch = 0
        self._desk_epoch: dict[str, int] = {}
        self._taken: set[str] = set()  # the names the running broadcast took
        self._pushed: set[str] = set()  # board keys the last broadcast built

    def end_session(self, session_id: str) -> None:
        """The session was deleted here: its sockets re-check it now."""
        for watch in self._watches.get(session_id, ()):
            watch.wake.set()

    def _heard(self, message: Mapping[str, object] | None) -> None:
        """A change message (None: changes may have been missed)."""
        if self._also_tell is not None:
            self._also_tell(message)
        agent = str(message.get("agent") or "") if message is not None else ""
        queue = str(message.get("queue") or "") if message is not None else ""
        if agent:
            self._named.add(agent)
        elif not queue:
            self._epoch += 1
        # A queue alone (a caller came or went) is on no agent's desk.

    def _to_build(self, boards: Mapping[str, Board]) -> list[Board]:
        named, self._named = self._named, set()
        self._taken = named
        now = asyncio.get_running_loop().time()
        picked: list[Board] = []
        for key, board in boards.items():
            built = self.built_at(key)
            agent = key.removeprefix("agent:") if key.startswith("agent:") else None
            if (
                agent is None  # a supervisor's desk shows the whole floor
                or agent in named
                or self._desk_epoch.get(key) != self._epoch
                or built is None
                or now - built >= self._desk_age * _spread(key)
            ):
                picked.append(board)
                self._desk_epoch[key] = self._epoch  # before the build reads
        self._pushed = {b.key for b in picked}
        return picked

    def _not_built(self) -> None:
        self._named |= self._taken
        self._desk_epoch.clear()  # every desk is built again

    async def broadcast(self) -> None:
        self._pushed = set()
        await super().broadcast()
        # A pushed desk's session is checked now: a session ended elsewhere
        # stops getting pushes at its next one.
        for watches in self._watches.values():
            for watch in watches:
                if watch.key in self._pushed:
                    watch.wake.set()

    async def serve_session(
        self, request: web.Request, board: Board, session_id: str
    ) -> web.WebSocketResponse:
        """:meth:`LiveHub.serve`, with the socket closed when the session ends."""
        watch = _Watch(session_id, board.key)
        request[_WATCH_KEY] = watch
        # The desk is built for this socket now (unless one was built in the
        # last moment): it has seen every message that named nothing so far.
        self._desk_epoch.setdefault(board.key, self._epoch)
        self._watches.setdefault(session_id, set()).add(watch)
        watcher = asyncio.create_task(self._watch(watch), name="desk-session-watch")
        try:
            return await self.serve(request, board)
        finally:
            watches = self._watches.get(session_id, set())
            watches.discard(watch)
            if not watches:
                self._watches.pop(session_id, None)
            if not watch.closing.is_set():
                watcher.cancel()
            # A watcher closing the socket finishes its handshake (bounded).
            done, late = await asyncio.wait((watcher,), timeout=5.0)
            for task in late:
                task.cancel()
            for task in done:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    log.error("desk: session watcher failed: %r", exc)

    async def _watch(self, watch: _Watch) -> None:
        await watch.ready.wait()
        while True:
            watch.wake.clear()
            try:
                session, ended = await self._sessions.check(watch.session_id)
            except (RedisError, OSError):
                # Redis away: the hub reports it; the session is judged when it is back.
                session, ended = None, None
            if ended is not None:
                break
            wait = self._check_seconds
            if session is not None:
                # Wake just after the expiry instead of up to check_seconds later.
                wait = min(wait, max(0.0, self._sessions.expires_in(session)) + 0.05)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await watch.wake.wait()
        ws = watch.ws
        if ws is None or ws.closed:
            return
        log.info("desk: closing a socket whose session ended (%s)", ended.value)
        self.closed_for_session += 1
        watch.closing.set()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close(code=SESSION_ENDED_CLOSE, message=ended.value.encode())


async def note_socket(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: hand a desk socket to its session's watcher."""
    watch = request.get(_WATCH_KEY)
    if watch is not None and isinstance(response, web.WebSocketResponse):
        watch.ws = response
        watch.ready.set()


def _spread(key: str) -> float:
    """2/3 to 1, fixed per desk: desks opened together are refreshed apart."""
    return 2 / 3 + (zlib.crc32(key.encode()) % 1000) / 3000
