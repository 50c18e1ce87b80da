"""Channels of the fake Asterisk: the snapshot fields every AMI channel event carries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["CAUSE_TEXT", "FakeChannel"]

_STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
#: Q.850 hang-up causes the fake uses, with Asterisk's ``Cause-txt``.
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    20: "Subscriber absent",
}


@dataclass(slots=True)
class FakeChannel:
    """A simulated Asterisk channel (the snapshot AMI events describe)."""

    name: str
    uniqueid: str
    linkedid: str
    seq: int
    caller_num: str
    caller_name: str
    context: str
    exten: str
    state: int = 0
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    priority: int = 1
    application: str = "AGI"
    app_data: str = ""
    created_at: float = field(default_factory=time.monotonic)

    def fields(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel snapshot fields, in Asterisk 22's order (``Dest`` prefix for callees)."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", _STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.caller_num or "<unknown>"),
            (f"{p}CallerIDName", self.caller_name or "<unknown>"),
            (f"{p}ConnectedLineNum", self.connected_num),
            (f"{p}ConnectedLineName", self.connected_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]

