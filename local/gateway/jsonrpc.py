"""JSON-RPC 2.0 error objects as the gateway sends them.

The error codes are the mcp SDK's (`mcp_types.jsonrpc`); only the authorization code is
AgentCore's own.
"""

from __future__ import annotations

from typing import Any

from mcp_types.jsonrpc import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)

UNAUTHORIZED = -32001  # AgentCore answers a refused token with this code (and HTTP 401/403)

__all__ = [
    "HEADER_MISMATCH",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "UNAUTHORIZED",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "RpcError",
    "error_body",
]


class RpcError(Exception):
    """A request's JSON-RPC error; `http_status` is the handshake era's status (2026-07-28 maps
    the code through the SDK's table instead)."""

    def __init__(self, code: int, message: str, http_status: int = 200, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.data = data


def error_body(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
