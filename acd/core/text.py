"""Text from outside (callers' names, request paths, error messages) made safe for one log line."""

from __future__ import annotations


def log_safe(text: str, limit: int = 200) -> str:
    """``text`` with every non-printable character escaped, cut to ``limit`` characters.

    Control characters (newlines included) become ``\\xNN``, others beyond
    Latin-1 ``\\uNNNN``, so a hostile string can neither forge a log line nor
    hide in one; the cut is applied to the escaped text.
    """
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)[:limit]


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
