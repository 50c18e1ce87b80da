"""The sans-I/O FastAGI protocol: the Asterisk 22 recordings replayed with no
sockets, then one test per session rule, then properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.agi_codec import (
    MAX_LINE_BYTES,
    AgiReply,
    decode_command,
    encode_header,
    encode_reply,
)
from telephony.agi_protocol import (
    AgiCommand,
    AgiEvent,
    AgiProtocol,
    AgiState,
    ConnectionClosed,
    HangupCause,
    HungUp,
    InterimReply,
    ProtocolViolation,
    ReplyReceived,
    RequestReceived,
    check_reply,
)
from telephony.ami_codec import AmiParser
from telephony.errors import (
    AgiCommandError,
    AgiDeadChannel,
    AgiInvalidCommand,
    AgiProtocolError,
    AgiStateError,
    AgiUsageError,
    CallerHangup,
)
from tests.telephony.conftest import ASTERISK22, AgiTranscript

HEADER = encode_header(
    {"network": "yes", "network_script": "inbound?queue=support", "channel": "PJSIP/caller-1"}
)


def opened() -> AgiProtocol:
    """A protocol whose header is read (its RequestReceived already taken)."""
    protocol = AgiProtocol()
    protocol.receive_data(HEADER)
    (event,) = protocol.events_received()
    assert isinstance(event, RequestReceived)
    return protocol


def feed(protocol: AgiProtocol, *chunks: bytes) -> list[AgiEvent]:
    for chunk in chunks:
        protocol.receive_data(chunk)
    return protocol.events_received()


Replay = tuple[AgiProtocol, list[AgiEvent], list[AgiCommand], bytes]


def replay(transcript: AgiTranscript, *, bytewise: bool = False) -> Replay:
    """Play the ACD's side of the recording: send each recorded command when the
    recording does, feed Asterisk's bytes as recorded (or one byte at a time)."""
    protocol = AgiProtocol()
    events: list[AgiEvent] = []
    commands: list[AgiCommand] = []
    sent = b""
    for direction, data in transcript.records:
        if direction == "AGI->ASTERISK":
            commands.append(protocol.send_command(*decode_command(data)))
            sent += protocol.data_to_send()
            continue
        for chunk in [data[i : i + 1] for i in range(len(data))] if bytewise else [data]:
            protocol.receive_data(chunk)
        events += protocol.events_received()
    return protocol, events, commands, sent


# ---- the Asterisk 22 recordings -------------------------------------------------------


def test_the_recorded_call_replays_with_every_reply_matched_to_its_command(
    agi_transcript: AgiTranscript,
) -> None:
    protocol, events, commands, sent = replay(agi_transcript)

    assert sent == agi_transcript.to_asterisk  # byte for byte what Asterisk received
    assert isinstance(events[0], RequestReceived)
    request = events[0].request
    assert (request.script, request.query["queue"]) == ("acd", "support")
    assert request.channel == "Local/100@from-callers-00000000;2"
    replies = [e for e in events if isinstance(e, ReplyReceived)]
    assert [r.command for r in replies] == commands
    assert [(r.command.text, r.reply.result) for r in replies] == [
        ("ANSWER", 0),
        ('STREAM FILE beep ""', 0),
        ("SET MUSIC on default", 0),
        ("EXEC Wait 1", 0),
        ("SET MUSIC off", 0),
        ("EXEC Dial Local/1001@agents,10", -1),  # the agent hung up (no g option)
        ("HANGUP", 1),
    ]
    assert replies[1].reply.endpos == 3404
    # Asterisk's HANGUP notice came after the reply to our HANGUP: a notice, not a reply.
    assert events[-1] == HungUp(HangupCause.NOTICE)
    assert protocol.hung_up and protocol.awaiting is None
    protocol.receive_eof()
    assert protocol.events_received() == [ConnectionClosed(AgiState.OPEN, (), truncated=False)]


def test_the_recorded_call_fed_one_byte_at_a_time_gives_the_same_events(
    agi_transcript: AgiTranscript,
) -> None:
    _, whole, _, _ = replay(agi_transcript)
    _, bytewise, _, _ = replay(agi_transcript, bytewise=True)
    assert bytewise == whole


