"""The local stack's HTTP front: one Starlette app on one loopback port, served by uvicorn.

It carries the emulated Cognito endpoints, the gateway data plane and any extra routes
(the agent API mounts itself through `extra_routes`), all behind `HostGuard`: a request
whose Host is not this server's own address, or that a browser sends from a foreign Origin,
is refused before any route sees it (see host_guard.py). The listening socket is bound up
front, so a busy port fails fast with a clear message and port 0 learns its real port
before anything (provisioning, the endpoint URLs) needs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import socket
import threading
from collections.abc import AsyncIterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from agentgw_local.cognito import EmulatedCognito
from agentgw_local.gateway import LocalGateway
from agentgw_local.host_guard import HostGuard
from agentgw_local.http_limits import HttpLimits, limited_protocol
from agentgw_local.sockets import listen

START_TIMEOUT_S = 10.0


def build_app(
    cognito: EmulatedCognito,
    gateway: LocalGateway,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    host_names: Sequence[str] = (),
) -> Starlette:
    """The stack's app. Requests must be addressed to the address they arrive on, a loopback
    alias of it, or one of `host_names` (a name given to `--host`), with that port."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await gateway.aclose()

    return Starlette(
        routes=[*cognito.routes(), *gateway.routes(), *extra_routes],
        # Ahead of routing: no endpoint (nor the gateway's auth) runs for a refused request.
        middleware=[Middleware(HostGuard, host_names=host_names)],
        lifespan=lifespan,
    )


def bind(host: str, port: int) -> socket.socket:
    """The HTTP front's listening socket (0 picks a free port); PortInUse says when it is taken."""
    sock = listen(host, port, backlog=2048, option="--port")
    sock.setblocking(False)
    return sock


class HttpServer:
    """uvicorn on a pre-bound socket, in a background thread."""

    def __init__(self, sock: socket.socket, limits: HttpLimits | None = None) -> None:
        self.sock = sock
        self.limits = _within_file_limit(limits or HttpLimits())
        self.host, self.port = sock.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, app: Starlette) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=3,
            timeout_keep_alive=30,
            # httptools, with head/URL size, head time and connection limits (http_limits.py).
            http=limited_protocol(self.limits),
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=self._run, name="agentgw-http", daemon=True)
        self._thread.start()
        deadline = START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the local HTTP server failed to start (see the log above)")
            deadline -= 0.01
            if deadline <= 0:
                raise RuntimeError("the local HTTP server did not start in time")
            threading.Event().wait(0.01)

    def _run(self) -> None:
        assert self._server is not None
        # uvicorn picks uvloop when installed (the `local` extra pins it and httptools).
        self._server.run(sockets=[self.sock])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._server = None
        self.sock.close()


def _within_file_limit(limits: HttpLimits) -> HttpLimits:
    """Cap connections at half the process's open-file limit: the rest is for everything else
    (emulated AWS, files, outgoing connections), so a flood of sockets cannot starve them."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits
    return dataclasses.replace(limits, max_connections=min(limits.max_connections, max(32, soft // 2)))
