"""FastAGI server over real sockets on 127.0.0.1, with a scripted Asterisk end.

Every wait on the network has a guard timeout so a broken server fails the
test instead of hanging it; no assertion depends on how fast anything is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from telephony.agi_codec import (
    HANGUP_NOTICE,
    AgiCommandParser,
    AgiHeaderParser,
    encode_header,
    encode_reply,
)
from telephony.agi_server import AgiServer, AgiSession, Handler
from telephony.errors import (
    AgiDeadChannel,
    AgiInvalidCommand,
    AgiUsageError,
    CallerHangup,
)
from tests.telephony.conftest import AgiTranscript

GUARD = 5.0  # seconds before a stuck test fails (never reached when things work)
LOGGER = "telephony.agi_server"


class AsteriskLeg:
    """The Asterisk end of one FastAGI connection, scripted by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._commands = AgiCommandParser()
        self._pending: list[tuple[str, ...]] = []

    @classmethod
    async def connect(cls, port: int, header: bytes | None = None) -> AsteriskLeg:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        leg = cls(reader, writer)
        if header is not None:
            await leg.send(header)
        return leg

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_command(self) -> tuple[str, ...]:
        while not self._pending:
            data = await asyncio.wait_for(self.reader.read(4096), GUARD)
            assert data, "server closed the connection instead of sending a command"
            self._pending.extend(self._commands.feed(data))
        return self._pending.pop(0)

    async def expect_eof(self) -> bytes:
        """Read until the server closes the socket; return what came before."""
        return await asyncio.wait_for(self.reader.read(), GUARD)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass  # the server may have reset a connection it dropped


def header(script: str = "inbound?queue=support", **extra: str) -> bytes:
    env = {
        "network": "yes",
        "network_script": script,
        "request": f"agi://127.0.0.1:4573/{script}",
        "channel": "PJSIP/caller-00000001",
        "uniqueid": "1700000000.1",
        "callerid": "5551234",
        "calleridname": "Caller",
    }
    env.update(extra)
    return encode_header(env)


