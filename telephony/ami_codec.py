"""Asterisk Manager Interface (AMI) wire codec: pure, sans-IO.

Bytes go in, :class:`AmiMessage` values come out; nothing here touches a
socket or a clock. The framing, as recorded from a real Asterisk 22:

* the server first sends a banner line ``Asterisk Call Manager/11.0.0\\r\\n``
  with *no* blank line after it;
* every other message is ``Key: Value\\r\\n`` lines ended by an empty line;
  keys may repeat (``Variable``, ``Output``) and order matters, so a message
  keeps its fields as an ordered tuple of pairs;
* a message with an ``Event`` field is an event, even when it also carries
  ``Response`` (``OriginateResponse`` does); otherwise ``Response`` makes it
  a response to the action with the same ``ActionID``;
* list actions answer ``EventList: start``, then events carrying the
  ActionID, then an event with ``EventList: Complete``
  (:class:`EventListCollector`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

from telephony.errors import AmiProtocolError

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_MESSAGE_BYTES",
    "AmiMessage",
    "AmiParser",
    "EventList",
    "EventListCollector",
    "encode_action",
    "encode_fields",
]

#: Longest line accepted (Asterisk itself reads 1 KiB lines; a line this long is garbage).
MAX_LINE_BYTES = 64 * 1024
#: Largest message accepted (``Command`` output can be long, but not unbounded).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AmiMessage:
    """One AMI message: ordered ``(key, value)`` pairs, repeated keys kept."""

    fields: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        """Value of the first field named ``key`` (case-insensitive), else ``default``."""
        for k, v in self.fields:
            if k == key:
                return v
        lowered = key.lower()
        for k, v in self.fields:
            if k.lower() == lowered:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of the fields named ``key`` (case-insensitive), in order."""
        lowered = key.lower()
        return [v for k, v in self.fields if k.lower() == lowered]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    @property
    def event(self) -> str | None:
        """The ``Event`` name, or None for a response."""
        if self.fields and self.fields[0][0] == "Event":
            return self.fields[0][1]
        return self.get("Event")

    @property
    def response(self) -> str | None:
        """``Response`` of a response (``Success``, ``Error``, ``Goodbye``...); None for events."""
        if self.event is not None:
            return None
        return self.get("Response")

    @property
    def is_event(self) -> bool:
        return self.event is not None

    @property
    def is_response(self) -> bool:
        return self.response is not None

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def action(self) -> str | None:
        """The ``Action`` name when this message is a request (server side)."""
        return self.get("Action")

    def encode(self) -> bytes:
        """Wire bytes: ``Key: Value\\r\\n`` lines and the closing empty line."""
        return encode_fields(self.fields)

    def to_dict(self) -> dict[str, str]:
        """First value of each key; handy for logs and assertions (repeats are lost)."""
        out: dict[str, str] = {}
        for k, v in self.fields:
            out.setdefault(k, v)
        return out


def _check_field(key: str, value: str) -> None:
    if not key or ":" in key or key != key.strip() or "\r" in key or "\n" in key:
        raise AmiProtocolError(f"invalid AMI header name {key!r}")
    if "\r" in value or "\n" in value:
        # A CR/LF in a value would let the caller inject headers or whole actions.
        raise AmiProtocolError(f"CR/LF in the value of AMI header {key!r}")


def encode_fields(fields: Sequence[tuple[str, str]] | Mapping[str, str]) -> bytes:
    """Encode fields as one AMI message; CR/LF in a key or value raises AmiProtocolError."""
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    parts: list[str] = []
    for key, value in pairs:
        _check_field(key, value)
        parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def encode_action(
    name: str,
    action_id: str,
    fields: Mapping[str, str] | Sequence[tuple[str, str]] = (),
) -> bytes:
    """Encode an action: ``Action``, ``ActionID``, then ``fields`` in order.

    The layout matches what the recorded client sent to Asterisk 22. Values with
    CR or LF raise :class:`AmiProtocolError` (header injection).
    """
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    return encode_fields([("Action", name), ("ActionID", action_id), *pairs])


