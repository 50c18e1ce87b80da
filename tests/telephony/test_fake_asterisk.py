"""The fake Asterisk checked against the Asterisk 22 recordings and for call behaviour.

A tiny scripted FastAGI server stands in for the ACD here (raw sockets), so
the fake's own bytes are what is being checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from telephony.ami_codec import AmiMessage, AmiParser, encode_action
from telephony.fake import CallOutcome, FakeAsterisk
from tests.acd.center import eventually

Script = Callable[["ScriptedAcd"], Awaitable[None]]


class ScriptedAcd:
    """One FastAGI connection driven line by line by a test script."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.header: list[bytes] = []

    async def read_header(self) -> None:
        while True:
            line = await self.reader.readline()
            self.header.append(line)
            if line in (b"\n", b""):
                return

    async def cmd(self, line: str) -> str:
        self.writer.write(line.encode() + b"\n")
        return await self.line()

    async def line(self) -> str:
        return (await asyncio.wait_for(self.reader.readline(), 5.0)).decode()


class Acd:
    """A FastAGI listener running ``script`` on each connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sessions: list[ScriptedAcd] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ScriptedAcd(reader, writer)
        self.sessions.append(session)
        try:
            await session.read_header()
            await self.script(session)
        finally:
            writer.close()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def pbx() -> AsyncIterator[FakeAsterisk]:
    async with FakeAsterisk(after_call_linger=0.2, linger_timeout=2.0, seed=1) as fake:
        yield fake


class AmiTap:
    """A raw AMI connection to the fake, collecting everything it sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = AmiParser()
        self.raw = b""
        self.messages: list[AmiMessage] = []

    @classmethod
    async def open(cls, pbx: FakeAsterisk, secret: str = "secret") -> AmiTap:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
        tap = cls(reader, writer)
        tap.send("Login", "1", Username="acd", Secret=secret, Events="on")
        await tap.until(lambda m: m.action_id == "1")
        return tap

    def send(self, action: str, action_id: str, **fields: str) -> None:
        self.writer.write(encode_action(action, action_id, fields))

    async def until(self, predicate: Callable[[AmiMessage], bool]) -> AmiMessage:
        while True:
            for message in self.messages:
                if predicate(message):
                    return message
            data = await asyncio.wait_for(self.reader.read(65536), 5.0)
            if not data:
                raise AssertionError("AMI connection closed")
            self.raw += data
            self.messages.extend(self.parser.feed(data))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _recorded(asterisk22: Path) -> list[AmiMessage]:
    return AmiParser().feed((asterisk22 / "ami-from-asterisk.bin").read_bytes())


# ---- AMI bytes versus the recording ------------------------------------------------------


async def test_ami_banner_and_login_bytes_match_recording(
    pbx: FakeAsterisk, asterisk22: Path
) -> None:
    recorded = (asterisk22 / "ami-from-asterisk.bin").read_bytes()
    tap = await AmiTap.open(pbx)
    await tap.until(lambda m: m.event == "FullyBooted")
    # Banner, then the login response, byte for byte; no blank line after the banner.
    expected_start = recorded[: recorded.index(b"Event: FullyBooted")]
    assert tap.raw.startswith(expected_start)
    booted = next(m for m in tap.messages if m.event == "FullyBooted")
    rec_booted = next(m for m in _recorded(asterisk22) if m.event == "FullyBooted")
    assert [k for k, _ in booted.fields] == [k for k, _ in rec_booted.fields]
    await tap.close()


async def test_response_shapes_match_recording(pbx: FakeAsterisk, asterisk22: Path) -> None:
    recorded = {m.action_id: m for m in _recorded(asterisk22) if m.is_response}
    tap = await AmiTap.open(pbx)
    tap.send("CoreStatus", "2")
    status = await tap.until(lambda m: m.action_id == "2")
    assert [k for k, _ in status.fields] == [k for k, _ in recorded["2"].fields]
    tap.send("Logoff", "5")
    goodbye = await tap.until(lambda m: m.action_id == "5")
    assert goodbye.fields == recorded["5"].fields
    await tap.close()


