"""The FastAGI session rules, sans I/O: bytes in, events and bytes out.

:class:`AgiProtocol` is the server side of one FastAGI connection, in the
manner of the ``websockets`` library's ``Protocol``: the I/O layer feeds it
what the socket received (:meth:`~AgiProtocol.receive_data`,
:meth:`~AgiProtocol.receive_eof`), asks it to send commands
(:meth:`~AgiProtocol.send_command`), writes out
:meth:`~AgiProtocol.data_to_send` and acts on
:meth:`~AgiProtocol.events_received`. It never touches a socket, a clock or
an event loop, so every rule below is tested by feeding bytes
(``tests/telephony/test_agi_protocol.py``, which also replays the Asterisk 22
recordings); :mod:`telephony.agi_server` is the asyncio adapter around it.

The rules it owns (lines and replies themselves are parsed by
:mod:`telephony.agi_codec`):

* the request header (``agi_*`` lines up to the blank line) comes first and
  whole: no command can be sent before it, and bytes that are not a header
  line are a :class:`ProtocolViolation`;
* one command in flight: a reply belongs to the oldest command sent and not
  yet answered. A command whose sender gave up (:meth:`~AgiProtocol.abandon`:
  a timeout, a cancellation) stays in line, so its late reply is matched to
  it and dropped and the replies after it stay in step; only then may the
  next command be sent;
* ``HANGUP`` is a notice, never a reply: it may come before the reply to the
  command in flight (as over SIP: ``HANGUP`` then ``511``) or after it, or
  while nothing is in flight. It yields :class:`HungUp` once; from then on
  only commands Asterisk runs on a dead channel (``dead_ok``) may be sent;
* ``511`` (dead channel) is a reply *and* a hang-up;
* ``520-`` multi-line usage text is one reply, ending at its closing line;
* the interim ``100 result=0 Trying...`` (``GOSUB``) is not the reply: it
  yields :class:`InterimReply` and the command stays in flight;
* a reply while nothing is in flight, a line over 8192 bytes or a line that is
  neither a reply nor ``HANGUP`` is a :class:`ProtocolViolation`: the
  connection must be dropped, and nothing more is read;
* the peer closing (:meth:`~AgiProtocol.receive_eof`) yields one
  :class:`ConnectionClosed` naming the commands left unanswered and whether
  it closed in the middle of a reply (or of the header).
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from dataclasses import dataclass

from telephony.agi_codec import (
    AgiHeaderParser,
    AgiReply,
    AgiReplyParser,
    AgiRequest,
    HangupNotice,
    encode_command,
)
from telephony.errors import (
    AgiCommandError,
    AgiDeadChannel,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiStateError,
    AgiUsageError,
    CallerHangup,
)

__all__ = [
    "AgiCommand",
    "AgiEvent",
    "AgiProtocol",
    "AgiState",
    "ConnectionClosed",
    "HangupCause",
    "HungUp",
    "InterimReply",
    "ProtocolViolation",
    "ReplyReceived",
    "RequestReceived",
    "check_reply",
]


class AgiState(enum.StrEnum):
    """Where a FastAGI connection is."""

    HEADER = "header"  # reading the agi_* request header
    OPEN = "open"  # header read: commands and replies
    CLOSED = "closed"  # closed by either side, or dropped: nothing more is read or sent


class HangupCause(enum.StrEnum):
    """How the protocol learnt that the caller hung up."""

    NOTICE = "notice"  # the unsolicited HANGUP line
    DEAD_CHANNEL = "dead_channel"  # a 511 reply


@dataclass(frozen=True, slots=True)
class AgiCommand:
    """A command sent on the wire. ``number`` counts from 1 in sending order;
    ``text`` is the line as sent, without its newline (``STREAM FILE beep ""``)."""

    number: int
    text: str


# ---- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """The request header is complete; commands may be sent from now on."""

    request: AgiRequest


@dataclass(frozen=True, slots=True)
class ReplyReceived:
    """The final reply (200, 510, 511, 520, ...) to ``command``."""

    command: AgiCommand
    reply: AgiReply


@dataclass(frozen=True, slots=True)
class InterimReply:
    """``100 result=0 Trying...`` for ``command``: its final reply is still to come."""

    command: AgiCommand
    reply: AgiReply


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller hung up (emitted once per connection)."""

    cause: HangupCause


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer broke the protocol; drop the connection. ``reason`` is safe to log."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the connection.

    ``phase`` is the state it closed in (:attr:`AgiState.HEADER`: before the
    header was complete), ``unanswered`` the commands that will never get their
    reply (abandoned ones excluded), ``truncated`` whether part of a header line
    or reply (a ``520-`` block, a line without its newline) was cut off.
    """

    phase: AgiState
    unanswered: tuple[AgiCommand, ...]
    truncated: bool


AgiEvent = (
    RequestReceived | ReplyReceived | InterimReply | HungUp | ProtocolViolation | ConnectionClosed
)


# ---- the protocol ---------------------------------------------------------------------


class AgiProtocol:
    """The server side of one FastAGI connection; see the module docstring.

    Methods never raise for what the peer sends (that becomes a
    :class:`ProtocolViolation` event); :meth:`send_command` raises for what the
    caller of this object does wrong.
    """

    __slots__ = (
        "_abandoned",
        "_events",
        "_header",
        "_in_flight",
        "_numbers",
        "_out",
        "_replies",
        "bytes_received",
        "hung_up",
        "request",
        "state",
    )

    def __init__(self) -> None:
        self.state = AgiState.HEADER
        #: The request header, once :class:`RequestReceived` was emitted.
        self.request: AgiRequest | None = None
        #: True once the caller hung up (``HANGUP`` notice or ``511``).
        self.hung_up = False
        #: Bytes received so far (for the log line of a peer that gives up early).
        self.bytes_received = 0
        self._header = AgiHeaderParser()
        self._replies = AgiReplyParser()
        # Commands sent and not yet answered, oldest first; abandoned ones included
        # so their late replies are matched to them and dropped.
        self._in_flight: deque[AgiCommand] = deque()
        self._abandoned: set[AgiCommand] = set()
        self._numbers = itertools.count(1)
        self._events: list[AgiEvent] = []
        self._out: list[bytes] = []

    def __repr__(self) -> str:
        return f"<AgiProtocol {self.state} in_flight={len(self._in_flight)}>"

    # ---- input ---------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes received from Asterisk; ignored once closed."""
        if self.state is AgiState.CLOSED or not data:
            return
        self.bytes_received += len(data)
        try:
            if self.state is AgiState.HEADER:
                request = self._header.feed(data)
                if request is None:
                    return
                data = self._header.remaining
                self.request = request
                self.state = AgiState.OPEN
                self._events.append(RequestReceived(request))
            for message in self._replies.feed(data):
                self._route(message)
                if self.state is AgiState.CLOSED:
                    return
        except AgiProtocolError as exc:
            self._violation(str(exc))

    def receive_eof(self) -> None:
        """Asterisk closed its side: emit :class:`ConnectionClosed` (once)."""
        if self.state is AgiState.CLOSED:
            return
        phase = self.state
        truncated = self._replies.pending if phase is AgiState.OPEN else self.bytes_received > 0
        self._events.append(ConnectionClosed(phase, self._forget_in_flight(), truncated))

    def close(self) -> tuple[AgiCommand, ...]:
        """This side closes the connection; returns the commands left unanswered.

        Nothing more is read or sent; no event is emitted (the closer knows).
        """
        if self.state is AgiState.CLOSED:
            return ()
        return self._forget_in_flight()

    # ---- output --------------------------------------------------------------------

    def send_command(self, *words: str, dead_ok: bool = False) -> AgiCommand:
        """Queue one command line (words quoted by :func:`~telephony.agi_codec.encode_command`).

        Raises :class:`~telephony.errors.AgiProtocolError` for words that
        cannot go on the wire (a line break, a line Asterisk would split);
        :class:`~telephony.errors.CallerHangup` once the connection is closed,
        or the caller hung up and ``dead_ok`` is false (Asterisk still runs
        ``GET``/``SET VARIABLE``, ``VERBOSE``, ``EXEC`` on a dead channel);
        :class:`~telephony.errors.AgiStateError` before the header is complete
        or while another command awaits its reply.
        """
        line = encode_command(*words)
        text = line[:-1].decode()
        if self.state is AgiState.CLOSED:
            raise CallerHangup(f"connection closed before {text!r}")
        if self.state is AgiState.HEADER:
            raise AgiStateError(f"{text!r} before the AGI request header is complete")
        if self.hung_up and not dead_ok:
            raise CallerHangup(f"caller hung up before {text!r}")
        waiting = self.awaiting
        if waiting is not None:
            raise AgiStateError(f"{text!r} while {waiting.text!r} awaits its reply")
        command = AgiCommand(next(self._numbers), text)
        self._in_flight.append(command)
        self._out.append(line)
        return command

    def abandon(self, command: AgiCommand) -> None:
        """The sender of ``command`` stopped waiting: drop its reply when it comes.

        The next command may be sent at once; replies stay in step.
        """
        if command in self._in_flight:
            self._abandoned.add(command)

    def data_to_send(self) -> bytes:
        """The bytes to write to Asterisk now (and forget)."""
        out, self._out = b"".join(self._out), []
        return out

    def events_received(self) -> list[AgiEvent]:
        """The events produced since the last call, in order (and forget them)."""
        events, self._events = self._events, []
        return events

    # ---- state ---------------------------------------------------------------------

    @property
    def awaiting(self) -> AgiCommand | None:
        """The command whose reply someone is waiting for, if any."""
        for command in self._in_flight:
            if command not in self._abandoned:
                return command
        return None

    # ---- internals -----------------------------------------------------------------

    def _route(self, message: AgiReply | HangupNotice) -> None:
        if isinstance(message, HangupNotice):
            self._hang_up(HangupCause.NOTICE)
            return
        if message.interim:
            # Nothing in flight: a stray interim line carries nothing to act on.
            if self._in_flight and self._in_flight[0] not in self._abandoned:
                self._events.append(InterimReply(self._in_flight[0], message))
            return
        if message.status == 511:
            self._hang_up(HangupCause.DEAD_CHANNEL)
        if not self._in_flight:
            self._violation(f"reply with no command in flight: {message.text[:80]!r}")
            return
        command = self._in_flight.popleft()
        if command in self._abandoned:
            self._abandoned.discard(command)  # the late reply of a command given up on
            return
        self._events.append(ReplyReceived(command, message))

    def _hang_up(self, cause: HangupCause) -> None:
        if not self.hung_up:
            self.hung_up = True
            self._events.append(HungUp(cause))

    def _violation(self, reason: str) -> None:
        self._forget_in_flight()
        self._events.append(ProtocolViolation(reason))

    def _forget_in_flight(self) -> tuple[AgiCommand, ...]:
        self.state = AgiState.CLOSED
        unanswered = tuple(c for c in self._in_flight if c not in self._abandoned)
        self._in_flight.clear()
        self._abandoned.clear()
        self._out.clear()
        return unanswered


#: Non-200 statuses and the error each raises (any other: AgiCommandError).
_STATUS_ERRORS: dict[int, type[AgiCommandError]] = {
    510: AgiInvalidCommand,
    511: AgiDeadChannel,
    520: AgiUsageError,
}


def check_reply(reply: AgiReply, command: str) -> AgiReply:
    """Return a ``200`` reply; raise the error its status maps to otherwise."""
    if reply.status == 200:
        return reply
    raise _STATUS_ERRORS.get(reply.status, AgiCommandError)(reply.status, reply.text, command)
