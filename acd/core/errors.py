"""Domain errors of the ACD. Each carries a stable ``code``; HTTP statuses are
mapped from these codes in one place, in ``wallboard``."""

from __future__ import annotations


class AcdError(Exception):
    """Root of every ACD domain error."""

    code = "acd_error"

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class UnknownAgent(AcdError):
    code = "unknown_agent"


class InvalidTransition(AcdError):
    """The agent's current state does not allow the requested change."""

    code = "invalid_transition"


class ConfigError(AcdError):
    """A configuration file is unreadable or invalid; ``problems`` lists each one
    as ``FILE: key.path: what is wrong (expected ...)``."""

    code = "config_error"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) if problems else "invalid configuration")
        self.problems = problems


class CallActive(AcdError):
    """A call id that is already live was enqueued again (a duplicate
    ``agi_uniqueid``, or a session that raced its own re-enqueue)."""

    code = "call_active"


class UnknownCall(AcdError):
    code = "unknown_call"


class InvalidDisposition(AcdError):
    """A disposition code the call's queue does not define."""

    code = "invalid_disposition"
