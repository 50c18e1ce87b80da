"""The AMI *server* side of the fake Asterisk.

Speaks the same bytes as Asterisk 22's ``main/manager.c`` (checked against
``shared/fixtures/asterisk-22``): the banner ``Asterisk Call Manager/11.0.0``
with no blank line after it; responses laid out as ``Response``, ``ActionID``,
``EventList``, ``Message``; events as ``Event``, ``Privilege``, ``Timestamp``
(``timestampevents=yes``), then their fields; list actions answered with
``EventList: start``, events carrying the ActionID, and ``...Complete`` with
``EventList: Complete`` and ``ListItems``.

Session handling (login, logoff, ping, unknown actions, event fan-out) lives
here; actions about the simulated world go to a :class:`ActionHandler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from typing import Protocol

from telephony.ami_codec import AmiMessage, AmiParser, encode_fields
from telephony.errors import AmiProtocolError

__all__ = [
    "AMI_BANNER",
    "ActionHandler",
    "AmiSession",
    "FakeAmiServer",
    "ami_event",
    "ami_response",
]

log = logging.getLogger(__name__)

AMI_BANNER = b"Asterisk Call Manager/11.0.0\r\n"
#: Like Asterisk's writetimeout: a client whose unsent output grows past this is dropped.
_MAX_UNSENT = 4 * 1024 * 1024

Fields = Sequence[tuple[str, str]]


def ami_response(
    request: AmiMessage,
    response: str = "Success",
    message: str | None = None,
    fields: Fields = (),
    *,
    event_list: str | None = None,
) -> AmiMessage:
    """A response laid out as manager.c's ``astman_send_response_full``."""
    out: list[tuple[str, str]] = [("Response", response)]
    action_id = request.action_id
    if action_id:
        out.append(("ActionID", action_id))
    if event_list is not None:
        out.append(("EventList", event_list))
    if message is not None:
        out.append(("Message", message))
    out.extend(fields)
    return AmiMessage(tuple(out))


