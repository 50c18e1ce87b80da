"""Hostile text on its way into a log line."""

from __future__ import annotations

from acd.core.text import log_safe


def test_a_forged_log_line_stays_on_one_line() -> None:
    hostile = "alice\r\n2026-12-02 INFO desk: admin signed in\x1b[2J"
    line = log_safe(hostile)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line == "alice\\x0d\\x0a2026-12-02 INFO desk: admin signed in\\x1b[2J"


def test_invisible_characters_are_shown_and_names_are_kept() -> None:
    # a right-to-left override and a zero-width space would hide in a log;
    # letters of any script are printable and stay as they are
    assert log_safe("Zoë \u202eevil\u200b 张伟 \U000e0001") == (
        "Zoë \\u202eevil\\u200b 张伟 \\U000e0001"
    )


def test_the_cut_applies_to_the_escaped_text() -> None:
    assert log_safe("\x00" * 100, 10) == "\\x00\\x00\\x"
    assert len(log_safe("x" * 1000)) == 200