def test_the_commands_and_results_asterisk_reported_over_ami_match_the_replay(
    agi_transcript: AgiTranscript,
) -> None:
    """The AMI recording of the same call logs each AGI command (AGIExecStart)
    and its result code (AGIExecEnd): the protocol sent exactly those and got
    those codes, on the channel and uniqueid of the FastAGI header."""
    parser = AmiParser()
    ami = parser.feed((ASTERISK22 / "ami-from-asterisk.bin").read_bytes())
    assert parser.banner is not None and parser.buffered == 0
    _, events, _, _ = replay(agi_transcript)
    request = next(e.request for e in events if isinstance(e, RequestReceived))
    agi_events = [m for m in ami if (m.event or "").startswith("AGIExec")]
    assert {(m.get("Channel"), m.get("Uniqueid")) for m in agi_events} == {
        (request.channel, request.uniqueid)
    }
    started = [m.get("Command") for m in agi_events if m.event == "AGIExecStart"]
    ended = [(m.get("Command"), m.get("ResultCode")) for m in agi_events if m.event == "AGIExecEnd"]
    replies = [e for e in events if isinstance(e, ReplyReceived)]
    assert started == [r.command.text for r in replies]
    assert ended == [(r.command.text, str(r.reply.status)) for r in replies]


# ---- the request header ---------------------------------------------------------------


def test_no_command_goes_out_before_the_header_is_complete() -> None:
    protocol = AgiProtocol()
    assert feed(protocol, HEADER[:-1]) == []  # everything but the blank line
    with pytest.raises(AgiStateError, match="header"):
        protocol.send_command("ANSWER")
    assert protocol.data_to_send() == b""
    (event,) = feed(protocol, b"\n")
    assert isinstance(event, RequestReceived) and event.request.query == {"queue": "support"}
    protocol.send_command("ANSWER")
    assert protocol.data_to_send() == b"ANSWER\n"


def test_a_caller_gone_before_the_first_command_allows_only_dead_channel_commands() -> None:
    protocol = AgiProtocol()
    events = feed(protocol, HEADER + b"HANGUP\n")  # one TCP segment
    assert [type(e) for e in events] == [RequestReceived, HungUp]
    with pytest.raises(CallerHangup, match="hung up before 'ANSWER'"):
        protocol.send_command("ANSWER")
    command = protocol.send_command("GET", "VARIABLE", "DIALSTATUS", dead_ok=True)
    assert protocol.data_to_send() == b"GET VARIABLE DIALSTATUS\n"
    (event,) = feed(protocol, b"200 result=1 (CANCEL)\n")
    assert isinstance(event, ReplyReceived)
    assert (event.command, event.reply.data) == (command, "CANCEL")


def test_a_bad_header_line_is_a_violation_and_nothing_more_is_read() -> None:
    protocol = AgiProtocol()
    events = feed(protocol, b"GET / HTTP/1.1\r\n")
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation)
    assert "not an AGI header line" in events[0].reason
    assert protocol.state is AgiState.CLOSED
    assert feed(protocol, b"\n" + HEADER) == []
    with pytest.raises(CallerHangup, match="connection closed"):
        protocol.send_command("ANSWER")


# ---- one command in flight ------------------------------------------------------------


def test_a_second_command_waits_for_the_first_reply() -> None:
    protocol = opened()
    first = protocol.send_command("ANSWER")
    with pytest.raises(AgiStateError, match="'ANSWER' awaits its reply"):
        protocol.send_command("STREAM", "FILE", "beep", "")
    assert protocol.data_to_send() == b"ANSWER\n"  # only the first went out
    assert feed(protocol, b"200 result=0\n") == [ReplyReceived(first, _reply(b"200 result=0\n"))]
    protocol.send_command("STREAM", "FILE", "beep", "")
    assert protocol.data_to_send() == b'STREAM FILE beep ""\n'


def test_the_late_reply_of_an_abandoned_command_is_dropped_and_replies_stay_in_step() -> None:
    protocol = opened()
    slow = protocol.send_command("EXEC", "Dial", "PJSIP/1001,15")
    protocol.abandon(slow)  # its sender timed out
    assert protocol.awaiting is None
    status = protocol.send_command("GET", "VARIABLE", "DIALSTATUS")
    assert protocol.data_to_send() == b"EXEC Dial PJSIP/1001,15\nGET VARIABLE DIALSTATUS\n"
    events = feed(protocol, b"200 result=0\n", b"200 result=1 (NOANSWER)\n")
    assert [(e.command, e.reply.data) for e in events if isinstance(e, ReplyReceived)] == [
        (status, "NOANSWER")
    ]
    assert len(events) == 1


def test_a_reply_nobody_asked_for_is_a_violation() -> None:
    protocol = opened()
    (event,) = feed(protocol, b"200 result=0\n")
    assert isinstance(event, ProtocolViolation)
    assert "no command in flight" in event.reason
    assert protocol.state is AgiState.CLOSED