ServerFactory = Callable[..., Awaitable[AgiServer]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    servers: list[AgiServer] = []

    async def start(routes: Mapping[str, Handler], **options: Any) -> AgiServer:
        server = AgiServer(routes, **options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


# ---- the recorded call, end to end --------------------------------------------------


async def test_recorded_call_replays_through_the_server(
    start_server: ServerFactory, agi_transcript: AgiTranscript
) -> None:
    outcome: dict[str, Any] = {}

    async def acd(session: AgiSession) -> None:
        outcome["queue"] = session.request.query["queue"]
        await session.answer()
        outcome["digit"] = await session.stream_file("beep")
        await session.set_music(True)
        await session.exec("Wait", "1")
        await session.set_music(False)
        outcome["dial"] = (await session.exec("Dial", "Local/1001@agents", "10")).result
        await session.hangup()
        outcome["done"] = True

    server = await start_server({"acd": acd})
    header_parser = AgiHeaderParser()
    assert header_parser.feed(agi_transcript.from_asterisk) is not None
    replies = header_parser.remaining.split(b"\n")[:-1]
    leg = await AsteriskLeg.connect(server.port)

    sent_commands = b""
    for direction, data in agi_transcript.records:
        if direction == "ASTERISK->AGI":
            await leg.send(data)
        else:
            command = await leg.read_command()
            sent_commands += b" ".join(w.encode() or b'""' for w in command) + b"\n"

    assert sent_commands == agi_transcript.to_asterisk
    assert replies[-1] == b"HANGUP"
    assert await leg.expect_eof() == b""
    assert outcome == {"queue": "support", "digit": "", "dial": -1, "done": True}
    await leg.close()


# ---- hang-up handling -----------------------------------------------------------------


async def test_hangup_notice_before_the_511_reply_raises_caller_hangup(
    start_server: ServerFactory,
) -> None:
    seen: list[BaseException] = []

    async def inbound(session: AgiSession) -> None:
        try:
            await session.stream_file("queue-periodic-announce", "*")
        except CallerHangup as exc:
            seen.append(exc)
            assert session.hung_up
            raise

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("STREAM", "FILE", "queue-periodic-announce", "*")
    await leg.send(HANGUP_NOTICE + encode_reply(status=511))

    assert await leg.expect_eof() == b""  # the socket is closed once the handler ends
    assert len(seen) == 1
    assert isinstance(seen[0], AgiDeadChannel)
    await leg.close()


async def test_hangup_notice_before_a_failed_200_raises_caller_hangup(
    start_server: ServerFactory,
) -> None:
    seen: list[type[BaseException]] = []

    async def inbound(session: AgiSession) -> None:
        try:
            await session.say_number(3)
        except CallerHangup as exc:
            seen.append(type(exc))

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("SAY", "NUMBER", "3", "")
    await leg.send(HANGUP_NOTICE + encode_reply(-1))
    await leg.expect_eof()
    assert seen == [CallerHangup]
    await leg.close()


async def test_dead_channel_511_alone_is_typed_and_marks_the_call_gone(
    start_server: ServerFactory,
) -> None:
    seen: list[bool] = []

    async def inbound(session: AgiSession) -> None:
        try:
            await session.answer()
        except AgiDeadChannel:
            seen.append(session.hung_up)
        # Asterisk still answers GET VARIABLE on a dead channel.
        seen.append(await session.get_variable("DIALSTATUS") == "CANCEL")

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("ANSWER",)
    await leg.send(encode_reply(status=511))
    assert await leg.read_command() == ("GET", "VARIABLE", "DIALSTATUS")
    await leg.send(encode_reply(1, "CANCEL"))
    await leg.expect_eof()
    assert seen == [True, True]
    await leg.close()


async def test_guard_raises_caller_hangup_when_hangup_arrives_while_idle(
    start_server: ServerFactory,
) -> None:
    waiting = asyncio.Event()
    inner_cancelled = asyncio.Event()
    seen: list[str] = []

    async def wait_for_agent() -> str:
        waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise
        return "agent"

    async def inbound(session: AgiSession) -> None:
        await session.set_music(True)
        try:
            await session.guard(wait_for_agent())
        except CallerHangup:
            seen.append("hangup")
            raise

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("SET", "MUSIC", "on", "default")
    await leg.send(encode_reply(0))
    await asyncio.wait_for(waiting.wait(), GUARD)
    await leg.send(HANGUP_NOTICE)

    assert await leg.expect_eof() == b""
    assert seen == ["hangup"]
    assert inner_cancelled.is_set()
    await leg.close()


async def test_guard_returns_the_result_when_it_comes_first(
    start_server: ServerFactory,
) -> None:
    agent: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    got: list[str] = []
    started = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        started.set()
        got.append(await session.guard(agent))
        await session.exec("Dial", f"PJSIP/{got[0]}", "15", "t")

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    await asyncio.wait_for(started.wait(), GUARD)
    agent.set_result("1001")
    assert await leg.read_command() == ("EXEC", "Dial", "PJSIP/1001,15,t")
    await leg.send(encode_reply(0))
    await leg.expect_eof()
    assert got == ["1001"]
    await leg.close()


async def test_socket_is_closed_soon_after_hangup_even_if_the_handler_lingers(
    start_server: ServerFactory,
) -> None:
    release = asyncio.Event()
    finished = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        await session.wait_for_hangup()
        await release.wait()  # e.g. slow bookkeeping after the caller left
        finished.set()

    server = await start_server({"inbound": inbound}, hangup_grace=0.05)
    leg = await AsteriskLeg.connect(server.port, header())
    await leg.send(HANGUP_NOTICE)

    assert await leg.expect_eof() == b""  # Asterisk is released ...
    assert not finished.is_set()  # ... while the handler is still running
    release.set()
    await asyncio.wait_for(finished.wait(), GUARD)
    await leg.close()


async def test_connection_closed_by_asterisk_mid_command_raises_caller_hangup(
    start_server: ServerFactory,
) -> None:
    seen: list[type[BaseException]] = []
    done = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        try:
            await session.exec("Wait", "30")
        except CallerHangup as exc:
            seen.append(type(exc))
        done.set()

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("EXEC", "Wait", "30")
    await leg.close()
    await asyncio.wait_for(done.wait(), GUARD)
    assert seen == [CallerHangup]


# ---- replies -------------------------------------------------------------------------


async def test_error_replies_are_typed_and_the_session_stays_in_step(
    start_server: ServerFactory,
) -> None:
    seen: list[object] = []

    async def inbound(session: AgiSession) -> None:
        with pytest.raises(AgiInvalidCommand):
            await session.command("FROB")
        with pytest.raises(AgiUsageError) as usage:
            await session.command("GET", "DATA")
        seen.append("GET DATA <file" in usage.value.text)
        seen.append(await session.get_data("enter-account", 3000, 4))
        seen.append(await session.get_variable("CALLERID(name)"))
        seen.append(await session.get_variable("NOT_SET"))
        reply = await session.command("EXEC", "Gosub", "sub,s,1")
        seen.append(reply.result)

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("FROB",)
    await leg.send(encode_reply(status=510))
    assert await leg.read_command() == ("GET", "DATA")
    await leg.send(encode_reply(status=520, message=" Usage: GET DATA <file> [timeout]"))
    assert await leg.read_command() == ("GET", "DATA", "enter-account", "3000", "4")
    await leg.send(encode_reply("0123", "timeout"))
    assert await leg.read_command() == ("GET", "VARIABLE", "CALLERID(name)")
    await leg.send(encode_reply(1, "Smith (home) )"))
    assert await leg.read_command() == ("GET", "VARIABLE", "NOT_SET")
    await leg.send(encode_reply(0))
    assert await leg.read_command() == ("EXEC", "Gosub", "sub,s,1")
    await leg.send(encode_reply(status=100) + encode_reply(7))
    await leg.expect_eof()

    assert seen == [True, "0123", "Smith (home) )", None, 7]
    await leg.close()


async def test_a_timed_out_command_does_not_shift_later_replies(
    start_server: ServerFactory,
) -> None:
    seen: list[object] = []

    async def inbound(session: AgiSession) -> None:
        with pytest.raises(TimeoutError):
            await session.command("EXEC", "Wait", "5", timeout=0.05)
        seen.append(await session.get_variable("QUEUE"))

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("EXEC", "Wait", "5")
    assert await leg.read_command() == ("GET", "VARIABLE", "QUEUE")
    await leg.send(encode_reply(0) + encode_reply(1, "support"))
    await leg.expect_eof()
    assert seen == ["support"]
    await leg.close()


async def test_a_command_waiting_for_its_reply_is_cancelled_not_swallowed() -> None:
    # closing the server cancels a handler stuck in a command: the cancel
    # reaches the handler (it is never turned into a timeout or a reply)
    outcome: list[str] = []
    waiting = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        waiting.set()
        try:
            await session.command("EXEC", "Wait", "5", timeout=60.0)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("returned")

    async with AgiServer({"inbound": inbound}) as server:
        leg = await AsteriskLeg.connect(server.port, header())
        assert await leg.read_command() == ("EXEC", "Wait", "5")
        await asyncio.wait_for(waiting.wait(), GUARD)
    assert outcome == ["cancelled"]
    await leg.close()


async def test_handler_exception_is_logged_once_with_the_script(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def inbound(session: AgiSession) -> None:
        raise RuntimeError("routing blew up")

    server = await start_server({"inbound": inbound})
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.expect_eof() == b""
    await leg.close()

    errors = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "'inbound'" in errors[0].getMessage()
    assert "routing blew up" in errors[0].getMessage()


# ---- bad peers -----------------------------------------------------------------------


async def _bad_line(leg: AsteriskLeg) -> None:
    await leg.send(b"agi_network: yes\nagi_channel: " + b"x" * 9000)


async def _never_ending_header(leg: AsteriskLeg) -> None:
    await leg.send(b"agi_network: yes\nagi_channel: PJSIP/x\n")


async def _silent(leg: AsteriskLeg) -> None:
    pass


async def _garbage(leg: AsteriskLeg) -> None:
    await leg.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xa7\xb1\n\n")


async def _http(leg: AsteriskLeg) -> None:
    await leg.send(b"GET / HTTP/1.1\r\nHost: acd\r\n\r\n")


async def _unknown_script(leg: AsteriskLeg) -> None:
    await leg.send(header("no/such/script"))


async def _garbage_after_header(leg: AsteriskLeg) -> None:
    await leg.send(header("echo"))
    assert await leg.read_command() == ("ANSWER",)
    await leg.send(b"\xff\xfe garbage where a reply belongs\n")


async def _reply_nobody_asked_for(leg: AsteriskLeg) -> None:
    await leg.send(header("echo"))
    assert await leg.read_command() == ("ANSWER",)
    await leg.send(encode_reply(0) + encode_reply(0))


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        (_bad_line, "longer than 8192"),
        (_never_ending_header, "header not complete within"),
        (_silent, "header not complete within"),
        (_garbage, "not an AGI header"),
        (_http, "not an AGI header"),
        (_unknown_script, "unknown AGI script 'no/such/script'"),
        (_garbage_after_header, "not an AGI reply"),
        (_reply_nobody_asked_for, "reply with no command in flight"),
    ],
)
async def test_bad_peer_is_dropped_with_a_reason_while_a_good_call_completes(
    start_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
    misbehave: Callable[[AsteriskLeg], Awaitable[None]],
    reason: str,
) -> None:
    good_done = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        await session.answer()
        await session.set_variable("ACD_RESULT", "served")
        good_done.set()

    async def echo(session: AgiSession) -> None:
        await session.answer()
        await session.wait_for_hangup()

    server = await start_server({"inbound": inbound, "echo": echo}, header_timeout=0.2)
    good = await AsteriskLeg.connect(server.port, header())
    assert await good.read_command() == ("ANSWER",)  # the good call is mid-flight

    bad = await AsteriskLeg.connect(server.port)
    await misbehave(bad)
    await bad.expect_eof()
    await bad.close()

    await good.send(encode_reply(0))
    assert await good.read_command() == ("SET", "VARIABLE", "ACD_RESULT", "served")
    await good.send(encode_reply(1))
    assert await good.expect_eof() == b""
    assert good_done.is_set()
    await good.close()

    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any(reason in message for message in warnings), warnings


async def test_peer_outside_allowed_networks_is_dropped_unread(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[AgiSession] = []

    async def inbound(session: AgiSession) -> None:
        called.append(session)

    server = await start_server({"inbound": inbound}, allowed_peers=("10.0.0.0/8",))
    leg = await AsteriskLeg.connect(server.port)
    try:
        await leg.send(header())
    except ConnectionError:
        pass  # already reset by the server
    try:
        assert await leg.expect_eof() == b""
    except ConnectionResetError:
        pass  # an abort may reach the client as a reset: still closed
    await leg.close()

    assert called == []
    assert any("not in allowed_peers" in r.getMessage() for r in caplog.records)


async def test_idle_timeout_drops_a_peer_that_goes_silent(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[type[BaseException]] = []
    done = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        try:
            await session.answer()
        except CallerHangup as exc:
            seen.append(type(exc))
        done.set()

    server = await start_server({"inbound": inbound}, idle_timeout=0.1)
    leg = await AsteriskLeg.connect(server.port, header())
    assert await leg.read_command() == ("ANSWER",)
    await leg.expect_eof()  # never answered: the server gives up on the peer
    await leg.close()
    await asyncio.wait_for(done.wait(), GUARD)
    assert seen == [CallerHangup]
    assert any("peer silent" in r.getMessage() for r in caplog.records)


# ---- lifecycle -----------------------------------------------------------------------


async def test_close_cancels_running_sessions_and_closes_their_sockets() -> None:
    cancelled = asyncio.Event()
    running: list[AgiSession] = []
    all_running = asyncio.Event()

    async def inbound(session: AgiSession) -> None:
        running.append(session)
        if len(running) == 3:
            all_running.set()
        try:
            await session.wait_for_hangup()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with AgiServer({"inbound": inbound}) as server:
        legs = [await AsteriskLeg.connect(server.port, header()) for _ in range(3)]
        idle = await AsteriskLeg.connect(server.port)  # header never sent
        await asyncio.wait_for(all_running.wait(), GUARD)
        assert server.active_sessions == 3
    assert server.active_sessions == 0
    assert cancelled.is_set()
    for leg in [*legs, idle]:
        try:
            await leg.expect_eof()
        except ConnectionResetError:
            pass
        await leg.close()