async def test_event_shapes_match_recording(pbx: FakeAsterisk, asterisk22: Path) -> None:
    recorded: dict[str, AmiMessage] = {}
    for message in _recorded(asterisk22):
        if message.event and message.event not in recorded:
            recorded[message.event] = message

    async def dial(acd: ScriptedAcd) -> None:
        await acd.cmd("ANSWER")
        await acd.cmd("EXEC Dial PJSIP/1001,5")
        await acd.cmd("HANGUP")

    tap = await AmiTap.open(pbx)
    pbx.add_agent("1001", ring_delay=0.05, talk_seconds=0.05)
    await pbx.register("1001")
    async with Acd(dial) as port:
        pbx.agi_port = port
        call = await pbx.place_call()
        await call.wait_done(5)
    await tap.until(lambda m: m.event == "Hangup" and "caller" in (m.get("Channel") or ""))
    seen = {m.event: m for m in reversed(tap.messages) if m.event}
    for name in ("Newchannel", "Newstate", "DeviceStateChange", "Hangup"):
        ours = [k for k, _ in seen[name].fields]
        theirs = [k for k, _ in recorded[name].fields]
        assert ours == theirs, name
    for name in ("DialBegin", "DialEnd"):
        # The recording's dial came from Originate (no calling channel): compare the Dest part.
        ours = [k for k, _ in seen[name].fields if k.startswith("Dest") or k.startswith("Dial")]
        theirs = [
            k for k, _ in recorded[name].fields if k.startswith("Dest") or k.startswith("Dial")
        ]
        assert ours == theirs, name
    assert seen["DialEnd"].get("DialStatus") == "ANSWER"
    await tap.close()


async def test_login_failure_and_unknown_action(pbx: FakeAsterisk) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
    writer.write(encode_action("Login", "1", {"Username": "acd", "Secret": "nope"}))
    data = b""
    while chunk := await asyncio.wait_for(reader.read(4096), 5.0):
        data += chunk
    assert data == (
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Response: Error\r\nActionID: 1\r\nMessage: Authentication failed\r\n\r\n"
    )
    writer.close()
    await writer.wait_closed()
    tap = await AmiTap.open(pbx)
    tap.send("Bogus", "9")
    reply = await tap.until(lambda m: m.action_id == "9")
    assert reply.response == "Error"
    assert (reply.get("Message") or "").startswith("Invalid/unknown command: Bogus.")
    await tap.close()


