"""The FastAGI *client* side of the fake Asterisk: one simulated caller per call.

A :class:`FakeCall` connects to the ACD's FastAGI port, sends the request
header exactly as Asterisk 22 does (``agi_network: yes`` first, then
``agi_network_script``, ``agi_request``, ``agi_channel``, ...), and answers
each command line the way ``res/res_agi.c`` does, including:

* ``EXEC Dial``: rings a simulated agent; ``result=-1`` when the bridged agent
  hangs up (no ``g`` option), ``DIALSTATUS`` readable with ``GET VARIABLE``;
* the caller's hang-up (patience, :meth:`FakeCall.hangup`): the unsolicited
  ``HANGUP\\n`` notice at once, before the reply to the command in flight;
* a dead channel: ``511`` for the commands res_agi refuses on a dead channel
  (``GET``/``SET VARIABLE``, ``EXEC``, ``NOOP``, ``VERBOSE``, ``DATABASE`` stay
  allowed, as in res_agi's command table);
* after a hang-up, waiting (like Asterisk, which has no timeout) for the ACD to
  close the socket; the time it took is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from telephony.agi_codec import HANGUP_NOTICE, decode_command, encode_header, encode_reply
from telephony.fake.channel import FakeChannel
from telephony.fake.media import FakeMedia

__all__ = ["CallOutcome", "FakeCall", "Switch"]

log = logging.getLogger(__name__)

#: Commands res_agi still runs on a hung-up channel (``dead`` flag set in its table).
_DEAD_OK = frozenset(
    {
        "EXEC",
        "GET VARIABLE",
        "GET FULL VARIABLE",
        "SET VARIABLE",
        "NOOP",
        "VERBOSE",
        "ASYNCAGI BREAK",
    }
)
#: Two-word verbs (the rest are one word).
_TWO_WORD = frozenset(
    {
        "STREAM",
        "SAY",
        "GET",
        "SET",
        "WAIT",
        "CHANNEL",
        "DATABASE",
        "CONTROL",
        "RECORD",
        "RECEIVE",
        "SEND",
        "SPEECH",
        "TDD",
        "ASYNCAGI",
    }
)
_READ_LIMIT = 64 * 1024
#: Dialplan applications the fake runs as instant no-ops returning 0.
_SIMPLE_APPS = frozenset(
    {
        "answer",
        "noop",
        "set",
        "goto",
        "gosub",
        "ringing",
        "progress",
        "musiconhold",
        "startmusiconhold",
        "stopmusiconhold",
        "queuelog",
        "userevent",
    }
)


class CallOutcome(enum.StrEnum):
    """How a simulated call ended, from the caller's point of view."""

    ANSWERED = "answered"  # bridged to an agent at some point
    ABANDONED = "abandoned"  # the caller hung up before reaching an agent
    HUNG_UP_BY_ACD = "hung_up_by_acd"  # the ACD sent HANGUP before any agent answered
    CLOSED = "closed"  # the ACD closed the socket on a live, unanswered call
    FAILED = "failed"  # could not reach the ACD (the dialplan's AGISTATUS=FAILURE)


class Switch(Protocol):
    """What a call needs from the PBX it runs in (:class:`telephony.fake.pbx.FakePbx`).

    A protocol rather than an import, so the caller module sits below the PBX
    in the import graph.
    """

    agi_host: str
    agi_port: int
    connect_timeout: float
    linger_timeout: float
    prompt_seconds: float
    after_call_linger: float
    media: FakeMedia

    @property
    def broken_commands(self) -> Mapping[str, bytes]: ...

    def channel_up(self, channel: FakeChannel) -> None: ...

    def channel_down(self, channel: FakeChannel, cause: int = 16) -> None: ...

    def set_channel_state(self, channel: FakeChannel, state: int) -> None: ...

    def call_finished(self, call: FakeCall) -> None: ...

    async def after_agi(self, call: FakeCall) -> None: ...

    async def dial(self, call: FakeCall, endpoint: str, ring_timeout: float) -> tuple[str, int]: ...