# ---- hang-ups -------------------------------------------------------------------------


def test_hangup_before_the_511_reply_is_a_notice_then_the_reply() -> None:
    """As seen over SIP: HANGUP, then 511 for the command in flight."""
    protocol = opened()
    command = protocol.send_command("STREAM", "FILE", "queue-periodic-announce", "")
    events = feed(protocol, b"HANGUP\n" + encode_reply(status=511))
    assert events[0] == HungUp(HangupCause.NOTICE)  # once: the 511 adds no second HungUp
    assert len(events) == 2 and isinstance(events[1], ReplyReceived)
    assert events[1].command == command and events[1].reply.status == 511
    with pytest.raises(AgiDeadChannel) as raised:
        check_reply(events[1].reply, command.text)
    assert isinstance(raised.value, CallerHangup)


def test_a_511_alone_is_a_reply_and_a_hang_up() -> None:
    protocol = opened()
    command = protocol.send_command("SAY", "NUMBER", "3", "")
    events = feed(protocol, b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert events[0] == HungUp(HangupCause.DEAD_CHANNEL)
    assert isinstance(events[1], ReplyReceived) and events[1].command == command
    assert protocol.hung_up


def test_hangup_while_nothing_is_in_flight_is_a_notice_not_a_stray_reply() -> None:
    protocol = opened()
    assert feed(protocol, b"HANGUP\n") == [HungUp(HangupCause.NOTICE)]
    assert feed(protocol, b"HANGUP\n") == []  # once per call
    assert protocol.state is AgiState.OPEN


def test_a_hangup_notice_mid_command_does_not_shift_the_reply() -> None:
    protocol = opened()
    command = protocol.send_command("EXEC", "Dial", "PJSIP/1001,15")
    events = feed(protocol, b"HAN", b"GUP\n200 resu", b"lt=-1\n")
    assert events[0] == HungUp(HangupCause.NOTICE)
    assert isinstance(events[1], ReplyReceived)
    assert (events[1].command, events[1].reply.result) == (command, -1)


# ---- multi-line and interim replies ---------------------------------------------------


def test_a_520_usage_block_is_one_reply_and_the_next_command_stays_in_step() -> None:
    protocol = opened()
    bad = protocol.send_command("STREAM", "FILE")
    block = encode_reply(status=520, message=" Usage: STREAM FILE <filename> <escape_digits>\n")
    assert feed(protocol, block[:30], block[30:-5]) == []  # not ended yet
    (event,) = feed(protocol, block[-5:])
    assert isinstance(event, ReplyReceived) and event.command == bad
    assert "Usage: STREAM FILE" in event.reply.text
    with pytest.raises(AgiUsageError):
        check_reply(event.reply, bad.text)
    good = protocol.send_command("ANSWER")
    (event,) = feed(protocol, b"200 result=0\n")
    assert isinstance(event, ReplyReceived) and event.command == good


def test_interim_trying_keeps_the_command_in_flight_until_its_200() -> None:
    protocol = opened()
    gosub = protocol.send_command("GOSUB", "acd-sub", "s", "1")
    (interim,) = feed(protocol, b"100 result=0 Trying...\n")
    assert isinstance(interim, InterimReply) and interim.command == gosub
    assert protocol.awaiting == gosub
    (final,) = feed(protocol, b"200 result=0 Gosub complete\n")
    assert isinstance(final, ReplyReceived) and final.command == gosub
    assert protocol.awaiting is None


# ---- the peer closing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "partial",
    [b"200 result=", b"520-Invalid command syntax.  Proper usage follows:\n Usage: ...\n"],
    ids=["mid-line", "mid-520-block"],
)
def test_a_peer_closing_mid_reply_leaves_the_command_unanswered(partial: bytes) -> None:
    protocol = opened()
    command = protocol.send_command("STREAM", "FILE", "beep", "")
    assert feed(protocol, partial) == []
    protocol.receive_eof()
    assert protocol.events_received() == [
        ConnectionClosed(AgiState.OPEN, (command,), truncated=True)
    ]
    assert protocol.state is AgiState.CLOSED
    with pytest.raises(CallerHangup, match="connection closed"):
        protocol.send_command("ANSWER")


def test_a_peer_closing_between_commands_is_clean() -> None:
    protocol = opened()
    protocol.receive_eof()
    protocol.receive_eof()
    assert protocol.events_received() == [ConnectionClosed(AgiState.OPEN, (), truncated=False)]


