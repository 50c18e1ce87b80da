"""FastAGI wire codec: pure bytes in, typed messages out (no sockets, no asyncio).

Both directions are covered so the ACD (the FastAGI *server*) and the fake
Asterisk (the FastAGI *client*) share one definition of the protocol:

* Asterisk -> ACD: the request header (:class:`AgiHeaderParser`, built with
  :func:`encode_header`) and the replies (:class:`AgiReplyParser`, built with
  :func:`encode_reply`), including the unsolicited ``HANGUP`` notice.
* ACD -> Asterisk: one command per line (:func:`encode_command`, read back
  with :func:`decode_command` / :class:`AgiCommandParser`).

Wire facts followed here come from Asterisk's ``res/res_agi.c`` and the
recordings in ``shared/fixtures/asterisk-22``: ``parse_args()`` splits a
command on spaces and tabs, ``"`` toggles quoting and ``\\`` escapes the next
character; Asterisk reads at most ``AGI_BUF_LEN - 1`` (2047) bytes of one
command line and treats the rest as the *next* command, so longer commands are
refused rather than sent; ``520-`` usage text is sent verbatim between the
``520-`` and ``520 End of proper usage.`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote

from telephony.errors import AgiProtocolError

__all__ = [
    "DEAD_CHANNEL_TEXT",
    "HANGUP_NOTICE",
    "INVALID_COMMAND_TEXT",
    "MAX_COMMAND_BYTES",
    "MAX_LINE_BYTES",
    "USAGE_END_TEXT",
    "AgiCommandParser",
    "AgiHeaderParser",
    "AgiReply",
    "AgiReplyParser",
    "AgiRequest",
    "HangupNotice",
    "decode_command",
    "encode_command",
    "encode_header",
    "encode_reply",
]

#: Longest line accepted from a peer (header or reply), newline excluded.
MAX_LINE_BYTES = 8192
#: Longest command line Asterisk reads whole (``AGI_BUF_LEN`` 2048 minus the NUL),
#: newline included. A longer line would be split into two commands.
MAX_COMMAND_BYTES = 2047
#: ``parse_args()`` keeps at most ``MAX_ARGS - 1`` (127) words.
MAX_COMMAND_WORDS = 127
#: A real header has ~25 lines plus the ``agi_arg_N`` (at most 127); be generous.
MAX_HEADER_LINES = 512
MAX_HEADER_BYTES = 256 * 1024
#: Upper bound for one multi-line (``520-``) reply.
MAX_MULTILINE_LINES = 1000
MAX_MULTILINE_BYTES = 256 * 1024

HANGUP_NOTICE = b"HANGUP\n"
INVALID_COMMAND_TEXT = "Invalid or unknown command"
DEAD_CHANNEL_TEXT = "Command Not Permitted on a dead channel or intercept routine"
USAGE_INTRO_TEXT = "Invalid command syntax.  Proper usage follows:"
USAGE_END_TEXT = "End of proper usage."
INTERIM_TEXT = "Trying..."

_HEADER_KEY = re.compile(rb"agi_[A-Za-z0-9_]+")
_ARG_KEY = re.compile(r"arg_([0-9]{1,6})")
_STATUS_LINE = re.compile(r"([0-9]{3})([ -])(.*)", re.DOTALL)
_INTEGER = re.compile(r"-?[0-9]{1,18}")
# Characters after which parse_args() would no longer see one plain word.
_NEEDS_QUOTING = re.compile(r'[ \t"\\]')


# ---- request header (Asterisk -> server) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The header Asterisk sends when it opens a FastAGI connection.

    ``env`` holds every ``agi_*`` field with the prefix removed
    (``env["channel"]``); ``script`` is the path of ``agi_network_script``
    (``"inbound"``, ``"agent/login"``; ``""`` when the URL had no path);
    ``query`` its parsed query string; ``args`` the ``agi_arg_N`` in order.
    """

    env: Mapping[str, str]
    script: str = ""
    query: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    args: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AgiRequest:
        """Build a request from header fields (keys without ``agi_``)."""
        frozen_env = MappingProxyType(dict(env))
        raw_script = frozen_env.get("network_script", "")
        path, _, query_string = raw_script.partition("?")
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        numbered: list[tuple[int, str]] = []
        for key, value in frozen_env.items():
            match = _ARG_KEY.fullmatch(key)
            if match is not None:
                numbered.append((int(match.group(1)), value))
        numbered.sort()
        return cls(
            env=frozen_env,
            script=unquote(path).strip("/"),
            query=MappingProxyType(query),
            args=tuple(value for _, value in numbered),
        )

    @property
    def channel(self) -> str:
        """``agi_channel``, e.g. ``PJSIP/1001-00000004``."""
        return self.env.get("channel", "")

    @property
    def uniqueid(self) -> str:
        """``agi_uniqueid`` of the channel."""
        return self.env.get("uniqueid", "")

    @property
    def callerid(self) -> str:
        """``agi_callerid`` (the number; ``unknown`` when Asterisk has none)."""
        return self.env.get("callerid", "")

    @property
    def calleridname(self) -> str:
        """``agi_calleridname``."""
        return self.env.get("calleridname", "")

    @property
    def language(self) -> str:
        """``agi_language`` (prompt language), e.g. ``en``."""
        return self.env.get("language", "")

    @property
    def request(self) -> str:
        """``agi_request``: the full AGI URL, e.g. ``agi://10.0.0.5:4573/inbound?queue=x``."""
        return self.env.get("request", "")