class AmiParser:
    """Incremental AMI decoder: :meth:`feed` bytes, get complete messages back.

    ``expect_banner`` (client side): the first line, when it has no colon, is the
    server's banner and is stored in :attr:`banner`. The server side (parsing
    actions) passes ``expect_banner=False``.

    Lines end with CRLF; bare LF is tolerated. A line without a colon is a
    protocol error, except in a legacy ``Response: Follows`` command output,
    where such lines become ``Output`` fields and ``--END COMMAND--`` is dropped.
    Invalid UTF-8 is decoded with U+FFFD replacement, never raised. After an
    error the parser stays broken: the connection must be dropped.
    """

    __slots__ = ("_banner_pending", "_buf", "_error", "_pending_cr", "banner")

    def __init__(self, *, expect_banner: bool = True) -> None:
        self.banner: str | None = None
        self._banner_pending = expect_banner
        self._buf = b""
        self._pending_cr = False
        self._error: AmiProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a message."""
        return len(self._buf) + (1 if self._pending_cr else 0)

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Add bytes; return every message they complete (possibly none)."""
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except AmiProtocolError as exc:
            self._error = exc
            raise

    def _feed(self, data: bytes) -> list[AmiMessage]:
        if self._pending_cr:
            data = b"\r" + data
            self._pending_cr = False
        if data.endswith(b"\r"):
            # The CR of a CRLF split across reads: wait for its LF.
            data = data[:-1]
            self._pending_cr = True
        buf = self._buf + data if self._buf else data
        # Asterisk always sends CRLF: split on it directly. Only a peer that sends
        # bare LF pays for normalising the buffer.
        if buf.count(b"\n") == buf.count(b"\r\n"):
            nl, msg_end, line_sep = b"\r\n", b"\r\n\r\n", "\r\n"
        else:
            buf = buf.replace(b"\r\n", b"\n")
            nl, msg_end, line_sep = b"\n", b"\n\n", "\n"

        if self._banner_pending:
            first_end = buf.find(nl)
            if first_end < 0:
                self._buf = buf
                self._check_tail()
                return []
            self._banner_pending = False
            first = buf[:first_end].decode("utf-8", "replace")
            if ":" not in first:
                self.banner = first
                buf = buf[first_end + len(nl) :]

        end = buf.rfind(msg_end)
        if end < 0:
            self._buf = buf
            self._check_tail()
            return []
        complete = buf[:end]
        self._buf = buf[end + len(msg_end) :]
        self._check_tail()
        if len(complete) > MAX_LINE_BYTES:
            self._check_lines(complete)
        parse = _parse_block
        block_sep = line_sep + line_sep
        return [
            parse(block, line_sep)
            if not block.startswith(line_sep)
            else parse(_strip_blank(block, line_sep), line_sep)
            for block in complete.decode("utf-8", "replace").split(block_sep)
            if block and block != line_sep
        ]

    def _check_tail(self) -> None:
        buf = self._buf
        if len(buf) > MAX_LINE_BYTES and len(buf) - buf.rfind(b"\n") - 1 > MAX_LINE_BYTES:
            raise AmiProtocolError(f"AMI line longer than {MAX_LINE_BYTES} bytes")
        if len(buf) > MAX_MESSAGE_BYTES:
            raise AmiProtocolError(f"AMI message longer than {MAX_MESSAGE_BYTES} bytes")

    @staticmethod
    def _check_lines(complete: bytes) -> None:
        for line in complete.split(b"\n"):  # LF ends every line in both modes
            if len(line) > MAX_LINE_BYTES:
                raise AmiProtocolError(f"AMI line longer than {MAX_LINE_BYTES} bytes")


_SPLIT = str.split


def _strip_blank(block: str, line_sep: str) -> str:
    while block.startswith(line_sep):
        block = block[len(line_sep) :]
    return block


def _parse_block(block: str, line_sep: str) -> AmiMessage:
    # Fast path, all in C: every line is "Key: Value" (what Asterisk always sends).
    # Each line splits at its first ": "; lines without one take the slow path,
    # which applies the same rule, so both paths agree on every input.
    lines = block.split(line_sep)
    pairs = tuple(map(tuple, map(_SPLIT, lines, repeat(": "), repeat(1))))
    if min(map(len, pairs)) == 2:
        return AmiMessage(pairs)  # type: ignore[arg-type]
    return _parse_block_slow(lines)


def _split_line(line: str) -> tuple[str, str, bool]:
    key, sep, value = line.partition(": ")
    if sep:
        return key, value, True
    key, sep, value = line.partition(":")
    return key, value, bool(sep)


def _parse_block_slow(lines: list[str]) -> AmiMessage:
    fields: list[tuple[str, str]] = []
    follows = False
    for line in lines:
        key, value, ok = _split_line(line)
        if follows:
            # Legacy CLI output (Asterisk < 14): raw lines until --END COMMAND--.
            if line == "--END COMMAND--":
                continue
            if ok and key.lower() in ("privilege", "actionid"):
                fields.append((key, value))
            else:
                fields.append(("Output", line))
            continue
        if ok:
            fields.append((key, value))
            if key.lower() == "response" and value.lower() == "follows":
                follows = True
            continue
        if not line:
            continue
        shown = line if len(line) <= 80 else line[:77] + "..."
        raise AmiProtocolError(f"AMI line without a colon: {shown!r}")
    if not fields:
        raise AmiProtocolError("empty AMI message")
    return AmiMessage(tuple(fields))


@dataclass(frozen=True, slots=True)
class EventList:
    """The result of a list action: its response, the events, the closing event."""

    response: AmiMessage
    events: tuple[AmiMessage, ...]
    complete: AmiMessage | None

    @property
    def failed(self) -> bool:
        return (self.response.response or "").lower() == "error"


class _PendingList:
    __slots__ = ("events", "response")

    def __init__(self) -> None:
        self.response: AmiMessage | None = None
        self.events: list[AmiMessage] = []


class EventListCollector:
    """Collects ``EventList: start`` ... ``EventList: Complete`` by ActionID.

    Sans-IO: :meth:`expect` an ActionID before sending the action, then
    :meth:`feed` every message whose ActionID :meth:`is_pending`; ``feed``
    returns the finished :class:`EventList` once the list is complete. A
    ``Response: Error`` (or a success without ``EventList: start``) finishes the
    list at once with no events.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[str, _PendingList] = {}

    def expect(self, action_id: str) -> None:
        self._pending[action_id] = _PendingList()

    def cancel(self, action_id: str) -> None:
        self._pending.pop(action_id, None)

    def is_pending(self, action_id: str | None) -> bool:
        return action_id is not None and action_id in self._pending

    def __len__(self) -> int:
        return len(self._pending)

    def feed(self, message: AmiMessage) -> EventList | None:
        """Account for one message of a pending list; return the list when it is done."""
        action_id = message.action_id
        if action_id is None or action_id not in self._pending:
            raise KeyError(f"no list action pending for ActionID {action_id!r}")
        state = self._pending[action_id]
        if message.is_event:
            marker = (message.get("EventList") or "").lower()
            if marker in ("complete", "cancelled"):
                del self._pending[action_id]
                response = state.response or message
                return EventList(response, tuple(state.events), message)
            state.events.append(message)
            return None
        # A response.
        if (message.get("EventList") or "").lower() == "start" and state.response is None:
            state.response = message
            return None
        del self._pending[action_id]
        return EventList(message, tuple(state.events), None)