class FakeCall:
    """One simulated caller; created by :meth:`telephony.fake.pbx.FakePbx.place_call`."""

    def __init__(
        self,
        switch: Switch,
        *,
        script: str,
        channel: FakeChannel,
        caller_id: str,
        caller_name: str,
        patience: float | None,
        dtmf: str,
        args: Sequence[str],
    ) -> None:
        self.switch = switch
        self.script = script
        self.channel = channel
        self.caller_id = caller_id
        self.caller_name = caller_name
        self.patience = patience
        self.dtmf = dtmf
        self.args = tuple(args)
        #: Every command line received from the ACD, exactly (without the newline).
        self.commands: list[str] = []
        #: Every line sent to the ACD after the header (replies and HANGUP notices).
        self.replies: list[str] = []
        self.outcome: CallOutcome | None = None
        #: Endpoint of the agent who answered (e.g. ``"1001"``).
        self.agent: str | None = None
        #: ``(endpoint, DIALSTATUS)`` for every ``EXEC Dial``.
        self.dial_attempts: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}
        self.music_class: str | None = None
        #: Prompts the ACD asked for that this Asterisk does not have.
        self.prompts_missing: list[str] = []
        #: The dialplan sent the caller to the Asterisk fallback queue after the AGI.
        self.fell_back = False
        #: Agent who answered the caller in the fallback queue.
        self.fallback_agent: str | None = None
        #: Asterisk hung in a Dial of this call (``FakeAsterisk.hang_on_dial``).
        self.hung = False
        self.connected_at: float | None = None
        self.answered_at: float | None = None
        self.hung_up_at: float | None = None
        self.hung_up_by: str | None = None  # "caller", "acd" or None
        self.acd_closed_at: float | None = None
        self.ended_at: float | None = None
        self.created_at = time.monotonic()
        self._dead = False
        self._bridged = False
        self._writer: asyncio.StreamWriter | None = None
        self._hangup_event = asyncio.Event()
        self._done = asyncio.Event()
        self._started = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []

    def __repr__(self) -> str:
        return f"<FakeCall {self.channel.name} {self.script!r} outcome={self.outcome}>"

    # ---- what tests look at ---------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def dead(self) -> bool:
        """True once the channel has hung up (caller or ACD)."""
        return self._dead

    @property
    def bridged(self) -> bool:
        return self._bridged

    @property
    def close_delay(self) -> float | None:
        """Seconds between the hang-up and the ACD closing the socket."""
        if self.hung_up_at is None or self.acd_closed_at is None:
            return None
        return max(0.0, self.acd_closed_at - self.hung_up_at)

    @property
    def closed_promptly(self) -> bool:
        """True when the ACD closed the socket within a second of the hang-up.

        Asterisk waits for that close with no timeout, so a late close ties up
        a channel. False when it never closed (the fake gave up after
        ``FakeAsterisk.linger_timeout``).
        """
        delay = self.close_delay
        return delay is not None and delay <= 1.0

    @property
    def wait_seconds(self) -> float | None:
        """From connection to bridge (answered) or to hang-up."""
        if self.connected_at is None:
            return None
        end = self.answered_at or self.hung_up_at or self.ended_at
        return None if end is None else end - self.connected_at

    async def wait_done(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until the call is over and its socket closed (TimeoutError otherwise)."""
        await asyncio.wait_for(self._done.wait(), timeout)

    async def hangup(self) -> None:
        """The caller hangs up now."""
        self._caller_hangup()

    # ---- the call ------------------------------------------------------------------

    def header_env(self) -> dict[str, str]:
        """The request header fields, in Asterisk 22's order (without ``agi_``)."""
        switch = self.switch
        env: dict[str, str] = {"network": "yes"}
        if self.script:
            env["network_script"] = self.script
        env["request"] = f"agi://{switch.agi_host}:{switch.agi_port}/{self.script}"
        env.update(
            {
                "channel": self.channel.name,
                "language": "en",
                "type": "PJSIP",
                "uniqueid": self.channel.uniqueid,
                "version": "22.10.1",
                "callerid": self.caller_id or "unknown",
                "calleridname": self.caller_name or "unknown",
                "callingpres": "0",
                "callingani2": "0",
                "callington": "0",
                "callingtns": "0",
                "dnid": self.channel.exten,
                "rdnis": "unknown",
                "context": self.channel.context,
                "extension": self.channel.exten,
                "priority": "2",
                "enhanced": "0.0",
                "accountcode": "",
                "threadid": str(140582746687168 + self.channel.seq),
            }
        )
        for index, arg in enumerate(self.args, start=1):
            env[f"arg_{index}"] = arg
        return env

    async def run(self) -> None:
        """Connect, send the header, serve commands until the ACD closes the socket."""
        switch = self.switch
        loop = asyncio.get_running_loop()
        try:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(switch.agi_host, switch.agi_port, limit=_READ_LIMIT),
                    switch.connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                log.info("fake call %s could not reach the ACD: %s", self.channel.name, exc)
                self.outcome = CallOutcome.FAILED
                return
            self._writer = writer
            self.connected_at = time.monotonic()
            switch.channel_up(self.channel)
            writer.write(encode_header(self.header_env()))
            self._started.set()
            if self.patience is not None:
                self._timers.append(loop.call_later(self.patience, self._patience_expired))
            try:
                await self._serve(reader, writer)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)
        finally:
            for timer in self._timers:
                timer.cancel()
            if self.outcome is None:
                self.outcome = CallOutcome.ANSWERED if self._bridged else CallOutcome.CLOSED
            self.ended_at = time.monotonic()
            if self.connected_at is not None:
                switch.channel_down(self.channel, cause=16)
            switch.call_finished(self)
            self._started.set()
            self._done.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                if self._dead:
                    # Asterisk waits forever; the fake gives up after linger_timeout.
                    linger = self.switch.linger_timeout - (
                        time.monotonic() - (self.hung_up_at or 0)
                    )
                    line = await asyncio.wait_for(reader.readline(), max(0.0, linger))
                else:
                    line = await reader.readline()
            except TimeoutError:
                log.warning("ACD never closed the FastAGI socket of %s", self.channel.name)
                return
            except (ConnectionError, OSError, ValueError):
                line = b""
            if not line or not line.endswith(b"\n"):
                self.acd_closed_at = time.monotonic()
                if not self._dead:
                    # The AGI ended on a live channel: the dialplan goes on
                    # (fallback queue, or hang up after an answered Dial).
                    self.outcome = CallOutcome.ANSWERED if self._bridged else CallOutcome.CLOSED
                    await self.switch.after_agi(self)
                return
            text = line[:-1].decode("utf-8", "replace")
            if text.endswith("\r"):
                text = text[:-1]
            self.commands.append(text)
            await self._execute(text)

    def _send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        self.replies.extend(data.decode("utf-8", "replace").splitlines())
        writer.write(data)

    # ---- hang-ups ------------------------------------------------------------------

    def _patience_expired(self) -> None:
        if not self._bridged:
            self._caller_hangup()

    def _caller_hangup(self) -> None:
        if self._dead or self._writer is None:
            return
        self._mark_dead("caller")
        if self.outcome is None:
            self.outcome = CallOutcome.ANSWERED if self._bridged else CallOutcome.ABANDONED
        self._send(HANGUP_NOTICE)

    def _mark_dead(self, by: str) -> None:
        self._dead = True
        self.hung_up_by = by
        self.hung_up_at = time.monotonic()
        self._hangup_event.set()

    async def _sleep_or_hangup(self, seconds: float) -> bool:
        """Sleep; True if the caller hung up meanwhile (the sleep is cut short)."""
        if self._dead:
            return True
        if seconds <= 0:
            return False
        waiter = asyncio.ensure_future(self._hangup_event.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)  # never eats a cancel
        finally:
            waiter.cancel()
        return self._dead

    # ---- commands ------------------------------------------------------------------

    async def _execute(self, line: str) -> None:
        words = decode_command(line)
        if not words:
            self._send(encode_reply(status=510))
            return
        verb = words[0].upper()
        if verb in _TWO_WORD and len(words) > 1:
            verb = f"{verb} {words[1].upper()}"
            if verb == "GET FULL" and len(words) > 2:
                verb = "GET FULL VARIABLE"
                args = words[3:]
            else:
                args = words[2:]
        else:
            args = words[1:]
        if verb == "WAIT FOR" and args and args[0].upper() == "DIGIT":
            args = args[1:]
        injected = self.switch.broken_commands.get(verb)
        if injected is not None:
            self._send(injected)
            return
        if self._dead and verb not in _DEAD_OK and not verb.startswith("DATABASE"):
            self._send(encode_reply(status=511))
            return
        handler = _HANDLERS.get(verb)
        if handler is None:
            self._send(encode_reply(status=510))
            return
        await handler(self, args)

    async def _answer(self, args: Sequence[str]) -> None:
        self.switch.set_channel_state(self.channel, 6)
        self._send(encode_reply(0))

    async def _hangup_cmd(self, args: Sequence[str]) -> None:
        self._send(encode_reply(1))
        self._mark_dead("acd")
        if self.outcome is None:
            self.outcome = CallOutcome.ANSWERED if self._bridged else CallOutcome.HUNG_UP_BY_ACD
        self._send(HANGUP_NOTICE)

    def _take_digit(self, escape: str) -> str | None:
        if self.dtmf and self.dtmf[0] in escape:
            digit, self.dtmf = self.dtmf[0], self.dtmf[1:]
            return digit
        return None

    async def _stream_file(self, args: Sequence[str]) -> None:
        if args and not self.switch.media.has_sound(args[0]):
            # res_agi: "File does not exist" -> result=-1 endpos=0, channel still up.
            self.prompts_missing.append(args[0])
            self._send(encode_reply(-1, endpos=0))
            return
        escape = args[1] if len(args) > 1 else ""
        digit = self._take_digit(escape)
        if digit is not None:
            self._send(encode_reply(ord(digit), endpos=800))
            return
        if await self._sleep_or_hangup(self.switch.prompt_seconds):
            self._send(encode_reply(-1, endpos=0))
            return
        self._send(encode_reply(0, endpos=3404))

    async def _say(self, args: Sequence[str]) -> None:
        escape = args[1] if len(args) > 1 else ""
        digit = self._take_digit(escape)
        if digit is not None:
            self._send(encode_reply(ord(digit)))
            return
        if await self._sleep_or_hangup(self.switch.prompt_seconds):
            self._send(encode_reply(-1))
            return
        self._send(encode_reply(0))

    async def _get_data(self, args: Sequence[str]) -> None:
        max_digits = 1024
        if len(args) > 2 and args[2].isdigit():
            max_digits = int(args[2])
        digits = ""
        while self.dtmf and len(digits) < max_digits:
            char, self.dtmf = self.dtmf[0], self.dtmf[1:]
            if char == "#":
                break
            digits += char
        if await self._sleep_or_hangup(self.switch.prompt_seconds):
            self._send(encode_reply(-1))
            return
        if digits:
            self._send(encode_reply(digits))
        else:
            self._send(b"200 result= (timeout)\n")

    async def _wait_for_digit(self, args: Sequence[str]) -> None:
        if self.dtmf:
            digit, self.dtmf = self.dtmf[0], self.dtmf[1:]
            self._send(encode_reply(ord(digit)))
            return
        timeout_ms = int(args[0]) if args and args[0].lstrip("-").isdigit() else 0
        wait = self.switch.prompt_seconds if timeout_ms < 0 else timeout_ms / 1000
        if await self._sleep_or_hangup(wait):
            self._send(encode_reply(-1))
            return
        self._send(encode_reply(0))

    async def _set_music(self, args: Sequence[str]) -> None:
        on = bool(args) and args[0].lower() == "on"
        self.music_class = (args[1] if len(args) > 1 else "default") if on else None
        self._send(encode_reply(0))

    async def _set_variable(self, args: Sequence[str]) -> None:
        if len(args) >= 2:
            self.variables[args[0]] = args[1]
        self._send(encode_reply(1))

    async def _get_variable(self, args: Sequence[str]) -> None:
        name = args[0] if args else ""
        value = self._variable(name)
        if value is None:
            self._send(encode_reply(0))
        else:
            self._send(encode_reply(1, value))

    def _variable(self, name: str) -> str | None:
        builtin = {
            "CALLERID(num)": self.caller_id,
            "CALLERID(name)": self.caller_name,
            "CHANNEL": self.channel.name,
            "UNIQUEID": self.channel.uniqueid,
        }
        if name in builtin:
            return builtin[name]
        return self.variables.get(name)

    async def _noop(self, args: Sequence[str]) -> None:
        self._send(encode_reply(0))

    async def _verbose(self, args: Sequence[str]) -> None:
        self._send(encode_reply(1))

    async def _channel_status(self, args: Sequence[str]) -> None:
        self._send(encode_reply(self.channel.state))

    async def _exec(self, args: Sequence[str]) -> None:
        if not args:
            self._send(encode_reply(-2))
            return
        app = args[0].lower()
        data = " ".join(args[1:])
        if self._dead:
            self._send(encode_reply(-1))
            return
        if app == "dial":
            await self._dial(data)
        elif app == "wait":
            try:
                seconds = float(data or "0")
            except ValueError:
                seconds = 0.0
            self._send(encode_reply(-1 if await self._sleep_or_hangup(seconds) else 0))
        elif app in ("playback", "background"):
            self._send(
                encode_reply(-1 if await self._sleep_or_hangup(self.switch.prompt_seconds) else 0)
            )
        elif app in _SIMPLE_APPS:
            if app == "set" and "=" in data:
                name, value = data.split("=", 1)
                self.variables[name] = value
            if app in ("answer",):
                self.switch.set_channel_state(self.channel, 6)
            self._send(encode_reply(0))
        elif app in ("hangup",):
            self._send(encode_reply(-1))
            self._mark_dead("acd")
            if self.outcome is None:
                self.outcome = CallOutcome.ANSWERED if self._bridged else CallOutcome.HUNG_UP_BY_ACD
            self._send(HANGUP_NOTICE)
        else:
            self._send(encode_reply(-2))  # "Could not find application"

    async def _dial(self, data: str) -> None:
        parts = data.split(",")
        target = parts[0]
        try:
            timeout = float(parts[1]) if len(parts) > 1 and parts[1] else 0.0
        except ValueError:
            timeout = 0.0
        first = target.split("&")[0]
        endpoint = first.split("/", 1)[1] if "/" in first else first
        status, result = await self.switch.dial(self, endpoint, timeout or 3600.0)
        self.variables["DIALSTATUS"] = status
        self.dial_attempts.append((endpoint, status))
        self._send(encode_reply(result))
        if status == "ANSWER" and not self._dead:
            # The agent hung up; the caller hears silence and hangs up soon unless the ACD does.
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(self.switch.after_call_linger, self._caller_hangup))

    def _on_bridged(self, endpoint: str) -> None:
        """Called by the switch when the agent answers."""
        self._bridged = True
        self.agent = endpoint
        self.answered_at = time.monotonic()
        self.music_class = None


_HANDLERS = {
    "ANSWER": FakeCall._answer,
    "HANGUP": FakeCall._hangup_cmd,
    "STREAM FILE": FakeCall._stream_file,
    "CONTROL STREAM": FakeCall._stream_file,
    "SAY NUMBER": FakeCall._say,
    "SAY DIGITS": FakeCall._say,
    "SAY ALPHA": FakeCall._say,
    "GET DATA": FakeCall._get_data,
    "GET OPTION": FakeCall._stream_file,
    "WAIT FOR": FakeCall._wait_for_digit,
    "SET MUSIC": FakeCall._set_music,
    "SET VARIABLE": FakeCall._set_variable,
    "GET VARIABLE": FakeCall._get_variable,
    "GET FULL VARIABLE": FakeCall._get_variable,
    "NOOP": FakeCall._noop,
    "VERBOSE": FakeCall._verbose,
    "CHANNEL STATUS": FakeCall._channel_status,
    "EXEC": FakeCall._exec,
}
