"""Listening sockets for the local stack's servers, bound up front: a busy port fails at once,
with a message that says which port and what to do, and port 0 learns its real port before
anything (provisioning, the published URLs) needs it."""

from __future__ import annotations

import socket


class PortInUse(RuntimeError):
    """A port the stack needs cannot be bound (the message names it)."""


def listen(host: str, port: int, *, backlog: int, option: str) -> socket.socket:
    """A socket listening on `host:port`; `option` is the command-line option that picks another."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(
            f"port {port} on {host} is busy ({exc.strerror}); stop what uses it or pick another port "
            f"(agentgw local up {option} N)"
        ) from exc
    sock.listen(backlog)
    return sock
