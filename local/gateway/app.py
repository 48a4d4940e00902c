"""The local gateway's HTTP surface: its routes, who may call them, and the wiring of its parts.

Every gateway in the emulated control plane is served at `{base}/gateways/{gateway_id}/mcp`
(MCP streamable HTTP) with its RFC 9728 metadata beside it. A request is looked up in the
catalog (a gateway that does not exist or is not serving is 404), authorized by the
gateway's CUSTOM_JWT authorizer (401/403 with a `WWW-Authenticate` challenge), then framed by
the transport, answered by the protocol and, for tools, by the gateway's target kinds.
Per request that is a dict lookup for the gateway snapshot and the verified token, one
jsonschema validation with a precompiled validator, and the target call (a Lambda handler in
a worker thread: handlers block, e.g. on HTTP).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from agentgw_local.gateway import protected_resource
from agentgw_local.gateway.auth import AuthError, JwtAuthorizer
from agentgw_local.gateway.catalog import Catalog, GatewayView
from agentgw_local.gateway.handshake import Sessions
from agentgw_local.gateway.jsonrpc import INTERNAL_ERROR, UNAUTHORIZED, error_body
from agentgw_local.gateway.protocol import McpProtocol
from agentgw_local.gateway.search_index import ToolSearch
from agentgw_local.gateway.targets import LambdaTargets
from agentgw_local.gateway.tools import DEFAULT_PAGE_SIZE, Tools
from agentgw_local.gateway.transport import AsgiEndpoint, StreamableHttp, header_map, send_json
from agentgw_local.gateway.workers import WorkerPool
from agentgw_local.lambda_runtime import LambdaRuntime


class LocalGateway:
    """Serves every gateway in the emulated control plane."""

    def __init__(
        self,
        *,
        base_url: str,
        region: str,
        lambdas: LambdaRuntime,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_concurrent_invocations: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.lambdas = lambdas
        self.workers = WorkerPool(max_concurrent_invocations)
        # The target kinds served; another kind is another entry here (see targets/kind.py).
        self.catalog = Catalog(region=region, kinds=[LambdaTargets(lambdas, self.workers)])
        self.authorizer = JwtAuthorizer()
        # Server-side counts (benchmarks, tests): one per JSON-RPC request method
        # ("initialize", "tools/list", "tools/call", ...), plus "sessions_opened",
        # "sessions_closed" and "auth_errors".
        self.stats: Counter[str] = Counter()
        self.sessions = Sessions(self.stats)
        self.search = ToolSearch()
        self.tools = Tools(self.search, self.workers, page_size)
        self.transport = StreamableHttp(McpProtocol(self.tools, self.sessions, self.stats))

    @property
    def page_size(self) -> int:
        return self.tools.page_size

    def warm_search(self, gateway_id: str) -> None:
        """Build the gateway's search index now (blocking), so that its first search is fast."""
        view = self.catalog.view(gateway_id)
        if view is not None and view.search_enabled:
            self.search.warm(view)

    # -- URLs ------------------------------------------------------------------------------
    def mcp_url(self, gateway_id: str) -> str:
        return f"{self.base_url}/gateways/{gateway_id}/mcp"

    def resource_metadata_url(self, gateway_id: str) -> str:
        return f"{self.base_url}/gateways/{gateway_id}/.well-known/oauth-protected-resource"

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/gateways/{gateway_id}/mcp", AsgiEndpoint(self.handle_mcp), methods=["GET", "POST", "DELETE"]
            ),
            Route(
                "/gateways/{gateway_id}/.well-known/oauth-protected-resource",
                self._protected_resource,
                methods=["GET"],
            ),
            # RFC 9728 §3.1's form: the well-known segment goes between host and path.
            Route(
                "/.well-known/oauth-protected-resource/gateways/{gateway_id}/mcp",
                self._protected_resource,
                methods=["GET"],
            ),
        ]

    async def aclose(self) -> None:
        await self.authorizer.aclose()
        self.workers.close()

    # -- RFC 9728 ------------------------------------------------------------------------
    async def _protected_resource(self, request: Request) -> Response:
        gateway_id = request.path_params["gateway_id"]
        view = self.catalog.view(gateway_id)
        if view is None or not view.serving:
            return JSONResponse({"message": f"Gateway {gateway_id} not found"}, status_code=404)
        return JSONResponse(protected_resource.metadata(view, self.mcp_url(gateway_id)))

    # -- MCP endpoint (raw ASGI for speed) ------------------------------------------------
    async def handle_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway_id = scope["path_params"]["gateway_id"]
        headers = header_map(scope)
        view = self.catalog.view(gateway_id)
        if view is None or not view.serving:
            status = "" if view is None else f" (status {view.status})"
            await send_json(send, 404, {"message": f"Gateway {gateway_id} not found{status}"})
            return
        try:
            claims = await self._authorize(view, headers.get("authorization"))
        except AuthError as exc:
            self.stats["auth_errors"] += 1
            await self._send_auth_error(send, view, exc)
            return
        # Who the request is from, for the sessions it opens and uses (Cognito access tokens
        # carry client_id; others name their subject).
        client = str(claims.get("client_id") or claims.get("sub") or "")
        await self.transport.serve(view, scope, receive, send, headers, client)

    async def _authorize(self, view: GatewayView, authorization: str | None) -> dict[str, Any]:
        """The token's claims; AuthError when the gateway's authorizer refuses the request."""
        if view.authorizer_type == "NONE":
            return {}
        if view.authorizer_type != "CUSTOM_JWT":
            raise AuthError(
                f"authorizer type {view.authorizer_type} is not supported by the local gateway", status=500
            )
        return await self.authorizer.authorize(authorization, view.authorizer)

    async def _send_auth_error(self, send: Send, view: GatewayView, exc: AuthError) -> None:
        challenge = protected_resource.challenge(view, exc, self.resource_metadata_url(view.gateway_id))
        extra = [(b"www-authenticate", challenge.encode())] if challenge is not None else []
        code = UNAUTHORIZED if exc.status in (401, 403) else INTERNAL_ERROR
        await send_json(send, exc.status, error_body(None, code, exc.message), extra=extra)

    @property
    def open_sessions(self) -> int:
        """How many MCP sessions are open (across all gateways)."""
        return len(self.sessions)
