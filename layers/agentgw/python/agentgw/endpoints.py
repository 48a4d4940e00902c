"""Public URLs of the gateway and of Cognito, derived from resource ids.

In AWS these follow fixed patterns. The local stack serves the same things on loopback and
says where through three environment variables (URLs, never secrets), which only it sets:

- `AGENTGW_GATEWAY_URL_TEMPLATE`, e.g. `http://127.0.0.1:8080/gateways/{gateway_id}/mcp`
- `AGENTGW_COGNITO_IDP_URL`, e.g. `http://127.0.0.1:8080/cognito-idp`
- `AGENTGW_COGNITO_DOMAIN_URL_TEMPLATE`, e.g. `http://127.0.0.1:8080/cognito/{domain}`
"""

from __future__ import annotations

import os

MCP_PATH = "/mcp"


def gateway_mcp_url(gateway_id: str, service_url: str | None = None) -> str:
    """The gateway's MCP endpoint: `https://{id}.gateway.bedrock-agentcore.{region}.amazonaws.com/mcp`.

    `service_url` is the `gatewayUrl` the control plane returned, used as-is (plus `/mcp`
    when missing) outside the local stack.
    """
    template = os.environ.get("AGENTGW_GATEWAY_URL_TEMPLATE")
    if template:
        return template.format(gateway_id=gateway_id)
    if not service_url:
        region = os.environ["AWS_REGION"]
        service_url = f"https://{gateway_id}.gateway.bedrock-agentcore.{region}.amazonaws.com"
    service_url = service_url.rstrip("/")
    return service_url if service_url.endswith(MCP_PATH) else service_url + MCP_PATH


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The `iss` of the pool's tokens."""
    base = os.environ.get("AGENTGW_COGNITO_IDP_URL") or f"https://cognito-idp.{region}.amazonaws.com"
    return f"{base.rstrip('/')}/{user_pool_id}"


def cognito_discovery_url(region: str, user_pool_id: str) -> str:
    """OIDC discovery document of the pool (what CUSTOM_JWT's `discoveryUrl` takes)."""
    return f"{cognito_issuer(region, user_pool_id)}/.well-known/openid-configuration"


def cognito_domain_url(region: str, domain: str) -> str:
    """Base URL of the pool's hosted domain (prefix domain)."""
    template = os.environ.get("AGENTGW_COGNITO_DOMAIN_URL_TEMPLATE")
    if template:
        return template.format(domain=domain, region=region).rstrip("/")
    return f"https://{domain}.auth.{region}.amazoncognito.com"


def cognito_token_url(region: str, domain: str) -> str:
    """The OAuth 2.0 token endpoint (client_credentials grant)."""
    return f"{cognito_domain_url(region, domain)}/oauth2/token"