class AgiHeaderParser:
    """Incremental parser for the FastAGI request header.

    Feed it bytes as they arrive; :meth:`feed` returns ``None`` until the blank
    line that ends the header, then the :class:`AgiRequest`. Bytes after the
    header are kept in :attr:`remaining`. Raises :class:`AgiProtocolError` for a
    line over :data:`MAX_LINE_BYTES`, a line that is not ``agi_name: value``,
    an empty header, or a header that is too large.

    Keys must be ASCII; values are decoded as UTF-8 with undecodable bytes
    replaced, because a caller-ID name in Latin-1 must not cost the caller
    their call.
    """

    __slots__ = ("_buffer", "_env", "_lines", "_request", "_size", "remaining")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._env: dict[str, str] = {}
        self._lines = 0
        self._size = 0
        self._request: AgiRequest | None = None
        self.remaining = b""

    @property
    def done(self) -> bool:
        """True once the blank line has been seen."""
        return self._request is not None

    def feed(self, data: bytes) -> AgiRequest | None:
        """Consume ``data``; return the request once the header is complete."""
        if self._request is not None:
            self.remaining += data
            return self._request
        self._size += len(data)
        self._buffer += data
        start = 0
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > MAX_LINE_BYTES:
                raise AgiProtocolError(f"header line longer than {MAX_LINE_BYTES} bytes")
            if not line:
                if not self._env:
                    raise AgiProtocolError("empty AGI header")
                self.remaining = bytes(buffer[start:])
                self._buffer = bytearray()
                self._request = AgiRequest.from_env(self._env)
                return self._request
            self._add_line(line)
        del buffer[:start]
        if len(buffer) > MAX_LINE_BYTES:
            raise AgiProtocolError(f"header line longer than {MAX_LINE_BYTES} bytes")
        if self._size > MAX_HEADER_BYTES:
            raise AgiProtocolError(f"AGI header larger than {MAX_HEADER_BYTES} bytes")
        return None

    def _add_line(self, line: bytes) -> None:
        self._lines += 1
        if self._lines > MAX_HEADER_LINES:
            raise AgiProtocolError(f"AGI header has more than {MAX_HEADER_LINES} lines")
        key, sep, value = line.partition(b": ")
        if not sep:
            # Asterisk writes "%s: %s\n"; tolerate a proxy that trimmed the
            # space of an empty value ("agi_accountcode:").
            if line.endswith(b":"):
                key, value = line[:-1], b""
            else:
                raise AgiProtocolError(f"not an AGI header line: {_preview(line)}")
        if _HEADER_KEY.fullmatch(key) is None:
            raise AgiProtocolError(f"not an AGI header field: {_preview(key)}")
        self._env[key[4:].decode("ascii")] = value.decode("utf-8", "replace")