async def test_contact_and_device_events_on_register(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    tap = await AmiTap.open(pbx)
    await pbx.register("1001")
    await pbx.unregister("1001")
    await tap.until(lambda m: m.get("State") == "UNAVAILABLE")
    contact = [m for m in tap.messages if m.event == "ContactStatus"]
    assert [m.get("ContactStatus") for m in contact] == ["Created", "Reachable", "Removed"]
    assert [k for k, _ in contact[0].fields] == [
        "Event",
        "Privilege",
        "Timestamp",
        "URI",
        "ContactStatus",
        "AOR",
        "EndpointName",
        "RoundtripUsec",
    ]
    assert contact[1].get("EndpointName") == "1001"
    devices = [
        (m.get("Device"), m.get("State")) for m in tap.messages if m.event == "DeviceStateChange"
    ]
    assert devices == [("PJSIP/1001", "NOT_INUSE"), ("PJSIP/1001", "UNAVAILABLE")]
    await tap.close()


async def test_pjsip_show_endpoint_list(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    await pbx.register("1001")
    tap = await AmiTap.open(pbx)
    tap.send("PJSIPShowEndpoint", "7", Endpoint="1001")
    done = await tap.until(lambda m: m.event == "EndpointDetailComplete")
    listed = [m for m in tap.messages if m.action_id == "7"]
    assert listed[0].get("EventList") == "start"
    assert [m.event for m in listed[1:]] == [
        "EndpointDetail",
        "AorDetail",
        "ContactStatusDetail",
        "EndpointDetailComplete",
    ]
    assert done.get("ListItems") == "3" and done.get("EventList") == "Complete"
    tap.send("PJSIPShowEndpoint", "8", Endpoint="9999")
    missing = await tap.until(lambda m: m.action_id == "8")
    assert missing.response == "Error"
    await tap.close()


# ---- FastAGI behaviour -------------------------------------------------------------------


async def test_agi_header_matches_recording(pbx: FakeAsterisk, asterisk22: Path) -> None:
    async def hang_up(acd: ScriptedAcd) -> None:
        await acd.cmd("HANGUP")

    recorded_keys = [
        line.split(b":")[0]
        for line in (asterisk22 / "agi-local-call.txt")
        .read_bytes()
        .split(b"raw concatenated")[1]
        .split(b"\n\n")[0]
        .splitlines()[1:]
    ]
    acd = Acd(hang_up)
    async with acd as port:
        pbx.agi_port = port
        call = await pbx.place_call("acd?queue=support", caller_id="5551234", args=("x y", "2"))
        await call.wait_done(5)
    header = acd.sessions[0].header
    keys = [line.split(b":")[0] for line in header if line != b"\n"]
    assert keys[: len(recorded_keys)] == recorded_keys
    assert keys[len(recorded_keys) :] == [b"agi_arg_1", b"agi_arg_2"]
    assert header[0] == b"agi_network: yes\n"
    assert b"agi_network_script: acd?queue=support\n" in header
    assert b"agi_version: 22.10.1\n" in header
    assert header[-1] == b"\n"
    assert call.outcome == CallOutcome.HUNG_UP_BY_ACD


async def test_recorded_command_sequence_gets_recorded_replies(pbx: FakeAsterisk) -> None:
    """The recording's commands, against an agent who answers and hangs up."""
    replies: list[str] = []

    async def recorded(acd: ScriptedAcd) -> None:
        for line in (
            "ANSWER",
            'STREAM FILE beep ""',
            "SET MUSIC on default",
            "EXEC Wait 0.05",
            "SET MUSIC off",
            "EXEC Dial PJSIP/1001,10",
            "HANGUP",
        ):
            replies.append(await acd.cmd(line))
        replies.append(await acd.line())

    pbx.add_agent("1001", ring_delay=0.05, talk_seconds=0.05)
    await pbx.register("1001")
    async with Acd(recorded) as port:
        pbx.agi_port = port
        call = await pbx.place_call()
        await call.wait_done(5)
    assert replies == [
        "200 result=0\n",
        "200 result=0 endpos=3404\n",
        "200 result=0\n",
        "200 result=0\n",
        "200 result=0\n",
        "200 result=-1\n",
        "200 result=1\n",
        "HANGUP\n",
    ]
    assert call.outcome == CallOutcome.ANSWERED
    assert call.agent == "1001"
    assert call.dial_attempts == [("1001", "ANSWER")]
    assert call.commands[-2:] == ["EXEC Dial PJSIP/1001,10", "HANGUP"]
    assert call.closed_promptly


@pytest.mark.parametrize(
    ("behaviour", "registered", "status", "result"),
    [
        ("no_answer", True, "NOANSWER", "0"),
        ("busy", True, "BUSY", "0"),
        ("answer", False, "CHANUNAVAIL", "0"),
        ("unreachable", True, "CHANUNAVAIL", "0"),
    ],
)
async def test_dial_failures_set_dialstatus(
    pbx: FakeAsterisk, behaviour: str, registered: bool, status: str, result: str
) -> None:
    got: list[str] = []

    async def dial(acd: ScriptedAcd) -> None:
        got.append(await acd.cmd('EXEC Dial "PJSIP/1001,0.2,tT"'))
        got.append(await acd.cmd("GET VARIABLE DIALSTATUS"))
        await acd.cmd("HANGUP")

    pbx.add_agent("1001", behaviour=behaviour, ring_delay=0.05)
    if registered:
        await pbx.register("1001")
    async with Acd(dial) as port:
        pbx.agi_port = port
        call = await pbx.place_call()
        await call.wait_done(5)
    assert got == [f"200 result={result}\n", f"200 result=1 ({status})\n"]
    assert call.dial_attempts == [("1001", status)]
    assert call.outcome == CallOutcome.HUNG_UP_BY_ACD


async def test_caller_hangup_during_dial_sends_notice_before_reply(pbx: FakeAsterisk) -> None:
    lines: list[str] = []

    async def dial(acd: ScriptedAcd) -> None:
        acd.writer.write(b"EXEC Dial PJSIP/1001,30\n")
        lines.append(await acd.line())
        lines.append(await acd.line())
        lines.append(await acd.cmd("ANSWER"))
        lines.append(await acd.cmd("GET VARIABLE DIALSTATUS"))

    pbx.add_agent("1001", ring_delay=10.0)
    await pbx.register("1001")
    async with Acd(dial) as port:
        pbx.agi_port = port
        call = await pbx.place_call()
        for _ in range(500):  # until the agent's phone rings (the Dial is in flight)
            if pbx.agents["1001"].device_state == "RINGING":
                break
            await asyncio.sleep(0.01)
        assert pbx.agents["1001"].device_state == "RINGING"
        await call.hangup()
        await call.wait_done(5)
    assert lines == [
        "HANGUP\n",
        "200 result=-1\n",
        "511 Command Not Permitted on a dead channel or intercept routine\n",
        "200 result=1 (CANCEL)\n",
    ]
    assert call.outcome == CallOutcome.ABANDONED
    assert pbx.agents["1001"].device_state == "NOT_INUSE"


async def test_patience_abandons_while_on_hold_and_waits_for_close(pbx: FakeAsterisk) -> None:
    async def hold(acd: ScriptedAcd) -> None:
        await acd.cmd("ANSWER")
        await acd.cmd("SET MUSIC on default")
        assert await acd.line() == "HANGUP\n"  # unsolicited, nothing in flight
        await asyncio.sleep(0.1)  # a slow ACD: the fake measures the close

    async with Acd(hold) as port:
        pbx.agi_port = port
        call = await pbx.place_call(patience=0.1)
        await call.wait_done(5)
    assert call.outcome == CallOutcome.ABANDONED
    assert call.hung_up_by == "caller"
    assert call.close_delay is not None and call.close_delay >= 0.1
    assert call.closed_promptly


async def test_dtmf_and_get_data(pbx: FakeAsterisk) -> None:
    got: list[str] = []

    async def menu(acd: ScriptedAcd) -> None:
        got.append(await acd.cmd("STREAM FILE menu 123"))
        got.append(await acd.cmd("GET DATA account 3000 4"))
        got.append(await acd.cmd("GET DATA more 3000 4"))
        got.append(await acd.cmd('SAY NUMBER 42 ""'))
        got.append(await acd.cmd("FOO BAR"))
        await acd.cmd("HANGUP")

    async with Acd(menu) as port:
        pbx.agi_port = port
        call = await pbx.place_call(dtmf="2987#")
        await call.wait_done(5)
    assert got == [
        "200 result=50 endpos=800\n",
        "200 result=987\n",
        "200 result= (timeout)\n",
        "200 result=0\n",
        "510 Invalid or unknown command\n",
    ]


async def test_acd_closing_live_call_is_closed_outcome(pbx: FakeAsterisk) -> None:
    async def crash(acd: ScriptedAcd) -> None:
        await acd.cmd("ANSWER")

    async with Acd(crash) as port:
        pbx.agi_port = port
        call = await pbx.place_call(patience=0.5)
        # No ACD_RESULT: the dialplan puts the caller in the fallback queue,
        # where (no agent here) the caller waits until giving up.
        await call.wait_done(5)
    assert call.outcome == CallOutcome.CLOSED
    assert call.fell_back and call.fallback_agent is None
    assert call.hung_up_by == "caller"


async def test_fallback_queue_rings_an_idle_agent_whose_phone_is_then_in_use(
    pbx: FakeAsterisk,
) -> None:
    async def crash(acd: ScriptedAcd) -> None:
        await acd.cmd("ANSWER")

    pbx.add_agent("1001", ring_delay=0.0, talk_seconds=30)
    await pbx.register("1001")
    async with Acd(crash) as port:
        pbx.agi_port = port
        call = await pbx.place_call()
        async def in_use() -> bool:
            return pbx.agents["1001"].device_state == "INUSE"

        await eventually(in_use, 5, "the fallback queue to ring 1001")
        assert call.fell_back and call.fallback_agent == "1001"
        await pbx.agent_hangup("1001")
        await call.wait_done(5)
    assert pbx.agents["1001"].device_state == "NOT_INUSE"
    assert pbx.agents["1001"].fallback_calls == 1


async def test_unreachable_acd_is_failed_outcome(pbx: FakeAsterisk) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    pbx.agi_port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    call = await pbx.place_call()
    assert call.done and call.outcome == CallOutcome.FAILED


async def test_run_traffic_poisson_with_patience(pbx: FakeAsterisk) -> None:
    async def queue_then_dial(acd: ScriptedAcd) -> None:
        await acd.cmd("ANSWER")
        reply = await acd.cmd("EXEC Wait 0.3")
        if reply.startswith("HANGUP"):
            return
        await acd.cmd("EXEC Dial PJSIP/1001,5")
        await acd.cmd("HANGUP")

    pbx.add_agent("1001", ring_delay=0.01, talk_seconds=0.01)
    await pbx.register("1001")
    async with Acd(queue_then_dial) as port:
        pbx.agi_port = port
        stats = await pbx.run_traffic(
            rate_per_second=40.0,
            duration=0.5,
            scripts={"inbound?queue=support": 3, "inbound?queue=sales": 1},
            patience=(0.05, 1.0),
            seed=7,
            drain_timeout=10.0,
        )
    assert stats.placed > 5
    assert stats.unfinished == 0
    assert stats.answered + stats.abandoned + stats.hung_up_by_acd == stats.placed
    assert stats.abandoned > 0  # patience under 0.3 s cannot last the wait
    assert stats.answered > 0
    assert {c.script for c in pbx.calls} <= {"inbound?queue=support", "inbound?queue=sales"}
