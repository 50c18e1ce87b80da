"""Errors of the telephony layer, one root: :class:`TelephonyError`."""

from __future__ import annotations


class TelephonyError(Exception):
    """Root of every telephony error."""

    code = "telephony_error"


class ProtocolError(TelephonyError):
    """The peer sent bytes that do not follow the protocol."""

    code = "protocol_error"


# ---- FastAGI ---------------------------------------------------------------


class AgiError(TelephonyError):
    code = "agi_error"


class AgiProtocolError(ProtocolError, AgiError):
    """Malformed AGI header or reply (line too long, garbage, unterminated)."""

    code = "agi_protocol_error"


class AgiStateError(AgiError):
    """A command sent out of turn: before the request header, or while another
    awaits its reply (a bug in the caller, not the peer)."""

    code = "agi_state_error"


class CallerHangup(AgiError):
    """The caller's channel hung up (HANGUP notice, 511, or the socket closed)."""

    code = "caller_hangup"


class AgiCommandError(AgiError):
    """A command got a non-200 reply. ``status`` is 510, 511, 520..."""

    code = "agi_command_error"

    def __init__(self, status: int, text: str, command: str) -> None:
        super().__init__(f"{command!r} failed: {status} {text}")
        self.status = status
        self.text = text
        self.command = command


class AgiInvalidCommand(AgiCommandError):
    code = "agi_invalid_command"  # 510


class AgiDeadChannel(AgiCommandError, CallerHangup):
    code = "agi_dead_channel"  # 511


class AgiUsageError(AgiCommandError):
    code = "agi_usage"  # 520


# ---- AMI -------------------------------------------------------------------


class AmiError(TelephonyError):
    code = "ami_error"


class AmiProtocolError(ProtocolError, AmiError):
    code = "ami_protocol_error"


class AmiLoginFailed(AmiError):
    code = "ami_login_failed"


class AmiActionFailed(AmiError):
    """An action got ``Response: Error``; ``message`` is Asterisk's text."""

    code = "ami_action_failed"

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI action {action} failed: {message}")
        self.action = action
        self.message = message


class AmiNotConnected(AmiError):
    code = "ami_not_connected"


class AmiTimeout(AmiError):
    code = "ami_timeout"
