"""MCP over JSON-RPC as the gateway speaks it: one message in, one reply out.

Two protocol eras share the endpoint. The handshake era (2025-03-26/06-18/11-25,
`handshake.py`) opens with `initialize`, which issues an `Mcp-Session-Id`. The stateless era
(2026-07-28, `stateless.py`, served only when the gateway's `supportedVersions` lists it) has
no handshake and no session; each request carries an envelope instead. A request goes the
2026 way when its `MCP-Protocol-Version` header names a stateless revision, or when it has no
handshake-era header and its `_meta` carries a protocol version; everything else goes the
handshake way. Either way the methods are the same few: `tools/list`, `tools/call` (`tools.py`)
and `ping`, plus `server/discover` at 2026-07-28.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, MCP_PROTOCOL_VERSION_HEADER
from mcp_types import PROTOCOL_VERSION_META_KEY

from agentgw_local.gateway import stateless
from agentgw_local.gateway.catalog import HANDSHAKE_VERSIONS, MODERN_VERSIONS, GatewayView
from agentgw_local.gateway.handshake import Sessions
from agentgw_local.gateway.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    RpcError,
    error_body,
)
from agentgw_local.gateway.tools import Tools

# The methods `stats` counts by name; any other is counted under UNKNOWN_METHOD.
COUNTED_METHODS = frozenset({"initialize", "ping", "tools/list", "tools/call", "server/discover"})
UNKNOWN_METHOD = "unknown_method"


@dataclass(frozen=True)
class Reply:
    """What to answer one POSTed message with."""

    status: int
    body: dict[str, Any] | None = None  # None: an empty body
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    # The reply to a JSON-RPC request, which a client that accepts only SSE gets as an SSE event;
    # refusals of the message itself are plain JSON.
    answers_request: bool = False


ACCEPTED = Reply(202)


class McpProtocol:
    """Dispatches the JSON-RPC messages posted to any gateway."""

    def __init__(self, tools: Tools, sessions: Sessions, stats: Counter[str]) -> None:
        self.tools = tools
        self.sessions = sessions
        # One count per JSON-RPC request method ("initialize", "tools/list", "tools/call", ...).
        self.stats = stats

    async def handle(self, view: GatewayView, message: Any, headers: dict[str, str], client: str) -> Reply:
        """The reply to one decoded JSON body posted to `view`'s endpoint by `client` (the token's)."""
        if isinstance(message, list):
            return _refuse(INVALID_REQUEST, "Batch requests are not supported")
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return _refuse(INVALID_REQUEST, "Invalid Request: not JSON-RPC 2.0")
        if "method" not in message:  # a response to a server request we never sent
            return ACCEPTED
        if "id" not in message:  # a notification
            version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
            if version in MODERN_VERSIONS and version not in view.modern_versions:
                error = stateless.unsupported_version(view, version)
                return _refuse(error.code, error.message, error.data)
            return ACCEPTED
        request_id = message["id"]
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return _refuse(INVALID_REQUEST, "Invalid Request: id must be a string or number")
        extra: list[tuple[bytes, bytes]] = []
        status = 200
        modern = False
        try:
            method = message["method"]
            if isinstance(method, str):
                # Client-chosen names: a counter per name would grow with every new one.
                self.stats[method if method in COUNTED_METHODS else UNKNOWN_METHOD] += 1
            params = message.get("params") or {}
            if not isinstance(params, dict):
                raise RpcError(INVALID_PARAMS, "params must be an object")
            if method == "initialize":  # handshake era only, whatever the headers or _meta say
                result, session_id = self.sessions.initialize(view, params, client)
                extra.append((b"mcp-session-id", session_id.encode()))
            else:
                # A few compares on the hot path: a handshake-era header settles it at once.
                version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
                if version in MODERN_VERSIONS:
                    modern = True
                elif version not in HANDSHAKE_VERSIONS:
                    meta = params.get("_meta")
                    modern = type(meta) is dict and PROTOCOL_VERSION_META_KEY in meta
                if modern:
                    result = await self._stateless(view, message, method, params, request_id, headers)
                else:
                    self.sessions.check(view, headers, client)
                    result = await self._handshake(view, method, params, request_id)
            body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "result": result}
        except RpcError as exc:
            # A refused 2026-07-28 request gets a 4xx by the SDK's table; the handshake era
            # answers JSON-RPC errors with 200 unless the error says otherwise.
            status = ERROR_CODE_HTTP_STATUS.get(exc.code, exc.http_status) if modern else exc.http_status
            body = error_body(request_id, exc.code, exc.message, exc.data)
        return Reply(status, body, extra, answers_request=True)

    async def _handshake(
        self, view: GatewayView, method: str, params: dict[str, Any], request_id: str | int
    ) -> dict[str, Any]:
        if method == "tools/call":
            return await self.tools.call(view, params, request_id)
        if method == "tools/list":
            return self.tools.list(view, params)
        if method == "ping":
            return {}
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    async def _stateless(
        self,
        view: GatewayView,
        message: dict[str, Any],
        method: str,
        params: dict[str, Any],
        request_id: str | int,
        headers: dict[str, str],
    ) -> dict[str, Any]:
        stateless.check_envelope(view, message, headers)
        if method == "tools/call":
            result = await self.tools.call(view, params, request_id)
        elif method == "tools/list":
            result = self.tools.list(view, params)
            # Cache hints (required at 2026-07-28): stale at once, since a target added to the
            # control plane shows up on the next request; not shared across tokens.
            result["ttlMs"] = 0
            result["cacheScope"] = "private"
        elif method == "server/discover":
            result = stateless.discover(view)
        elif method == "ping":  # removed from 2026-07-28, still answered: harmless, and probes use it
            result = {}
        else:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        # Every result built above is a fresh dict, so it is completed in place.
        return stateless.complete(view, result)


def _refuse(code: int, message: str, data: Any = None) -> Reply:
    """A 400 for a message that is not a request we can take (no id: there is none to answer)."""
    return Reply(400, error_body(None, code, message, data))
