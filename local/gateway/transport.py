"""MCP's streamable HTTP transport as AgentCore serves it, on raw ASGI.

A POST carries one JSON-RPC message; a request is answered with one JSON body, or one SSE
event for a client that accepts only `text/event-stream`; a notification or a response gets
202. GET gets 405 (allowed when a server offers no SSE stream); DELETE ends a session. The
body is read up to AgentCore's payload limit. What the message means is the protocol's
business (`protocol.py`); this module frames it.

Raw ASGI rather than Starlette's Request/Response: a benchmark drives thousands of calls a
second through here, and every layer costs on that path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, check_accept_headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from agentgw_local.gateway.jsonrpc import INVALID_REQUEST, PARSE_ERROR, error_body

if TYPE_CHECKING:
    from agentgw_local.gateway.catalog import GatewayView
    from agentgw_local.gateway.protocol import McpProtocol

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's and AgentCore's synchronous payload limit

Headers = dict[str, str]  # lower-case name -> value
ExtraHeaders = list[tuple[bytes, bytes]]


class PayloadTooLarge(Exception):
    pass


class StreamableHttp:
    """The MCP endpoint's HTTP methods; each request's message goes to `protocol`."""

    def __init__(self, protocol: McpProtocol) -> None:
        self.protocol = protocol

    async def serve(
        self, view: GatewayView, scope: Scope, receive: Receive, send: Send, headers: Headers, client: str
    ) -> None:
        """Answer one HTTP request to `view`'s MCP endpoint, authorized for `client`."""
        method = scope["method"]
        if method == "POST":
            await self._post(view, headers, receive, send, client)
        elif method == "DELETE":
            await self._delete(view, headers, send, client)
        else:
            await send_json(
                send,
                405,
                error_body(None, INVALID_REQUEST, "Method Not Allowed: this gateway offers no SSE stream"),
                extra=[(b"allow", b"POST, DELETE")],
            )

    async def _post(
        self, view: GatewayView, headers: Headers, receive: Receive, send: Send, client: str
    ) -> None:
        sse = wants_sse(headers)
        if sse is None:
            await send_json(
                send,
                406,
                error_body(None, INVALID_REQUEST, "Accept must allow application/json or text/event-stream"),
            )
            return
        try:
            body = await read_body(receive, headers)
        except PayloadTooLarge:
            message = f"Request payload exceeds the {MAX_PAYLOAD_BYTES} byte limit"
            await send_json(send, 413, error_body(None, INVALID_REQUEST, message))
            return
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            await send_json(send, 400, error_body(None, PARSE_ERROR, f"Parse error: {exc}"))
            return
        except RecursionError:  # the decoder recurses per level: deep nesting is a bad request
            await send_json(send, 400, error_body(None, PARSE_ERROR, "Parse error: JSON nested too deeply"))
            return
        reply = await self.protocol.handle(view, message, headers, client)
        if reply.body is None:
            await send_empty(send, reply.status)
        elif sse and reply.answers_request:
            await send_sse(send, reply.status, reply.body, reply.headers)
        else:
            await send_json(send, reply.status, reply.body, extra=reply.headers)

    async def _delete(self, view: GatewayView, headers: Headers, send: Send, client: str) -> None:
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if not session_id:
            await send_json(send, 400, error_body(None, INVALID_REQUEST, "Mcp-Session-Id header is required"))
        elif not self.protocol.sessions.close(session_id, view, client):
            await send_json(send, 404, error_body(None, INVALID_REQUEST, "Session not found"))
        else:
            await send_empty(send, 200)


class AsgiEndpoint:
    """Wraps a method so Starlette's Route treats it as a raw ASGI app (not request -> response)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def header_map(scope: Scope) -> Headers:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def wants_sse(headers: Headers) -> bool | None:
    """False: answer JSON; True: answer one SSE event; None: the client accepts neither."""
    accept = headers.get("accept")
    if not accept:
        return False  # no Accept header: the client takes anything
    has_json, has_sse = _accepts(accept)
    if has_json:
        return False
    return True if has_sse else None


@functools.lru_cache(maxsize=64)
def _accepts(accept: str) -> tuple[bool, bool]:
    # The SDK's parser wants a Request; a client sends the same Accept every time, so the
    # parse is remembered (a Request and the parse cost ~10 µs, 1% of a call's budget).
    return check_accept_headers(Request({"type": "http", "headers": [(b"accept", accept.encode("latin-1"))]}))


async def read_body(receive: Receive, headers: Headers) -> bytes:
    """The request body; PayloadTooLarge as soon as it (or its stated length) passes the limit."""
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_json(
    send: Send, status: int, body: dict[str, Any], *, extra: ExtraHeaders | None = None
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def send_sse(send: Send, status: int, body: dict[str, Any], extra: ExtraHeaders) -> None:
    data = b"event: message\ndata: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"content-length", str(len(data)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def send_empty(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
