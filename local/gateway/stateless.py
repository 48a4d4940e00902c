"""The stateless era of MCP (2026-07-28): no handshake, no session, an envelope on every request.

Each request carries its version in the `MCP-Protocol-Version` header and in
`params._meta`, its method in `Mcp-Method` and (a tools/call) its tool in `Mcp-Name`;
`server/discover` describes the gateway, and every result is stamped with `resultType` and
the server's info. A gateway serves this era only when its `supportedVersions` lists it.

The mcp SDK's `classify_inbound_request` decides whether an envelope passes, and which error
code a failure gets, in the SDK's order (the `_meta` envelope, then the headers against the
body, then the version). This module only words the refusal for the person reading it: what
is missing, or which two values disagree.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    NAME_BEARING_METHODS,
    InboundLadderRejection,
    classify_inbound_request,
    decode_header_value,
)
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY

from agentgw_local.gateway.catalog import GatewayView
from agentgw_local.gateway.jsonrpc import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    UNSUPPORTED_PROTOCOL_VERSION,
    RpcError,
)


def check_envelope(view: GatewayView, message: dict[str, Any], headers: dict[str, str]) -> None:
    """Refuse a 2026-07-28 request whose envelope is incomplete, disagrees with its headers, or
    names a version this gateway does not serve."""
    outcome = classify_inbound_request(
        message, headers=headers, supported_modern_versions=view.modern_versions
    )
    if not isinstance(outcome, InboundLadderRejection):
        return
    if outcome.code == UNSUPPORTED_PROTOCOL_VERSION:
        raise unsupported_version(view, outcome.data["requested"])
    raise RpcError(outcome.code, _explain(outcome, message, headers), data=outcome.data)


def unsupported_version(view: GatewayView, version: str) -> RpcError:
    # `supported` lists every version the gateway accepts, so a client whose 2026-07-28 probe is
    # refused here (the mcp SDK's mode="auto") falls back to the initialize handshake.
    supported = [*view.handshake_versions, *view.modern_versions]
    return RpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {version}; this gateway's supportedVersions are {supported}",
        http_status=400,
        data={"supported": supported, "requested": version},
    )


def discover(view: GatewayView) -> dict[str, Any]:
    """The `server/discover` result."""
    # As the mcp SDK's 2026 server: supportedVersions names the stateless revisions (the
    # handshake ones are reached through initialize); stale at once, not shared across tokens.
    result: dict[str, Any] = {
        "supportedVersions": list(view.modern_versions),
        "capabilities": {"tools": {"listChanged": False}},
        "ttlMs": 0,
        "cacheScope": "private",
    }
    if view.protocol.get("instructions"):
        result["instructions"] = view.protocol["instructions"]
    return result


def complete(view: GatewayView, result: dict[str, Any]) -> dict[str, Any]:
    """Stamp a fresh result dict (in place) as 2026-07-28 requires: resultType and serverInfo."""
    result["resultType"] = "complete"
    meta = result.get("_meta")
    if meta is None:
        result["_meta"] = {SERVER_INFO_META_KEY: view.server_info}
    else:
        meta[SERVER_INFO_META_KEY] = view.server_info
    return result


def _explain(rejection: InboundLadderRejection, message: dict[str, Any], headers: dict[str, str]) -> str:
    params = message.get("params") or {}
    if rejection.code == INVALID_PARAMS:
        meta = params.get("_meta")
        if type(meta) is not dict:
            return (
                f"params._meta must be an object with {PROTOCOL_VERSION_META_KEY} and "
                f"{CLIENT_CAPABILITIES_META_KEY}: a 2026-07-28 request states its protocol version and "
                "client capabilities each time"
            )
        missing = [
            key for key in (PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY) if key not in meta
        ]
        if missing:
            return f"params._meta is missing {' and '.join(missing)} (2026-07-28 requires it)"
    elif rejection.code == HEADER_MISMATCH:
        return _header_mismatch(message, params, headers) or rejection.message
    return rejection.message


def _header_mismatch(message: dict[str, Any], params: dict[str, Any], headers: dict[str, str]) -> str | None:
    """Which routing header is missing or disagrees with the body, in the SDK's order."""
    version = params["_meta"][PROTOCOL_VERSION_META_KEY]
    header_version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    if header_version is None:
        return (
            f"MCP-Protocol-Version header is missing; params._meta {PROTOCOL_VERSION_META_KEY} is "
            f"{version!r} and a 2026-07-28 request carries both"
        )
    if header_version != version:
        return (
            f"MCP-Protocol-Version header {header_version!r} does not match params._meta "
            f"{PROTOCOL_VERSION_META_KEY} {version!r}"
        )
    method = message.get("method")
    method_header = headers.get(MCP_METHOD_HEADER)
    if method_header is None:
        return f"Mcp-Method header is missing; a 2026-07-28 request names its method ({method!r}) in it"
    if method_header != method:
        return f"Mcp-Method header {method_header!r} does not match the body's method {method!r}"
    name_key = NAME_BEARING_METHODS.get(method) if isinstance(method, str) else None
    if name_key is None:
        return None
    name = params.get(name_key)
    name_header = headers.get(MCP_NAME_HEADER)
    if name_header is None:
        what = "tool" if method == "tools/call" else name_key
        return f"Mcp-Name header is missing; a 2026-07-28 {method} names its {what} ({name!r}) in it"
    if decode_header_value(name_header) != name:
        return f"Mcp-Name header {name_header!r} does not match the body's params.{name_key} {name!r}"
    return None
