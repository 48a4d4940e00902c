"""Helpers for the integration tests: extra Cognito pools, gateways and targets in the running
stack's emulated control plane (`Kit`), and a bare JSON-RPC client for the gateway (`Mcp`)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentgw import endpoints
from agentgw.tools import target_name, tool_definitions
from agentgw_local.stack import LocalStack
from agentgw_local.template import FunctionSpec, Template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ACCEPT = "application/json, text/event-stream"


@dataclass(frozen=True)
class Authz:
    """A Cognito pool with a client_credentials client, as provisioning makes one."""

    pool_id: str
    domain: str
    client_id: str
    client_secret: str
    scope: str
    token_url: str
    discovery_url: str

    def token(self, scope: str | None = None) -> str:
        response = httpx.post(
            self.token_url,
            data={"grant_type": "client_credentials", **({"scope": scope} if scope else {})},
            auth=(self.client_id, self.client_secret),
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


_names = itertools.count(1)


class Kit:
    """Builds Cognito pools, gateways and targets in the stack's emulated control plane."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.aws is not None
        self.stack = stack
        self.aws = stack.aws

    def cognito(self, *, scope_name: str = "invoke") -> Authz:
        n = next(_names)
        idp = self.aws.client("cognito-idp")
        pool_id = idp.create_user_pool(PoolName=f"kit-{n}")["UserPool"]["Id"]
        domain = f"kit-{n}-{uuid.uuid4().hex[:8]}"
        idp.create_user_pool_domain(Domain=domain, UserPoolId=pool_id)
        identifier = f"kit{n}"
        idp.create_resource_server(
            UserPoolId=pool_id,
            Identifier=identifier,
            Name=identifier,
            Scopes=[{"ScopeName": scope_name, "ScopeDescription": "call the gateway"}],
        )
        scope = f"{identifier}/{scope_name}"
        client = self.client(pool_id, [scope])
        return Authz(
            pool_id=pool_id,
            domain=domain,
            client_id=client["ClientId"],
            client_secret=client["ClientSecret"],
            scope=scope,
            token_url=endpoints.cognito_token_url(self.aws.region, domain),
            discovery_url=endpoints.cognito_discovery_url(self.aws.region, pool_id),
        )

    def client(self, pool_id: str, scopes: list[str], *, flows: list[str] | None = None) -> dict[str, Any]:
        idp = self.aws.client("cognito-idp")
        return dict(
            idp.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=f"kit-client-{next(_names)}",
                GenerateSecret=True,
                AllowedOAuthFlows=flows or ["client_credentials"],
                AllowedOAuthScopes=scopes,
                AllowedOAuthFlowsUserPoolClient=True,
            )["UserPoolClient"]
        )

    def gateway(
        self,
        authz: Authz,
        *,
        debug: bool = True,
        search: bool = True,
        authorizer: dict[str, Any] | None = None,
        versions: list[str] | None = None,
    ) -> str:
        """A READY gateway; `authorizer` overrides/extends the customJWTAuthorizer fields."""
        control = self.aws.client("bedrock-agentcore-control")
        mcp: dict[str, Any] = {
            "supportedVersions": versions or ["2025-03-26", "2025-06-18", "2025-11-25"],
        }
        if search:
            mcp["searchType"] = "SEMANTIC"
        extra: dict[str, Any] = {"exceptionLevel": "DEBUG"} if debug else {}
        gateway_id = control.create_gateway(
            name=f"kit-gw-{next(_names)}",
            roleArn=self.aws.arn("iam", "role/kit-gateway"),
            protocolType="MCP",
            protocolConfiguration={"mcp": mcp},
            authorizerType="CUSTOM_JWT",
            authorizerConfiguration={
                "customJWTAuthorizer": {
                    "discoveryUrl": authz.discovery_url,
                    "allowedClients": [authz.client_id],
                    **(authorizer or {}),
                }
            },
            **extra,
        )["gatewayId"]
        assert control.get_gateway(gatewayIdentifier=gateway_id)["status"] == "READY"
        return str(gateway_id)

    def function(self, name: str, handler: Callable[[Any, Any], Any]) -> str:
        spec = FunctionSpec(
            logical_id=name.replace("-", ""),
            code_uri=PROJECT_ROOT,
            handler="kit.handler",
            timeout_s=30,
            memory_mb=128,
        )
        return self.aws.register_function(name, spec, handler)

    def tools_function(self) -> str:
        return self.aws.register_function("kit-tools", Template().functions()["ToolsFunction"])

    def target(
        self, gateway_id: str, lambda_arn: str, tools: list[dict[str, Any]], *, name: str | None = None
    ) -> str:
        control = self.aws.client("bedrock-agentcore-control")
        target_id = control.create_gateway_target(
            gatewayIdentifier=gateway_id,
            name=name or f"kit{next(_names)}",
            targetConfiguration={
                "mcp": {"lambda": {"lambdaArn": lambda_arn, "toolSchema": {"inlinePayload": tools}}}
            },
            credentialProviderConfigurations=[{"credentialProviderType": "GATEWAY_IAM_ROLE"}],
        )["targetId"]
        control.get_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)  # -> READY
        return str(target_id)

    def timeweather_gateway(self, authz: Authz, **kwargs: Any) -> str:
        gateway_id = self.gateway(authz, **kwargs)
        self.target(gateway_id, self.tools_function(), tool_definitions(), name=target_name())
        return gateway_id

    def mcp_url(self, gateway_id: str) -> str:
        return endpoints.gateway_mcp_url(gateway_id)


class Mcp:
    """A bare JSON-RPC-over-HTTP client for the gateway (to see exactly what goes on the wire)."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self.session_id: str | None = None
        self._ids = itertools.count(1)

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        headers.update(extra)
        return headers

    def post(self, body: Any, **headers: str) -> httpx.Response:
        return httpx.post(self.url, json=body, headers=self.headers(**headers), timeout=120)

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            body["params"] = params
        response = self.post(body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def initialize(self, version: str = "2025-06-18") -> dict[str, Any]:
        response = self.post(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "tests", "version": "0"},
                },
            }
        )
        assert response.status_code == 200, response.text
        self.session_id = response.headers["mcp-session-id"]
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return dict(response.json()["result"])

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def list_all(self) -> tuple[list[dict[str, Any]], int]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        pages = 0
        while True:
            reply = self.request("tools/list", {"cursor": cursor} if cursor else {})
            pages += 1
            tools.extend(reply["result"]["tools"])
            cursor = reply["result"].get("nextCursor")
            if not cursor:
                return tools, pages
