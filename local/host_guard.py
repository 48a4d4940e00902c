"""Refuse requests that are not addressed to the local stack itself (DNS rebinding, cross-site pages).

The local stack serves on loopback without authentication on some endpoints (the agent API),
so "who can reach it" is its only protection, and a web page in the user's browser can reach
loopback too: directly (a cross-site `fetch` with `Content-Type: text/plain` needs no CORS
preflight) or by DNS rebinding (a name the attacker controls re-resolved to 127.0.0.1, so
the browser treats the stack as same-origin). Both leave a trace a browser cannot forge:
the `Host` header names the attacker's domain, and a cross-site request carries a foreign
`Origin`. So every request must carry

- a `Host` that is the address the request arrived on, `host:port` (lower-cased), or one of
  the loopback aliases `127.0.0.1`, `localhost`, `[::1]` with that port, or a name the stack
  was told it is served as (`host_names`); else 421 Misdirected Request;
- no `Origin` (command-line and SDK clients send none), or `http://` + one of those hosts;
  else 403.

The check, the allowed-values model and the status codes are the mcp SDK's own
(`mcp.server.transport_security`, as its streamable HTTP transport applies them on
loopback), with exact ports instead of its `:*` wildcards. The refusal body is JSON-RPC
shaped like the gateway's other errors: `{"jsonrpc": "2.0", "id": null, "error": {"code":
-32000, "message": "<why>"}}`. `HostGuard` applies it to an ASGI app (the stack's HTTP
front), `WsgiHostGuard` to a WSGI app (moto's server). Both take the allowed address from
the server side of the connection (ASGI `scope["server"]`, WSGI `SERVER_NAME`/`SERVER_PORT`),
never from anything the client sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from typing import Any, TypeVar, cast

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# JSON-RPC "server error" range: what the MCP SDKs answer for a refused Host/Origin.
REFUSED_CODE = -32000
_WEBSOCKET_POLICY_VIOLATION = 1008
T = TypeVar("T")


def _as_host_name(address: str) -> str:
    """An address as it appears in a Host header: lower-cased, IPv6 literals in brackets."""
    address = address.strip().lower()
    if ":" in address and not address.startswith("["):
        return f"[{address}]"
    return address


@lru_cache(maxsize=64)
def security_settings(
    server_host: str, port: int, host_names: tuple[str, ...] = ()
) -> TransportSecuritySettings:
    """What a request arriving on `server_host:port` may carry as Host and Origin."""
    names = dict.fromkeys(_as_host_name(n) for n in (*LOOPBACK_NAMES, server_host, *host_names) if n)
    hosts = [f"{name}:{port}" for name in names]
    if port == 80:  # clients leave the default port out of Host and Origin
        hosts.extend(names)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str

    def body(self) -> bytes:
        error = {"code": REFUSED_CODE, "message": self.message}
        return json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode("utf-8")

    def headers(self) -> list[tuple[str, str]]:
        return [("content-type", "application/json"), ("content-length", str(len(self.body())))]


async def check(settings: TransportSecuritySettings, host: str | None, origin: str | None) -> Refusal | None:
    """None when `host` and `origin` are allowed by `settings`, else why not (status and message)."""
    headers = [
        (name, value.lower().encode("latin-1"))
        for name, value in ((b"host", host), (b"origin", origin))
        if value is not None
    ]
    request = Request({"type": "http", "method": "GET", "headers": headers})
    # is_post=False: the Content-Type rule is the MCP transport's, not every endpoint's (the
    # token endpoint takes forms); a cross-site text/plain POST is caught by its Origin.
    verdict = await TransportSecurityMiddleware(settings).validate_request(request, is_post=False)
    if verdict is None:
        return None
    what = bytes(verdict.body).decode("utf-8", "replace")  # the SDK's reason ("Invalid Host header")
    if verdict.status_code == HTTPStatus.MISDIRECTED_REQUEST:
        return Refusal(
            verdict.status_code,
            f"{what} {host!r}: this local agentgw stack answers only requests addressed to "
            f"{_listing(settings.allowed_hosts)} (DNS-rebinding protection)",
        )
    return Refusal(
        verdict.status_code,
        f"{what} {origin!r}: browser requests are accepted only from this local agentgw stack's own "
        f"origins ({_listing(settings.allowed_origins)}); clients that send no Origin are not affected",
    )


def _listing(values: Iterable[str]) -> str:
    return ", ".join(values)


def _server_address(server: Any) -> tuple[str, int] | None:
    if not server or len(server) < 2 or server[1] is None:
        return None
    return str(server[0]), int(server[1])


_UNKNOWN_ADDRESS = Refusal(
    HTTPStatus.MISDIRECTED_REQUEST,
    "the local agentgw stack cannot tell which address this request arrived on, so it refuses it",
)


class HostGuard:
    """ASGI middleware: refuse HTTP (and WebSocket) requests with a foreign Host or Origin."""

    def __init__(self, app: ASGIApp, *, host_names: Sequence[str] = ()) -> None:
        self.app = app
        self.host_names = tuple(host_names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = await self._check(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose(code=_WEBSOCKET_POLICY_VIOLATION, reason=refusal.message[:120])(
                scope, receive, send
            )
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": refusal.status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers()],
                }
            )
            await send({"type": "http.response.body", "body": refusal.body()})

    async def _check(self, scope: Scope) -> Refusal | None:
        address = _server_address(scope.get("server"))
        if address is None:
            return _UNKNOWN_ADDRESS
        headers = Request(scope).headers
        return await check(
            security_settings(*address, self.host_names), headers.get("host"), headers.get("origin")
        )


def _run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from a thread without an event loop (a WSGI server's).

    The SDK's check is a coroutine that awaits nothing, so it finishes on its first step;
    that costs microseconds where a fresh loop per request (`asyncio.run`) costs most of a
    millisecond. Should it ever need a loop (or suspend), it is run again on a loop of its own.
    """
    coro = make()
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    except RuntimeError:  # "no running event loop"; a real error is raised again below
        pass
    coro.close()
    return asyncio.run(make())


StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WsgiHostGuard:
    """The same check for a WSGI app (moto's server, which runs in threads without an event loop)."""

    def __init__(self, app: WsgiApp, *, host_names: Sequence[str] = ()) -> None:
        self.app = app
        self.host_names = tuple(host_names)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        address = _server_address((environ.get("SERVER_NAME"), environ.get("SERVER_PORT")))
        if address is None:
            refusal: Refusal | None = _UNKNOWN_ADDRESS
        else:
            settings = security_settings(*address, self.host_names)
            host, origin = environ.get("HTTP_HOST"), environ.get("HTTP_ORIGIN")
            refusal = _run_sync(lambda: check(settings, host, origin))
        if refusal is None:
            return self.app(environ, start_response)
        start_response(f"{refusal.status} {HTTPStatus(refusal.status).phrase}", refusal.headers())
        return [refusal.body()]
