"""The handshake era of MCP (2025-03-26, 2025-06-18, 2025-11-25): `initialize` and sessions.

`initialize` negotiates a version from the gateway's `supportedVersions` and issues an
`Mcp-Session-Id`; later requests may carry it (an unknown one is 404, as the spec asks, so
the client starts over) and their `MCP-Protocol-Version` must be one the gateway serves.

A session belongs to the gateway and the client (the token's `client_id`) that opened it: for
anyone else, on any gateway, it does not exist (404), so a session id seen elsewhere is no use.
The table is bounded per client (a client past its share loses its own oldest session, never
another's) and in all (oldest first).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any, NamedTuple
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
MAX_SESSIONS_PER_CLIENT = 1_000


class _Session(NamedTuple):
    gateway_id: str
    version: str
    client: str


class Sessions:
    """The open MCP sessions of every gateway, and the handshake that opens them."""

    def __init__(
        self,
        stats: Counter[str],
        max_sessions: int = MAX_SESSIONS,
        max_per_client: int = MAX_SESSIONS_PER_CLIENT,
    ) -> None:
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._by_client: dict[str, OrderedDict[str, None]] = {}  # client -> its session ids, oldest first
        self._stats = stats
        self._max_sessions = max_sessions
        self._max_per_client = max_per_client

    def __len__(self) -> int:
        return len(self._sessions)

    def initialize(
        self, view: GatewayView, params: dict[str, Any], client: str
    ) -> tuple[dict[str, Any], str]:
        """The `initialize` result and the id of the new session, which belongs to `client`."""
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
        self._sessions[session_id] = _Session(view.gateway_id, version, client)
        own = self._by_client.setdefault(client, OrderedDict())
        own[session_id] = None
        self._stats["sessions_opened"] += 1
        if len(own) > self._max_per_client:
            self._forget(next(iter(own)))
        if len(self._sessions) > self._max_sessions:
            self._forget(next(iter(self._sessions)))
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": view.server_info,
        }
        if view.protocol.get("instructions"):
            result["instructions"] = view.protocol["instructions"]
        return result, session_id

    def check(self, view: GatewayView, headers: dict[str, str], client: str) -> None:
        """Refuse a handshake-era request whose session or protocol version this gateway does not
        know, or whose session another client opened."""
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if session_id is not None and self._owned(session_id, view, client) is None:
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

    def close(self, session_id: str, view: GatewayView, client: str) -> bool:
        """End a session (DELETE); False when `client` has no such session on this gateway."""
        if self._owned(session_id, view, client) is None:
            return False
        self._forget(session_id)
        self._stats["sessions_closed"] += 1
        return True

    def _owned(self, session_id: str, view: GatewayView, client: str) -> _Session | None:
        session = self._sessions.get(session_id)
        if session is None or session.gateway_id != view.gateway_id or session.client != client:
            return None
        return session

    def _forget(self, session_id: str) -> None:
        session = self._sessions.pop(session_id)
        own = self._by_client[session.client]
        del own[session_id]
        if not own:
            del self._by_client[session.client]