def ami_event(
    name: str,
    fields: Fields = (),
    *,
    privilege: str | None = "call,all",
    action_id: str | None = None,
    timestamp: float | None = None,
    stamped: bool = True,
) -> AmiMessage:
    """An event as Asterisk sends it with ``timestampevents=yes``.

    List events (``action_id`` given) carry ``ActionID`` right after ``Event``
    and no Privilege/Timestamp, as the list handlers in Asterisk write them.
    """
    out: list[tuple[str, str]] = [("Event", name)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    else:
        if privilege is not None:
            out.append(("Privilege", privilege))
        if stamped:  # manager.c's own events (FullyBooted) carry no Timestamp
            stamp = time.time() if timestamp is None else timestamp
            out.append(("Timestamp", f"{stamp:.6f}"))
    out.extend(fields)
    return AmiMessage(tuple(out))


def list_complete(name: str, request: AmiMessage, items: int) -> AmiMessage:
    """The closing event of a list action (``astman_send_list_complete_start/end``)."""
    out: list[tuple[str, str]] = [("Event", name)]
    if request.action_id:
        out.append(("ActionID", request.action_id))
    out.extend((("EventList", "Complete"), ("ListItems", str(items))))
    return AmiMessage(tuple(out))


class ActionHandler(Protocol):
    """What the simulated world answers; None means "no such action"."""

    def __call__(self, request: AmiMessage) -> list[AmiMessage] | None: ...


class AmiSession:
    """One connected AMI client."""

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer = writer
        self.peer = peer
        self.authenticated = False
        self.events_on = True
        self.username: str | None = None
        self.actions: list[AmiMessage] = []
        # Whitelist filters from the Filter action (regexes over "Key: Value"
        # lines, like Asterisk's); no filters means every event.
        self.filters: list[re.Pattern[str]] = []

    def wants(self, event: AmiMessage) -> bool:
        if not self.filters:
            return True
        text = "\r\n".join(f"{k}: {v}" for k, v in event.fields)
        return any(f.search(text) for f in self.filters)

    def stall(self) -> None:
        """Stop reading this client's actions, as a hung Asterisk would (for tests)."""
        transport = self.writer.transport
        if isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()

    def send(self, messages: Sequence[AmiMessage]) -> None:
        if self.writer.is_closing():
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > _MAX_UNSENT:
            log.warning("fake AMI: dropping slow client %s", self.peer)
            self.writer.close()
            return
        self.writer.write(b"".join(encode_fields(m.fields) for m in messages))


class FakeAmiServer:
    """AMI over TCP on loopback; see the module docstring."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        handler: ActionHandler,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.handler = handler
        self.sessions: set[AmiSession] = set()
        #: Every action received, from every session (for tests).
        self.actions: list[AmiMessage] = []
        self.logins = 0
        self.failed_logins = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.started_at = time.time()
        #: False while a restarted Asterisk loads its modules: logins work, the
        #: login's FullyBooted is not sent yet (it comes once booted).
        self.booted = True

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_clients()
        # Let the session handlers see their sockets close and end by themselves:
        # cancelling a start_server() callback task makes asyncio log an error.
        tasks = list(self._tasks)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=2.0)
            for task in stuck:
                task.cancel()
            for task in stuck:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    def drop_clients(self) -> int:
        """Close every AMI connection (as an Asterisk restart would); returns how many."""
        count = 0
        for session in list(self.sessions):
            if not session.writer.is_closing():
                session.writer.close()
                count += 1
        return count

    def broadcast(self, event: AmiMessage) -> None:
        """Send an event to every logged-in session that asked for events."""
        for session in list(self.sessions):
            if session.authenticated and session.events_on and session.wants(event):
                session.send([event])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        session = AmiSession(writer, f"{peer[0]}:{peer[1]}" if peer else "?")
        self.sessions.add(session)
        parser = AmiParser(expect_banner=False)
        try:
            writer.write(AMI_BANNER)
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for request in parser.feed(data):
                    if not self._handle(session, request):
                        break
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        except AmiProtocolError as exc:
            log.info("fake AMI: protocol error from %s: %s", session.peer, exc)
        except (ConnectionError, OSError):
            pass
        finally:
            self.sessions.discard(session)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            if task is not None:
                self._tasks.discard(task)

    def _handle(self, session: AmiSession, request: AmiMessage) -> bool:
        """Answer one action; False when the session must end."""
        self.actions.append(request)
        session.actions.append(request)
        action = (request.action or "").strip()
        lowered = action.lower()
        if not action:
            session.send([ami_response(request, "Error", "Missing action in request")])
            return True
        if lowered == "login":
            return self._login(session, request)
        if lowered == "logoff":
            session.send([ami_response(request, "Goodbye", "Thanks for all the fish.")])
            session.writer.close()
            return False
        if not session.authenticated:
            session.send([ami_response(request, "Error", "Permission denied")])
            return True
        if lowered == "ping":
            now = time.time()
            session.send(
                [ami_response(request, fields=(("Ping", "Pong"), ("Timestamp", f"{now:.6f}")))]
            )
            return True
        if lowered == "filter":
            operation = (request.get("Operation") or "").lower()
            expression = request.get("Filter") or ""
            if operation != "add" or not expression or expression.startswith("!"):
                session.send([ami_response(request, "Error", "Unsupported filter")])
                return True
            try:
                session.filters.append(re.compile(expression))
            except re.error:
                session.send([ami_response(request, "Error", "Filter Not Added")])
                return True
            session.send([ami_response(request, "Success", "Filter Added Successfully")])
            return True
        if lowered == "events":
            mask = (request.get("EventMask") or "on").lower()
            session.events_on = mask not in ("off", "none", "")
            session.send([ami_response(request, "Success", None, (("Events", mask),))])
            return True
        answer = self.handler(request)
        if answer is None:
            text = (
                f"Invalid/unknown command: {action}. "
                "Use Action: ListCommands to show available commands."
            )
            answer = [ami_response(request, "Error", text)]
        session.send(answer)
        return True

    def _login(self, session: AmiSession, request: AmiMessage) -> bool:
        if request.get("Username") != self.username or request.get("Secret") != self.secret:
            self.failed_logins += 1
            session.send([ami_response(request, "Error", "Authentication failed")])
            session.writer.close()  # manager.c ends the session after a failed login
            return False
        session.authenticated = True
        session.username = self.username
        events = (request.get("Events") or "on").lower()
        session.events_on = events not in ("off", "none")
        self.logins += 1
        out = [ami_response(request, "Success", "Authentication accepted")]
        if session.events_on and self.booted:
            uptime = str(int(time.time() - self.started_at))
            out.append(
                ami_event(
                    "FullyBooted",
                    (("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")),
                    privilege="system,all",
                    stamped=False,
                )
            )
        session.send(out)
        return True
