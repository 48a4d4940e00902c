"""The gateway as an OAuth protected resource: RFC 9728 metadata and `WWW-Authenticate` challenges.

A client refused for want of a token learns from the challenge where the resource's metadata
is, and from the metadata which authorization server issues tokens for it and with which
scopes (the MCP authorization spec's discovery path).
"""

from __future__ import annotations

from typing import Any

from agentgw_local.gateway.auth import AuthError
from agentgw_local.gateway.catalog import GatewayView


def metadata(view: GatewayView, resource: str) -> dict[str, Any]:
    """The RFC 9728 document for the gateway whose MCP endpoint is `resource`."""
    document: dict[str, Any] = {"resource": resource, "bearer_methods_supported": ["header"]}
    discovery = view.authorizer.get("discoveryUrl")
    if discovery:
        document["authorization_servers"] = [discovery.removesuffix("/.well-known/openid-configuration")]
    scopes = view.authorizer.get("allowedScopes")
    if scopes:
        mapping = view.authorizer.get("advertisedScopeMapping") or {}
        document["scopes_supported"] = [mapping.get(s, s) for s in scopes]
    return document


def challenge(view: GatewayView, error: AuthError, metadata_url: str) -> str | None:
    """The `WWW-Authenticate` value for a refused request (RFC 6750 §3), None for a server error."""
    if error.status not in (401, 403):
        return None
    pointer = f'resource_metadata="{metadata_url}"'
    if error.status == 403:
        scopes = " ".join(view.authorizer.get("allowedScopes") or [])
        return f'Bearer error="insufficient_scope", scope="{scopes}", {pointer}'
    if error.message != "Missing Bearer token":
        return f'Bearer error="invalid_token", {pointer}'
    return f"Bearer {pointer}"
