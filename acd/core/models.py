"""Domain values: agent and call states and the typed views of Redis hashes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallState(enum.StrEnum):
    WAITING = "waiting"
    RINGING = "ringing"
    ON_CALL = "on_call"
    DONE = "done"


# A caller still on the line (waiting, ringing or talking to an agent).
LIVE_CALL_STATES: frozenset[CallState] = frozenset(
    {CallState.WAITING, CallState.RINGING, CallState.ON_CALL}
)


class Exit(enum.StrEnum):
    """Why a caller left a queue without being answered there (what the call
    flow asks the store to record)."""

    ABANDONED = "abandoned"  # the caller hung up (short or not: the store decides)
    TIMED_OUT = "timed_out"  # max wait reached, sent to the exit target
    OVERFLOWED = "overflowed"  # max wait reached, moved to the overflow queue
    LOST = "lost"  # the ACD could not keep the caller: the dialplan fallback has them


class Left(enum.StrEnum):
    """What the store recorded for an exit."""

    NONE = "none"  # the call had already left (or was answered meanwhile)
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    TIMED_OUT = "timed_out"
    OVERFLOWED = "overflowed"
    LOST = "lost"


def _f(value: str | None, default: float = 0.0) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default


def _i(value: str | None, default: int = 0) -> int:
    try:
        return int(float(value)) if value not in (None, "") else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent as stored in Redis."""

    id: str
    name: str
    state: AgentState
    state_since: float
    pause_reason: str
    queue: str
    call_id: str
    reachable: bool
    missed: int
    idle_since: float
    calls: int
    talk_seconds: float
    wrap_until: float
    pending: str = ""  # "pause" or "logout" once the current call is over
    pending_reason: str = ""
    # in use on a call the ACD did not make (never while ringing or on its call)
    phone_busy: bool = False
    # when it last entered the available set (kept after it left: the set says
    # whether it is in it now); for the ongoing idle time
    avail_since: float = 0.0

    @classmethod
    def from_hash(cls, agent_id: str, h: Mapping[str, str]) -> AgentView:
        """The one reading of an agent hash: a missing or unknown state is
        logged out; a missing ``reachable`` is unreachable (as routing treats it)."""
        try:
            state = AgentState(h.get("state") or AgentState.LOGGED_OUT)
        except ValueError:
            state = AgentState.LOGGED_OUT
        pending = h.get("pending", "")
        if pending not in ("pause", "logout") or state is AgentState.LOGGED_OUT:
            pending = ""
        return cls(
            id=agent_id,
            name=h.get("name", agent_id),
            state=state,
            state_since=_f(h.get("state_since")),
            pause_reason=h.get("pause_reason", ""),
            queue=h.get("queue", ""),
            call_id=h.get("call_id", ""),
            reachable=h.get("reachable", "0") == "1",
            missed=_i(h.get("missed")),
            idle_since=_f(h.get("idle_since")),
            calls=_i(h.get("calls")),
            talk_seconds=_f(h.get("talk_seconds")),
            wrap_until=_f(h.get("wrap_until")),
            pending=pending,
            pending_reason=h.get("pending_reason", "") if pending == "pause" else "",
            phone_busy=h.get("phone_busy") == "1"
            and state not in (AgentState.RINGING, AgentState.ON_CALL),
            avail_since=_f(h.get("avail_since")),
        )


@dataclass(frozen=True, slots=True)
class CallView:
    """One call as stored in Redis."""

    id: str
    queue: str
    caller_id: str
    caller_name: str
    arrival: float
    queue_arrival: float
    priority: int
    state: CallState
    agent: str
    owner: str
    tried: tuple[str, ...] = ()
    kind: str = ""  # "callback" for a caller waiting to be called back
    not_before: float = 0.0  # a callback's next attempt, not earlier

    @property
    def is_callback(self) -> bool:
        return self.kind == "callback"

    @classmethod
    def from_hash(cls, call_id: str, h: Mapping[str, str]) -> CallView:
        try:
            state = CallState(h.get("state") or CallState.DONE)
        except ValueError:
            state = CallState.DONE
        tried = tuple(t for t in h.get("tried", "").split(",") if t)
        return cls(
            id=call_id,
            queue=h.get("queue", ""),
            caller_id=h.get("caller_id", ""),
            caller_name=h.get("caller_name", ""),
            arrival=_f(h.get("arrival")),
            queue_arrival=_f(h.get("queue_arrival")),
            priority=_i(h.get("priority")),
            state=state,
            agent=h.get("agent", ""),
            owner=h.get("owner", ""),
            tried=tried,
            kind=h.get("kind", ""),
            not_before=_f(h.get("not_before")),
        )


def waiting_score(priority: int, arrival: float) -> float:
    """Sorted-set score that orders callers by priority (VIP first), then arrival."""
    return arrival - priority * 1_000_000.0
