"""The agent state machine for agent commands, as one table.

:func:`decide` says what a command does to an agent in a given state: done
now (and the state it leaves), pending until the current call is over, or
refused. The Redis script that applies agent commands is generated from the
same table (:func:`lua_table`), so the rule lives here only; the script adds
atomicity, not policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from acd.core.models import AgentState


class Command(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"


class Status(enum.StrEnum):
    """A command's result: done now, or pending until the agent's call is over."""

    DONE = "ok"
    PENDING = "pending"


class Effect(enum.StrEnum):
    """Field changes besides the state; the script implements each once."""

    START_SHIFT = "start_shift"  # day counters, reason, pending and call cleared
    SET_REASON = "set_reason"  # the pause reason given with the command
    CLEAR_REASON = "clear_reason"  # no pause reason, nothing pending
    CLEAR_MISSED = "clear_missed"  # the consecutive-miss count back to 0
    MARK_PENDING = "mark_pending"  # the command waits for the call to end
    CLEAR_PENDING = "clear_pending"  # a pending pause is withdrawn


@dataclass(frozen=True, slots=True)
class Rule:
    status: Status
    to: AgentState | None = None  # None: the state stays
    effects: tuple[Effect, ...] = ()


BUSY: frozenset[AgentState] = frozenset(
    {AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP}
)
PENDING_VALUES: tuple[str, ...] = ("", Command.PAUSE.value, Command.LOGOUT.value)


def decide(state: AgentState, command: Command, pending: str = "") -> Rule | None:
    """What ``command`` does to an agent in ``state`` with ``pending`` (the
    command already waiting for the call to end, or ""); None = refused."""
    busy = state in BUSY
    if command is Command.LOGIN:
        if state is AgentState.LOGGED_OUT:
            return Rule(Status.DONE, AgentState.AVAILABLE, (Effect.START_SHIFT,))
        return None
    if command is Command.LOGOUT:
        if state is AgentState.LOGGED_OUT:
            return Rule(Status.DONE)
        if busy:
            return Rule(Status.PENDING, effects=(Effect.MARK_PENDING,))
        return Rule(Status.DONE, AgentState.LOGGED_OUT, (Effect.CLEAR_REASON,))
    if command is Command.PAUSE:
        if state is AgentState.LOGGED_OUT:
            return None
        if busy:
            return Rule(Status.PENDING, effects=(Effect.MARK_PENDING,))
        if state is AgentState.PAUSED:
            return Rule(Status.DONE, effects=(Effect.SET_REASON,))  # a new reason
        return Rule(Status.DONE, AgentState.PAUSED, (Effect.SET_REASON,))
    # unpause
    if state is AgentState.PAUSED:
        return Rule(Status.DONE, AgentState.AVAILABLE, (Effect.CLEAR_REASON, Effect.CLEAR_MISSED))
    if pending == Command.PAUSE.value:
        return Rule(Status.DONE, effects=(Effect.CLEAR_PENDING,))
    if state is AgentState.AVAILABLE:
        return Rule(Status.DONE)
    return None


def lua_table() -> str:
    """The table as a Lua constant ``RULES['state|command|pending']`` =
    ``{status, to, effect...}`` (``to`` is '' when the state stays)."""
    lines = ["local RULES = {}"]
    for state in AgentState:
        for command in Command:
            for pending in PENDING_VALUES:
                rule = decide(state, command, pending)
                if rule is None:
                    continue
                parts = [rule.status.value, rule.to.value if rule.to else ""]
                parts += [e.value for e in rule.effects]
                body = ", ".join(f"'{p}'" for p in parts)
                lines.append(f"RULES['{state.value}|{command.value}|{pending}'] = {{{body}}}")
    return "\n".join(lines) + "\n"
