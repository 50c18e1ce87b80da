"""AMI codec: the Asterisk 22 recordings replayed, framing edge cases, property tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.ami_codec import (
    MAX_LINE_BYTES,
    AmiMessage,
    AmiParser,
    EventListCollector,
    encode_action,
    encode_fields,
)
from telephony.errors import AmiProtocolError


def _recorded(asterisk22: Path) -> bytes:
    return (asterisk22 / "ami-from-asterisk.bin").read_bytes()


def test_recording_parses_completely(asterisk22: Path) -> None:
    parser = AmiParser()
    messages = parser.feed(_recorded(asterisk22))
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert parser.buffered == 0
    responses = [m for m in messages if m.is_response]
    events = [m for m in messages if m.is_event]
    assert len(messages) == len(responses) + len(events) == 132
    assert [(m.action_id, m.response) for m in responses] == [
        ("1", "Success"),
        ("2", "Success"),
        ("3", "Success"),
        ("4", "Success"),
        ("5", "Goodbye"),
    ]
    # 126 call events after the login's FullyBooted (the annotated file's count).
    assert events[0].event == "FullyBooted"
    assert len(events) - 1 == 126
    annotated = (asterisk22 / "ami-annotated.txt").read_text()
    summary = next(line for line in annotated.splitlines() if "Event summary" in line)
    names = {n.strip() for n in summary.split(":", 1)[1].split(",")}
    assert {e.event for e in events[1:]} == names


def test_recording_fields(asterisk22: Path) -> None:
    messages = AmiParser().feed(_recorded(asterisk22))
    login = messages[0]
    assert login.get("message") == "Authentication accepted"
    core = next(m for m in messages if m.action_id == "2")
    assert core.get("CoreCurrentCalls") == "0"
    # OriginateResponse carries "Response: Success" but is an event, not a response.
    orig = next(m for m in messages if m.event == "OriginateResponse")
    assert orig.is_event and not orig.is_response and orig.response is None
    assert orig.action_id == "3" and orig.get("Response") == "Success"
    dial_end = next(m for m in messages if m.event == "DialEnd")
    assert dial_end.get("DialStatus") == "ANSWER"
    hangup = next(m for m in messages if m.event == "Hangup")
    assert hangup.get("Cause-txt") == "Normal Clearing"
    states = [(m.get("Device"), m.get("State")) for m in messages if m.event == "DeviceStateChange"]
    assert ("Local/100@from-callers", "INUSE") in states
    assert states[-1] == ("Local/100@from-callers", "NOT_INUSE")
    # Empty values survive ("AccountCode: ").
    newchannel = next(m for m in messages if m.event == "Newchannel")
    assert newchannel.get("AccountCode") == ""
    assert newchannel.get("accountcode") == ""
    cdr = next(m for m in messages if m.event == "Cdr")
    assert cdr.get("CallerID") == '"AMI test" <5551234>'


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_recording_any_chunking(asterisk22: Path, size: int) -> None:
    data = _recorded(asterisk22)
    whole = AmiParser().feed(data)
    parser = AmiParser()
    pieces: list[AmiMessage] = []
    for start in range(0, len(data), size):
        pieces.extend(parser.feed(data[start : start + size]))
    assert pieces == whole
    assert parser.banner == "Asterisk Call Manager/11.0.0"


def test_bare_lf_line_endings(asterisk22: Path) -> None:
    data = _recorded(asterisk22)
    assert AmiParser().feed(data.replace(b"\r\n", b"\n")) == AmiParser().feed(data)


def test_encode_action_matches_recorded_login(asterisk22: Path) -> None:
    sent = (asterisk22 / "ami-to-asterisk.bin").read_bytes()
    login = encode_action("Login", "1", {"Username": "acd", "Secret": "acdsecret", "Events": "on"})
    originate = encode_action(
        "Originate",
        "3",
        [
            ("Channel", "Local/100@from-callers"),
            ("Application", "Wait"),
            ("Data", "30"),
            ("CallerID", '"AMI test" <5551234>'),
            ("Timeout", "15000"),
            ("Async", "true"),
        ],
    )
    assert sent.startswith(login + encode_action("CoreStatus", "2"))
    assert originate in sent
    # And the server side reads the client's bytes back.
    actions = AmiParser(expect_banner=False).feed(sent)
    assert [a.action for a in actions] == ["Login", "CoreStatus", "Originate", "Hangup", "Logoff"]


@pytest.mark.parametrize("bad", ["a\r\nAction: Logoff", "x\ny", "x\r"])
def test_header_injection_rejected(bad: str) -> None:
    with pytest.raises(AmiProtocolError):
        encode_action("Originate", "1", {"CallerID": bad})
    with pytest.raises(AmiProtocolError):
        encode_action("Originate", "1", {bad: "x"})


def test_repeated_keys_kept_in_order() -> None:
    data = encode_action("Originate", "9", [("Variable", "A=1"), ("Variable", "B=2")])
    (msg,) = AmiParser(expect_banner=False).feed(data)
    assert msg.get_all("variable") == ["A=1", "B=2"]
    assert msg.get("Variable") == "A=1"


def test_values_keep_colons_and_spaces() -> None:
    (msg,) = AmiParser(expect_banner=False).feed(
        b"Response: Error\r\nMessage: Invalid/unknown command: Foo. Use Action: X\r\n"
        b"Key:NoSpace\r\nTwo:  spaces\r\n\r\n"
    )
    assert msg.get("Message") == "Invalid/unknown command: Foo. Use Action: X"
    assert msg.get("Key") == "NoSpace"
    assert msg.get("Two") == " spaces"


def test_legacy_command_follows_output() -> None:
    (msg,) = AmiParser(expect_banner=False).feed(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
        b"Asterisk 13 built by x\r\nsecond line\r\n--END COMMAND--\r\n\r\n"
    )
    assert msg.action_id == "7"
    assert msg.get_all("Output") == ["Asterisk 13 built by x", "second line"]


def test_garbage_line_is_a_protocol_error_and_parser_stays_broken() -> None:
    parser = AmiParser()
    assert parser.feed(b"Asterisk Call Manager/11.0.0\r\n") == []
    with pytest.raises(AmiProtocolError):
        parser.feed(b"Response: Success\r\nthis line has no colon\r\n\r\n")
    with pytest.raises(AmiProtocolError):
        parser.feed(b"Response: Success\r\n\r\n")


def test_overlong_line_rejected_without_waiting_for_its_end() -> None:
    parser = AmiParser(expect_banner=False)
    with pytest.raises(AmiProtocolError, match="longer"):
        parser.feed(b"Key: " + b"x" * (MAX_LINE_BYTES + 10))


def test_invalid_utf8_is_replaced_not_raised() -> None:
    (msg,) = AmiParser(expect_banner=False).feed(b"Event: X\r\nName: caf\xe9\r\n\r\n")
    assert msg.get("Name") == "caf\ufffd"


def test_message_properties() -> None:
    msg = AmiMessage((("Response", "Error"), ("ActionID", "5"), ("Message", "nope")))
    assert msg.is_response and not msg.is_event
    assert msg.response == "Error" and msg.action_id == "5"
    assert msg.get("missing", "dflt") == "dflt"
    assert "message" in msg and "other" not in msg
    assert msg.encode() == b"Response: Error\r\nActionID: 5\r\nMessage: nope\r\n\r\n"


def test_event_list_collector(asterisk22: Path) -> None:
    wire = (
        encode_fields(
            [
                ("Response", "Success"),
                ("ActionID", "L1"),
                ("EventList", "start"),
                ("Message", "Channels will follow"),
            ]
        )
        + encode_fields([("Event", "CoreShowChannel"), ("ActionID", "L1"), ("Channel", "a")])
        + encode_fields([("Event", "Newchannel"), ("Channel", "unrelated")])
        + encode_fields([("Event", "CoreShowChannel"), ("ActionID", "L1"), ("Channel", "b")])
        + encode_fields(
            [
                ("Event", "CoreShowChannelsComplete"),
                ("ActionID", "L1"),
                ("EventList", "Complete"),
                ("ListItems", "2"),
            ]
        )
        + encode_fields([("Response", "Error"), ("ActionID", "L2"), ("Message", "No Contacts")])
    )
    collector = EventListCollector()
    collector.expect("L1")
    collector.expect("L2")
    done = []
    unrelated = []
    for msg in AmiParser(expect_banner=False).feed(wire):
        if collector.is_pending(msg.action_id):
            result = collector.feed(msg)
            if result is not None:
                done.append(result)
        else:
            unrelated.append(msg)
    assert [m.get("Channel") for m in unrelated] == ["unrelated"]
    first, second = done
    assert [e.get("Channel") for e in first.events] == ["a", "b"]
    assert first.complete is not None and first.complete.get("ListItems") == "2"
    assert not first.failed
    assert second.failed and second.events == ()
    assert len(collector) == 0


# ---- property tests ------------------------------------------------------------------

_key = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
_value = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=40
)
_fields = st.lists(st.tuples(_key, _value), min_size=1, max_size=12)


@settings(max_examples=300)
@given(st.lists(_fields, min_size=1, max_size=5), st.integers(min_value=1, max_value=50))
def test_encode_then_decode_round_trip(messages: list[list[tuple[str, str]]], chunk: int) -> None:
    wire = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(encode_fields(m) for m in messages)
    parser = AmiParser()
    out: list[AmiMessage] = []
    for start in range(0, len(wire), chunk):
        out.extend(parser.feed(wire[start : start + chunk]))
    assert [list(m.fields) for m in out] == messages
    assert parser.buffered == 0


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=200), max_size=8), st.booleans())
def test_arbitrary_bytes_only_raise_protocol_errors(chunks: list[bytes], banner: bool) -> None:
    parser = AmiParser(expect_banner=banner)
    try:
        for chunk in chunks:
            for msg in parser.feed(chunk):
                assert msg.fields
    except AmiProtocolError:
        pass