def encode_header(env: Mapping[str, str]) -> bytes:
    """Encode a request header as Asterisk does: ``agi_<key>: <value>\\n`` lines, blank line.

    Keys are given without the ``agi_`` prefix (as in :attr:`AgiRequest.env`).
    Raises :class:`AgiProtocolError` for a key that is not ``[A-Za-z0-9_]+`` or
    a value holding a line break.
    """
    parts: list[str] = []
    for key, value in env.items():
        if _HEADER_KEY.fullmatch(b"agi_" + key.encode("utf-8", "replace")) is None:
            raise AgiProtocolError(f"invalid AGI header key: {key!r}")
        if "\n" in value or "\r" in value:
            raise AgiProtocolError(f"AGI header value for {key!r} contains a line break")
        parts.append(f"agi_{key}: {value}\n")
    if not parts:
        raise AgiProtocolError("an AGI header needs at least one field")
    parts.append("\n")
    return _encode("".join(parts))


# ---- replies (Asterisk -> server) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply from Asterisk.

    ``status`` is 200 on success, 100 for the interim ``Trying...`` that
    ``GOSUB`` sends, 510/511/520 on errors. ``result`` is the integer after
    ``result=`` (0 when it is absent or not an integer: ``GET DATA`` can answer
    ``result=*12`` or ``result= (timeout)``; ``result_text`` keeps the exact
    text). ``data`` is the text inside the parentheses, up to the *last* ``)``
    (a variable's value may itself contain parentheses). ``text`` is the whole
    raw reply, the lines of a multi-line reply joined with ``\\n``.
    """

    status: int
    result: int
    data: str | None
    endpos: int | None
    text: str
    result_text: str = ""
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        """True for a ``200`` reply."""
        return self.status == 200

    @property
    def interim(self) -> bool:
        """True for ``100 result=0 Trying...``: the real reply is still to come."""
        return self.status == 100


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """The unsolicited ``HANGUP`` line: the caller's channel has hung up.

    It is a notice, not a reply: it can arrive while no command is in flight,
    or just before the reply (often ``511``) to the command in flight.
    """

    text: str = "HANGUP"


AgiMessage = AgiReply | HangupNotice


class AgiReplyParser:
    """Incremental parser for what Asterisk sends after the header.

    :meth:`feed` returns every complete message in order: :class:`AgiReply`
    (interim ``100`` replies included, marked :attr:`AgiReply.interim`) and
    :class:`HangupNotice`. Partial lines wait for the next feed. Raises
    :class:`AgiProtocolError` on a line over :data:`MAX_LINE_BYTES` or a line
    that is neither a status line nor ``HANGUP``; after that the parser is in
    an undefined state and the connection must be dropped.
    """

    __slots__ = ("_buffer", "_multi", "_multi_size", "_multi_status")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._multi: list[str] | None = None
        self._multi_status = 0
        self._multi_size = 0

    @property
    def pending(self) -> bool:
        """True if bytes of an incomplete message are buffered."""
        return bool(self._buffer) or self._multi is not None

    def feed(self, data: bytes) -> list[AgiReply | HangupNotice]:
        """Consume ``data``; return the messages it completes."""
        buffer = self._buffer
        buffer += data
        messages: list[AgiReply | HangupNotice] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            raw = bytes(buffer[start:end])
            start = end + 1
            if len(raw) > MAX_LINE_BYTES:
                raise AgiProtocolError(f"reply line longer than {MAX_LINE_BYTES} bytes")
            line = raw.decode("utf-8", "replace")
            if line.endswith("\r"):
                line = line[:-1]
            message = self._line(line)
            if message is not None:
                messages.append(message)
        del buffer[:start]
        if len(buffer) > MAX_LINE_BYTES:
            raise AgiProtocolError(f"reply line longer than {MAX_LINE_BYTES} bytes")
        return messages

    def _line(self, line: str) -> AgiReply | HangupNotice | None:
        if self._multi is not None:
            return self._multi_line(line)
        if line == "HANGUP":
            return HangupNotice()
        if not line:
            return None  # Asterisk never sends one; a stray blank line carries nothing.
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise AgiProtocolError(f"not an AGI reply: {_preview(line)}")
        status = int(match.group(1))
        if match.group(2) == "-":
            self._multi = [line]
            self._multi_status = status
            self._multi_size = len(line)
            return None
        return _single_reply(status, match.group(3), line)

    def _multi_line(self, line: str) -> AgiReply | None:
        assert self._multi is not None
        lines = self._multi
        lines.append(line)
        self._multi_size += len(line) + 1
        if len(lines) > MAX_MULTILINE_LINES or self._multi_size > MAX_MULTILINE_BYTES:
            raise AgiProtocolError("multi-line AGI reply too long")
        status = self._multi_status
        final = f"{status} "
        # Asterisk prints the usage text with "%s"; when it lacks a final newline
        # the closing line is glued to the last usage line.
        if line.startswith(final) or line.endswith(final + USAGE_END_TEXT):
            self._multi = None
            return AgiReply(status=status, result=-1, data=None, endpos=None, text="\n".join(lines))
        return None


def _single_reply(status: int, rest: str, line: str) -> AgiReply:
    if not rest.startswith("result="):
        if status == 200:
            raise AgiProtocolError(f"200 reply without result=: {_preview(line)}")
        return AgiReply(status=status, result=-1, data=None, endpos=None, text=line)
    token, _, after = rest[7:].partition(" ")
    result = int(token) if _INTEGER.fullmatch(token) else 0
    data: str | None = None
    if after.startswith("("):
        close = after.rfind(")")
        if close < 0:
            data, after = after[1:], ""
        else:
            data, after = after[1:close], after[close + 1 :]
    extra: dict[str, str] = {}
    for word in after.split():
        key, sep, value = word.partition("=")
        if sep:
            extra[key] = value
    endpos_text = extra.get("endpos")
    endpos = (
        int(endpos_text) if endpos_text is not None and _INTEGER.fullmatch(endpos_text) else None
    )
    return AgiReply(
        status=status,
        result=result,
        data=data,
        endpos=endpos,
        text=line,
        result_text=token,
        extra=MappingProxyType(extra),
    )


def encode_reply(
    result: int | str = 0,
    data: str | None = None,
    endpos: int | None = None,
    *,
    status: int = 200,
    message: str | None = None,
) -> bytes:
    """Encode a reply as Asterisk sends it (for the fake Asterisk and tests).

    * ``status=200``: ``200 result=<result>[ (<data>)][ endpos=<endpos>]``;
    * ``status=100``: the interim ``100 result=0 Trying...``;
    * ``status=510`` / ``511``: one line with Asterisk's text (or ``message``);
    * ``status=520``: with ``message``, the multi-line usage form
      (``520-...``, the usage lines, ``520 End of proper usage.``); without,
      the one-line ``520 Invalid command syntax.  Proper usage not available.``;
    * any other status: ``<status> <message>``.
    """
    if status == 200:
        text = f"200 result={result}"
        if data is not None:
            text += f" ({data})"
        if endpos is not None:
            text += f" endpos={endpos}"
        lines = [text]
    elif status == 100:
        lines = [f"100 result={result} {message or INTERIM_TEXT}"]
    elif status == 510:
        lines = [f"510 {message or INVALID_COMMAND_TEXT}"]
    elif status == 511:
        lines = [f"511 {message or DEAD_CHANNEL_TEXT}"]
    elif status == 520 and message:
        lines = [f"520-{USAGE_INTRO_TEXT}", *message.split("\n"), f"520 {USAGE_END_TEXT}"]
    elif status == 520:
        lines = ["520 Invalid command syntax.  Proper usage not available."]
    else:
        lines = [f"{status} {message or ''}".rstrip()]
    for text in lines:
        if "\r" in text or (status != 520 and "\n" in text):
            raise AgiProtocolError("an AGI reply line cannot contain a line break")
    return _encode("\n".join(lines) + "\n")


# ---- commands (server -> Asterisk) ------------------------------------------------------


def _quote(word: str) -> str:
    if word and _NEEDS_QUOTING.search(word) is None:
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(*words: str) -> bytes:
    """Encode one AGI command line: ``encode_command("STREAM", "FILE", "beep", "")``.

    Each argument is one word as Asterisk's ``parse_args()`` will see it; a word
    that is empty or holds a space, tab, ``"`` or ``\\`` is double-quoted with
    ``"`` and ``\\`` escaped. Pass the verb as separate words (``"GET",
    "VARIABLE"``), never ``"GET VARIABLE"``. Raises :class:`AgiProtocolError`
    for a word holding a line break or NUL (a hostile caller-ID must never
    inject a second command), and for a line Asterisk would not read whole.
    """
    if not words:
        raise AgiProtocolError("an AGI command needs at least one word")
    if len(words) > MAX_COMMAND_WORDS:
        raise AgiProtocolError(f"an AGI command takes at most {MAX_COMMAND_WORDS} words")
    for word in words:
        if "\n" in word or "\r" in word or "\x00" in word:
            raise AgiProtocolError(f"AGI command word contains a line break or NUL: {word!r}")
    line = _encode(" ".join([_quote(word) for word in words]) + "\n")
    if len(line) > MAX_COMMAND_BYTES:
        raise AgiProtocolError(
            f"AGI command of {len(line)} bytes exceeds Asterisk's {MAX_COMMAND_BYTES}"
        )
    return line


def decode_command(line: bytes | str) -> tuple[str, ...]:
    """Split one command line into words exactly as Asterisk's ``parse_args()`` does."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if text.endswith("\n"):
        text = text[:-1]
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    in_word = False
    for char in text:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word = True
                current = []
            continue
        if char in " \t" and not quoted and not escaped:
            if in_word:
                words.append("".join(current))
                in_word = False
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if not in_word:
            in_word = True
            current = []
        current.append(char)
        escaped = False
    if in_word:
        words.append("".join(current))
    return tuple(words)


class AgiCommandParser:
    """Incremental parser for commands, for the Asterisk side (the fake Asterisk).

    :meth:`feed` returns the complete command lines as word tuples. Raises
    :class:`AgiProtocolError` for a line Asterisk would not read whole.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, ...]]:
        """Consume ``data``; return the commands it completes."""
        buffer = self._buffer
        buffer += data
        commands: list[tuple[str, ...]] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if end + 1 - start > MAX_COMMAND_BYTES:
                raise AgiProtocolError(f"AGI command longer than {MAX_COMMAND_BYTES} bytes")
            commands.append(decode_command(bytes(buffer[start:end])))
            start = end + 1
        del buffer[:start]
        if len(buffer) >= MAX_COMMAND_BYTES:
            raise AgiProtocolError(f"AGI command longer than {MAX_COMMAND_BYTES} bytes")
        return commands


def _encode(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:  # lone surrogates cannot go on the wire
        raise AgiProtocolError(f"text is not encodable as UTF-8: {exc.reason}") from None


def _preview(raw: bytes | str, limit: int = 60) -> str:
    """A short printable excerpt of peer bytes for error messages and logs."""
    return repr(raw[:limit]) + ("..." if len(raw) > limit else "")
