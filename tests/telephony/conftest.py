"""Shared fixtures for the telephony tests (kept small: several test modules use it)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

#: Real Asterisk 22 wire recordings, copied from shared/fixtures/asterisk-22 so the
#: suite runs from the repository alone.
ASTERISK22 = Path(__file__).parent / "fixtures" / "asterisk-22"


@pytest.fixture
def asterisk22() -> Path:
    """Directory holding the Asterisk 22 recordings (see its files' headers)."""
    return ASTERISK22


class AgiTranscript:
    """``agi-local-call.txt`` parsed: each record's exact bytes, in order."""

    def __init__(self, path: Path) -> None:
        #: (direction, bytes) with direction "ASTERISK->AGI" or "AGI->ASTERISK"
        self.records: list[tuple[str, bytes]] = []
        for line in path.read_text().splitlines():
            match = re.match(r"\s*[0-9.]+ (ASTERISK->AGI|AGI->ASTERISK)\s+(b(['\"]).*\3)$", line)
            if match:
                self.records.append((match.group(1), ast.literal_eval(match.group(2))))
        self.from_asterisk = b"".join(b for d, b in self.records if d == "ASTERISK->AGI")
        self.to_asterisk = b"".join(b for d, b in self.records if d == "AGI->ASTERISK")


@pytest.fixture
def agi_transcript(asterisk22: Path) -> AgiTranscript:
    """The recorded FastAGI session of a real call (header, 7 commands, HANGUP notice)."""
    return AgiTranscript(asterisk22 / "agi-local-call.txt")