@pytest.mark.parametrize(("sent", "truncated"), [(b"", False), (HEADER[:40], True)])
def test_a_peer_closing_during_the_header_says_how_much_it_sent(
    sent: bytes, truncated: bool
) -> None:
    protocol = AgiProtocol()
    protocol.receive_data(sent)
    protocol.receive_eof()
    assert protocol.events_received() == [ConnectionClosed(AgiState.HEADER, (), truncated)]
    assert protocol.bytes_received == len(sent)


def test_closing_this_side_returns_the_unanswered_commands() -> None:
    protocol = opened()
    command = protocol.send_command("EXEC", "Dial", "PJSIP/1001,15")
    assert protocol.close() == (command,)
    assert protocol.close() == ()
    assert feed(protocol, b"200 result=0\n") == []  # nothing more is read
    protocol.receive_eof()
    assert protocol.events_received() == []


# ---- malformed and oversize input -----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x" * (MAX_LINE_BYTES + 1), "longer than 8192"),
        (b"200 result=0" + b"9" * MAX_LINE_BYTES + b"\n", "longer than 8192"),
        (b"garbage\n", "not an AGI reply"),
        (b"200 no result here\n", "without result="),
    ],
    ids=["oversize-unterminated", "oversize-line", "garbage", "200-without-result"],
)
def test_malformed_or_oversize_replies_are_violations(data: bytes, reason: str) -> None:
    protocol = opened()
    protocol.send_command("ANSWER")
    (event,) = feed(protocol, data)
    assert isinstance(event, ProtocolViolation) and reason in event.reason
    assert protocol.state is AgiState.CLOSED


def test_a_hostile_word_never_reaches_the_wire() -> None:
    protocol = opened()
    with pytest.raises(AgiProtocolError):
        protocol.send_command("SET", "VARIABLE", "CALLER", "x\nHANGUP")
    assert protocol.data_to_send() == b""
    protocol.send_command("ANSWER")  # nothing was left in flight
    assert protocol.data_to_send() == b"ANSWER\n"


def test_each_error_status_maps_to_its_error() -> None:
    ok = _reply(b"200 result=1\n")
    assert check_reply(ok, "ANSWER") is ok
    for line, error in [
        (b"510 Invalid or unknown command\n", AgiInvalidCommand),
        (b"511 Command Not Permitted on a dead channel or intercept routine\n", AgiDeadChannel),
        (b"520 Invalid command syntax.  Proper usage not available.\n", AgiUsageError),
        (b"599 Something new\n", AgiCommandError),
    ]:
        with pytest.raises(error) as raised:
            check_reply(_reply(line), "NOOP")
        assert type(raised.value) is error
        assert raised.value.status == int(line[:3]) and raised.value.command == "NOOP"


# ---- properties -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    results=st.lists(st.integers(-1, 300), min_size=1, max_size=8),
    hangup_at=st.integers(0, 8),
    cut=st.integers(1, 7),
)
def test_every_command_gets_its_own_reply_wherever_the_hangup_and_the_cuts_fall(
    results: list[int], hangup_at: int, cut: int
) -> None:
    protocol = opened()
    got: list[tuple[AgiCommand, int]] = []
    hangups = 0
    for index, result in enumerate(results):
        command = protocol.send_command("GET", "VARIABLE", f"V{index}", dead_ok=True)
        wire = encode_reply(result)
        if index == hangup_at:
            wire = b"HANGUP\n" + wire
        chunks = [wire[i : i + cut] for i in range(0, len(wire), cut)]
        for event in feed(protocol, *chunks):
            if isinstance(event, ReplyReceived):
                got.append((event.command, event.reply.result))
            else:
                assert isinstance(event, HungUp)
                hangups += 1
        assert got[-1] == (command, result)
    assert len(got) == len(results)
    assert hangups == (1 if hangup_at < len(results) else 0)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), chunk=st.integers(1, 64))
def test_arbitrary_bytes_after_the_header_never_raise(data: bytes, chunk: int) -> None:
    protocol = opened()
    protocol.send_command("ANSWER")
    for i in range(0, len(data), chunk):
        protocol.receive_data(data[i : i + chunk])
    protocol.receive_eof()
    events = protocol.events_received()
    assert protocol.state is AgiState.CLOSED
    assert isinstance(events[-1], ConnectionClosed | ProtocolViolation)


def _reply(line: bytes) -> AgiReply:
    protocol = opened()
    protocol.send_command("NOOP")
    (event,) = [e for e in feed(protocol, line) if isinstance(e, ReplyReceived)]
    return event.reply
