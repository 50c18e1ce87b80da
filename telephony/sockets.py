"""Socket options shared by the FastAGI server and the AMI client."""

from __future__ import annotations

import contextlib
import socket


def set_keepalive(
    sock: object, idle: int = 20, interval: int = 5, count: int = 3
) -> None:
    """TCP keepalive on a connected socket: a peer that vanished (power loss,
    partition) is noticed after about ``idle + interval * count`` seconds."""
    if not isinstance(sock, socket.socket) and not hasattr(sock, "setsockopt"):
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval),
                            ("TCP_KEEPCNT", count)):
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
