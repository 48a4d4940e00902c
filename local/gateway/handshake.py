"""The handshake era of MCP (2025-03-26, 2025-06-18, 2025-11-25): `initialize` and sessions.

`initialize` negotiates a version from the gateway's `supportedVersions` and issues an
`Mcp-Session-Id`; later requests may carry it (an unknown one is 404, as the spec asks, so
the client starts over) and their `MCP-Protocol-Version` must be one the gateway serves.
Sessions are an id -> (gateway, version) table, bounded, oldest dropped first.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any
from uuid import uuid4

from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import PROTOCOL_VERSION_META_KEY

from agentgw_local.gateway.catalog import GatewayView
from agentgw_local.gateway.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    UNSUPPORTED_PROTOCOL_VERSION,
    RpcError,
)

MAX_SESSIONS = 50_000


class Sessions:
    """The open MCP sessions of every gateway, and the handshake that opens them."""

    def __init__(self, stats: Counter[str], max_sessions: int = MAX_SESSIONS) -> None:
        self._sessions: OrderedDict[str, tuple[str, str]] = OrderedDict()  # id -> (gateway, version)
        self._stats = stats
        self._max_sessions = max_sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def initialize(self, view: GatewayView, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The `initialize` result and the new session's id."""
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise RpcError(INVALID_PARAMS, "initialize: protocolVersion is required")
        versions = view.handshake_versions
        if not versions:
            raise RpcError(
                UNSUPPORTED_PROTOCOL_VERSION,
                f"initialize: this gateway's supportedVersions are {list(view.modern_versions)}, which have "
                "no initialize handshake; send server/discover (or the request itself) stamped with the "
                "version instead",
                http_status=400,
                data={"supported": list(view.modern_versions), "requested": requested},
            )
        # 2026-07-28 is not reachable through initialize: an offer of it gets the newest handshake one.
        version = requested if requested in versions else versions[-1]
        session_id = uuid4().hex
        self._sessions[session_id] = (view.gateway_id, version)
        self._stats["sessions_opened"] += 1
        if len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": view.server_info,
        }
        if view.protocol.get("instructions"):
            result["instructions"] = view.protocol["instructions"]
        return result, session_id

    def check(self, view: GatewayView, headers: dict[str, str]) -> None:
        """Refuse a handshake-era request whose session or protocol version this gateway does not know."""
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if session_id is not None:
            session = self._sessions.get(session_id)
            if session is None or session[0] != view.gateway_id:
                raise RpcError(INVALID_REQUEST, "Session not found", http_status=404)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        versions = view.handshake_versions
        if version is not None and version not in versions:
            raise RpcError(INVALID_REQUEST, f"Unsupported protocol version: {version}", http_status=400)
        if not versions:
            raise RpcError(
                UNSUPPORTED_PROTOCOL_VERSION,
                f"This gateway's supportedVersions are {list(view.modern_versions)}: stateless requests "
                f"only, each with the MCP-Protocol-Version and Mcp-Method headers and params._meta "
                f"{PROTOCOL_VERSION_META_KEY} (no initialize, no session)",
                http_status=400,
                data={"supported": list(view.modern_versions)},
            )

    def close(self, session_id: str) -> bool:
        """End a session (DELETE); False when there is no such session."""
        if self._sessions.pop(session_id, None) is None:
            return False
        self._stats["sessions_closed"] += 1
        return True
