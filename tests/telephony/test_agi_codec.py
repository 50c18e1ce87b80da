"""FastAGI codec: the real Asterisk 22 recording, edge cases from res_agi.c, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.agi_codec import (
    MAX_COMMAND_BYTES,
    AgiCommandParser,
    AgiHeaderParser,
    AgiReply,
    AgiReplyParser,
    AgiRequest,
    HangupNotice,
    decode_command,
    encode_command,
    encode_header,
    encode_reply,
)
from telephony.errors import AgiProtocolError
from tests.telephony.conftest import AgiTranscript


def parse_replies(data: bytes) -> list[AgiReply | HangupNotice]:
    parser = AgiReplyParser()
    messages = parser.feed(data)
    assert not parser.pending, "bytes left over"
    return messages


def only_reply(data: bytes) -> AgiReply:
    (message,) = parse_replies(data)
    assert isinstance(message, AgiReply)
    return message


# ---- the real recording -----------------------------------------------------------


def test_recorded_header_is_parsed_with_every_field(agi_transcript: AgiTranscript) -> None:
    parser = AgiHeaderParser()
    request = parser.feed(agi_transcript.from_asterisk)

    assert request is not None
    assert request.script == "acd"
    assert dict(request.query) == {"queue": "support"}
    assert request.channel == "Local/100@from-callers-00000000;2"
    assert request.uniqueid == "1795330560.1"
    assert request.callerid == "5551234"
    assert request.calleridname == "AMI test"
    assert request.language == "en"
    assert request.request == "agi://127.0.0.1:4573/acd?queue=support"
    assert request.args == ()
    assert len(request.env) == 22  # every agi_* line of the recording
    assert request.env["accountcode"] == ""  # "agi_accountcode: " (empty value)
    assert request.env["threadid"] == "140582746687168"
    assert request.env["network"] == "yes"


def test_recorded_replies_are_all_parsed_nothing_left_over(
    agi_transcript: AgiTranscript,
) -> None:
    header = AgiHeaderParser()
    assert header.feed(agi_transcript.from_asterisk) is not None

    messages = parse_replies(header.remaining)

    replies = [m for m in messages if isinstance(m, AgiReply)]
    assert [(r.status, r.result, r.endpos) for r in replies] == [
        (200, 0, None),  # ANSWER
        (200, 0, 3404),  # STREAM FILE beep ""
        (200, 0, None),  # SET MUSIC on default
        (200, 0, None),  # EXEC Wait 1
        (200, 0, None),  # SET MUSIC off
        (200, -1, None),  # EXEC Dial: the agent leg hung up
        (200, 1, None),  # HANGUP
    ]
    assert isinstance(messages[-1], HangupNotice)
    assert len(messages) == 8


def test_recording_fed_one_byte_at_a_time_gives_the_same_messages(
    agi_transcript: AgiTranscript,
) -> None:
    header = AgiHeaderParser()
    stream = agi_transcript.from_asterisk
    request = None
    position = 0
    while request is None:
        request = header.feed(stream[position : position + 1])
        position += 1
    rest = header.remaining + stream[position:]
    parser = AgiReplyParser()
    messages = [m for i in range(len(rest)) for m in parser.feed(rest[i : i + 1])]

    assert request.channel == "Local/100@from-callers-00000000;2"
    assert messages == parse_replies(rest)


def test_commands_encode_to_the_recorded_bytes(agi_transcript: AgiTranscript) -> None:
    sent = [
        encode_command("ANSWER"),
        encode_command("STREAM", "FILE", "beep", ""),
        encode_command("SET", "MUSIC", "on", "default"),
        encode_command("EXEC", "Wait", "1"),
        encode_command("SET", "MUSIC", "off"),
        encode_command("EXEC", "Dial", "Local/1001@agents,10"),
        encode_command("HANGUP"),
    ]
    assert b"".join(sent) == agi_transcript.to_asterisk


def test_recorded_commands_decode_as_asterisk_splits_them(
    agi_transcript: AgiTranscript,
) -> None:
    commands = AgiCommandParser().feed(agi_transcript.to_asterisk)
    assert commands[1] == ("STREAM", "FILE", "beep", "")
    assert commands[5] == ("EXEC", "Dial", "Local/1001@agents,10")
    assert len(commands) == 7


# ---- header ------------------------------------------------------------------------


def test_header_args_query_and_leftover_bytes() -> None:
    raw = (
        b"agi_network: yes\n"
        b"agi_network_script: agent/login?agent=1001&name=J%C3%BCrgen+M\n"
        b"agi_channel: PJSIP/1001-00000004\n"
        b"agi_arg_2: second\n"
        b"agi_arg_10: tenth\n"
        b"agi_arg_1: first\n"
        b"\n"
        b"HANGUP\n"
    )
    parser = AgiHeaderParser()
    request = parser.feed(raw)

    assert request is not None
    assert request.script == "agent/login"
    assert dict(request.query) == {"agent": "1001", "name": "Jürgen M"}
    assert request.args == ("first", "second", "tenth")
    assert parser.remaining == b"HANGUP\n"


def test_header_without_script_path_routes_to_empty_script() -> None:
    request = AgiHeaderParser().feed(b"agi_network: yes\nagi_request: agi://h\n\n")
    assert request is not None
    assert request.script == ""
    assert dict(request.query) == {}


def test_header_waits_for_the_blank_line() -> None:
    parser = AgiHeaderParser()
    assert parser.feed(b"agi_network: yes\nagi_chan") is None
    assert parser.feed(b"nel: X\n") is None
    request = parser.feed(b"\n")
    assert request is not None
    assert request.channel == "X"


def test_header_keeps_a_latin1_caller_name_instead_of_dropping_the_call() -> None:
    request = AgiHeaderParser().feed(b"agi_calleridname: Jos\xe9\n\n")
    assert request is not None
    assert request.calleridname == "Jos\ufffd"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an AGI header line"),
        (b"Host: example.com\n\n", "not an AGI header field"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", "not an AGI header"),
        (b"\n", "empty AGI header"),
        (b"agi_network: yes\n" + b"x" * 9000, "longer than 8192"),
        (b"agi_x: " + b"y" * 8200 + b"\n\n", "longer than 8192"),
        (b"agi_a: b\n" * 600, "more than 512 lines"),
    ],
)
def test_bad_headers_raise_protocol_error(raw: bytes, reason: str) -> None:
    with pytest.raises(AgiProtocolError, match=reason):
        AgiHeaderParser().feed(raw)


def test_over_long_header_line_is_refused_before_its_newline() -> None:
    parser = AgiHeaderParser()
    parser.feed(b"agi_network: yes\n" + b"a" * 8000)
    with pytest.raises(AgiProtocolError):
        parser.feed(b"a" * 1000)


# ---- replies -----------------------------------------------------------------------


def test_variable_value_with_parentheses_is_kept_whole() -> None:
    reply = only_reply(b"200 result=1 (Jones (sales) (ext. 12)))\n")
    assert reply.data == "Jones (sales) (ext. 12))"
    assert reply.result == 1


def test_data_and_extra_fields() -> None:
    reply = only_reply(b"200 result=1 ((hello)(world)) endpos=2240\n")
    assert (reply.data, reply.endpos) == ("(hello)(world)", 2240)
    speech = only_reply(b"200 result=1 (speech) endpos=1234 results=2 foo bar\n")
    assert speech.extra["results"] == "2"
    assert speech.endpos == 1234


def test_get_data_results_keep_their_exact_text() -> None:
    timeout = only_reply(b"200 result= (timeout)\n")
    assert (timeout.result_text, timeout.data, timeout.result) == ("", "timeout", 0)
    digits = only_reply(b"200 result=0123\n")
    assert digits.result_text == "0123"
    star = only_reply(b"200 result=*12 (timeout)\n")
    assert star.result_text == "*12"


def test_error_statuses() -> None:
    invalid = only_reply(b"510 Invalid or unknown command\n")
    assert (invalid.status, invalid.ok) == (510, False)
    dead = only_reply(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert dead.status == 511
    assert "dead channel" in dead.text
    usage = only_reply(b"520 Invalid command syntax.  Proper usage not available.\n")
    assert usage.status == 520
    failure = only_reply(b"503 result=-2 Memory allocation failure\n")
    assert (failure.status, failure.result) == (503, -2)


def test_multiline_usage_ends_only_at_its_closing_line() -> None:
    raw = (
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: DATABASE DEL <family> <key>\n"
        b"200 result=1 is what a good call returns\n"
        b"HANGUP\n"
        b"\n"
        b"520 End of proper usage.\n"
        b"200 result=0\n"
    )
    messages = parse_replies(raw)
    assert len(messages) == 2
    usage, after = messages
    assert isinstance(usage, AgiReply)
    assert usage.status == 520
    assert usage.text.splitlines()[1] == " Usage: DATABASE DEL <family> <key>"
    assert usage.text.endswith("520 End of proper usage.")
    assert after == only_reply(b"200 result=0\n")


def test_usage_text_without_final_newline_still_ends_the_reply() -> None:
    # res_agi.c prints the usage with "%s"; without a trailing newline the
    # closing line is glued to the last usage line.
    raw = b"520-Invalid command syntax.  Proper usage follows:\nUsage: X520 End of proper usage.\n"
    usage = only_reply(raw)
    assert usage.status == 520


def test_interim_trying_is_marked_and_the_200_follows() -> None:
    trying, final = parse_replies(b"100 result=0 Trying...\n200 result=0\n")
    assert isinstance(trying, AgiReply) and trying.interim
    assert isinstance(final, AgiReply) and final.ok and not final.interim


def test_partial_reply_lines_wait_for_their_newline() -> None:
    parser = AgiReplyParser()
    assert parser.feed(b"200 res") == []
    assert parser.pending
    assert parser.feed(b"ult=1 (x)\nHANG") == [only_reply(b"200 result=1 (x)\n")]
    assert parser.feed(b"UP\n") == [HangupNotice()]


@pytest.mark.parametrize(
    "raw",
    [
        b"hello world\n",
        b"200\n",
        b"200 result\n",
        b"20 result=1\n",
        b"200 " + b"x" * 9000,
    ],
)
def test_bad_replies_raise_protocol_error(raw: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        AgiReplyParser().feed(raw)


# ---- commands ----------------------------------------------------------------------


def test_words_with_spaces_quotes_and_backslashes_are_quoted() -> None:
    line = encode_command("VERBOSE", 'caller "Bob" said \\o/ hi', "1")
    assert line == b'VERBOSE "caller \\"Bob\\" said \\\\o/ hi" 1\n'
    assert decode_command(line) == ("VERBOSE", 'caller "Bob" said \\o/ hi', "1")


@pytest.mark.parametrize("hostile", ["5551234\nHANGUP", "x\rEXEC System rm", "a\x00b", "\n"])
def test_a_hostile_value_cannot_inject_a_second_command(hostile: str) -> None:
    with pytest.raises(AgiProtocolError):
        encode_command("SET", "VARIABLE", "CALLERNAME", hostile)


def test_commands_asterisk_would_split_are_refused() -> None:
    encode_command("VERBOSE", "x" * (MAX_COMMAND_BYTES - len("VERBOSE \n")))
    with pytest.raises(AgiProtocolError, match="exceeds"):
        encode_command("VERBOSE", "x" * MAX_COMMAND_BYTES)
    with pytest.raises(AgiProtocolError):
        encode_command()


def test_encode_reply_forms_parse_back() -> None:
    assert only_reply(encode_reply(status=510)).status == 510
    assert only_reply(encode_reply(status=511)).status == 511
    usage = only_reply(encode_reply(status=520, message="Usage: ANSWER\n 200 lines"))
    assert usage.status == 520
    assert "Usage: ANSWER" in usage.text
    assert only_reply(encode_reply(status=100)).interim


# ---- properties --------------------------------------------------------------------

line_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
    max_size=40,
)


@given(st.lists(line_text, min_size=1, max_size=12))
def test_command_round_trip(words: list[str]) -> None:
    assert decode_command(encode_command(*words)) == tuple(words)


@given(
    st.one_of(st.integers(-(10**17), 10**17), st.sampled_from(["", "*12", "0123"])),
    st.one_of(st.none(), line_text),
    st.one_of(st.none(), st.integers(0, 10**12)),
)
def test_reply_round_trip(result: int | str, data: str | None, endpos: int | None) -> None:
    reply = only_reply(encode_reply(result, data, endpos))
    assert reply.status == 200
    assert reply.result_text == str(result)
    if isinstance(result, int):
        assert reply.result == result
    assert reply.data == data
    assert reply.endpos == endpos


header_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
    max_size=60,
)


@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True), header_values, min_size=1
    ),
    st.integers(1, 50),
)
def test_header_round_trip_in_any_chunking(env: dict[str, str], chunk: int) -> None:
    raw = encode_header(env) + b"200 result=0\n"
    parser = AgiHeaderParser()
    request = None
    for start in range(0, len(raw), chunk):
        request = parser.feed(raw[start : start + chunk])
        if request is not None:
            break
    assert request is not None
    assert dict(request.env) == env
    assert request == AgiRequest.from_env(env)


@given(st.binary(max_size=3000), st.integers(1, 700))
@settings(max_examples=300)
def test_arbitrary_bytes_only_ever_raise_protocol_error(data: bytes, chunk: int) -> None:
    for parser in (AgiHeaderParser(), AgiReplyParser(), AgiCommandParser()):
        try:
            for start in range(0, len(data), chunk):
                parser.feed(data[start : start + chunk])
        except AgiProtocolError:
            pass


@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=30))
def test_line_soup_only_ever_raises_protocol_error(lines: list[bytes]) -> None:
    prefixes = [b"200 result=", b"520-", b"520 ", b"HANGUP", b"100 ", b"agi_x: "]
    data = b"\n".join(prefixes[i % len(prefixes)] + line for i, line in enumerate(lines))
    for parser in (AgiHeaderParser(), AgiReplyParser()):
        try:
            parser.feed(data + b"\n")
        except AgiProtocolError:
            pass
