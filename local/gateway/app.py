"""The gateway data plane: MCP streamable HTTP at `{base}/gateways/{gateway_id}/mcp`.

AgentCore's gateway is not the mcp SDK's server, and a later benchmark wants thousands of
calls a second through it, so this is a lean ASGI endpoint speaking JSON-RPC directly:
every request answers with one JSON body (or one SSE event for clients that accept only
`text/event-stream`), notifications get 202, GET gets 405 (allowed when a server offers no
SSE stream), DELETE ends the session. Per request it does a dict lookup for the gateway
snapshot and the verified token, one jsonschema validation with a precompiled validator,
and the Lambda handler call in a worker thread (handlers block, e.g. on HTTP).

Two protocol eras share the endpoint. 2025-03-26/06-18/11-25 open with `initialize`, which
issues an `Mcp-Session-Id`. 2026-07-28 (served only when the gateway's `supportedVersions`
lists it) is stateless: no handshake and no session; each request carries its version in the
`MCP-Protocol-Version` header and in `params._meta`, its method in `Mcp-Method` (and a
tools/call its tool in `Mcp-Name`), and `server/discover` describes the gateway. A request
goes the 2026 way when its header names 2026-07-28, or when it has no handshake-era header and
its `_meta` carries a protocol version; everything else is handled exactly as before.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import json
import logging
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import jsonschema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agentgw_local.gateway.auth import AuthError, JwtAuthorizer
from agentgw_local.gateway.catalog import (
    HANDSHAKE_VERSIONS,
    MODERN_VERSIONS,
    SEARCH_TOOL,
    SEARCH_TOOL_NAME,
    Catalog,
    GatewayView,
    Tool,
)
from agentgw_local.lambda_runtime import LambdaRuntime

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = HANDSHAKE_VERSIONS  # what `initialize` negotiates (never 2026-07-28)
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
SERVER_VERSION = "1.0.0"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's and AgentCore's synchronous payload limit
DEFAULT_PAGE_SIZE = 30
MAX_SESSIONS = 50_000
GENERIC_TOOL_ERROR = "An internal error occurred. Please retry later."

# JSON-RPC / MCP error codes
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNAUTHORIZED = -32001
HEADER_MISMATCH = -32020  # 2026-07-28: headers missing or disagreeing with the body
UNSUPPORTED_PROTOCOL_VERSION = -32022  # 2026-07-28: data = {"supported": [...], "requested": v}

# 2026-07-28 request metadata (params._meta keys, result._meta key).
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"
# A rejected 2026-07-28 request gets a 4xx, as the mcp SDK's 2026 server answers (its table);
# the handshake era keeps answering JSON-RPC errors with 200.
MODERN_ERROR_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RpcError(Exception):
    def __init__(self, code: int, message: str, http_status: int = 200, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.data = data


class _PayloadTooLarge(Exception):
    pass


class LocalGateway:
    """Serves every gateway in the emulated control plane."""

    def __init__(
        self,
        *,
        base_url: str,
        region: str,
        lambdas: LambdaRuntime,
        catalog: Catalog | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_concurrent_invocations: int = 64,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.lambdas = lambdas
        self.catalog = catalog or Catalog(region=region)
        self.page_size = page_size
        self.authorizer = JwtAuthorizer()
        self._sessions: OrderedDict[str, tuple[str, str]] = OrderedDict()  # id -> (gateway, version)
        self._max_concurrent = max_concurrent_invocations
        self._executor: ThreadPoolExecutor | None = None
        # Server-side counts (benchmarks, tests): one per JSON-RPC request method
        # ("initialize", "tools/list", "tools/call", ...), plus "sessions_opened",
        # "sessions_closed" and "auth_errors".
        self.stats: Counter[str] = Counter()

    # -- URLs ------------------------------------------------------------------------------
    def mcp_url(self, gateway_id: str) -> str:
        return f"{self.base_url}/gateways/{gateway_id}/mcp"

    def resource_metadata_url(self, gateway_id: str) -> str:
        return f"{self.base_url}/gateways/{gateway_id}/.well-known/oauth-protected-resource"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/gateways/{gateway_id}/mcp", _Asgi(self.handle_mcp), methods=["GET", "POST", "DELETE"]),
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
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- RFC 9728 ------------------------------------------------------------------------
    async def _protected_resource(self, request: Request) -> Response:
        gateway_id = request.path_params["gateway_id"]
        view = self.catalog.view(gateway_id)
        if view is None or not view.serving:
            return JSONResponse({"message": f"Gateway {gateway_id} not found"}, status_code=404)
        metadata: dict[str, Any] = {
            "resource": self.mcp_url(gateway_id),
            "bearer_methods_supported": ["header"],
        }
        discovery = view.authorizer.get("discoveryUrl")
        if discovery:
            metadata["authorization_servers"] = [discovery.removesuffix("/.well-known/openid-configuration")]
        scopes = view.authorizer.get("allowedScopes")
        if scopes:
            mapping = view.authorizer.get("advertisedScopeMapping") or {}
            metadata["scopes_supported"] = [mapping.get(s, s) for s in scopes]
        return JSONResponse(metadata)

    # -- MCP endpoint (raw ASGI for speed) ------------------------------------------------
    async def handle_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway_id = scope["path_params"]["gateway_id"]
        headers = _headers(scope)
        view = self.catalog.view(gateway_id)
        if view is None or not view.serving:
            status = "" if view is None else f" (status {view.status})"
            await _send_json(send, 404, {"message": f"Gateway {gateway_id} not found{status}"})
            return
        try:
            claims = await self._authorize(view, headers.get("authorization"))
        except AuthError as exc:
            self.stats["auth_errors"] += 1
            await self._send_auth_error(send, view, exc)
            return
        method = scope["method"]
        if method == "POST":
            await self._post(view, claims, headers, receive, send)
        elif method == "DELETE":
            await self._delete(headers, send)
        else:
            await _send_json(
                send,
                405,
                _rpc_error(None, INVALID_REQUEST, "Method Not Allowed: this gateway offers no SSE stream"),
                extra=[(b"allow", b"POST, DELETE")],
            )

    async def _authorize(self, view: GatewayView, authorization: str | None) -> dict[str, Any]:
        if view.authorizer_type == "NONE":
            return {}
        if view.authorizer_type != "CUSTOM_JWT":
            raise AuthError(
                f"authorizer type {view.authorizer_type} is not supported by the local gateway", status=500
            )
        return await self.authorizer.authorize(authorization, view.authorizer)

    async def _send_auth_error(self, send: Send, view: GatewayView, exc: AuthError) -> None:
        challenge = f'Bearer resource_metadata="{self.resource_metadata_url(view.gateway_id)}"'
        if exc.status == 403:
            scopes = " ".join(view.authorizer.get("allowedScopes") or [])
            challenge = f'Bearer error="insufficient_scope", scope="{scopes}", ' + challenge[len("Bearer ") :]
        elif exc.status == 401 and exc.message != "Missing Bearer token":
            challenge = 'Bearer error="invalid_token", ' + challenge[len("Bearer ") :]
        extra = [(b"www-authenticate", challenge.encode())] if exc.status in (401, 403) else []
        code = UNAUTHORIZED if exc.status in (401, 403) else INTERNAL_ERROR
        await _send_json(send, exc.status, _rpc_error(None, code, exc.message), extra=extra)

    async def _delete(self, headers: dict[str, str], send: Send) -> None:
        session_id = headers.get("mcp-session-id")
        if not session_id:
            await _send_json(
                send, 400, _rpc_error(None, INVALID_REQUEST, "Mcp-Session-Id header is required")
            )
        elif self._sessions.pop(session_id, None) is None:
            await _send_json(send, 404, _rpc_error(None, INVALID_REQUEST, "Session not found"))
        else:
            self.stats["sessions_closed"] += 1
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})

    async def _post(
        self,
        view: GatewayView,
        claims: dict[str, Any],
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        accept = headers.get("accept", "")
        sse = _wants_sse(accept)
        if sse is None:
            await _send_json(
                send,
                406,
                _rpc_error(None, INVALID_REQUEST, "Accept must allow application/json or text/event-stream"),
            )
            return
        try:
            body = await _read_body(receive, headers)
        except _PayloadTooLarge:
            await _send_json(
                send,
                413,
                _rpc_error(
                    None, INVALID_REQUEST, f"Request payload exceeds the {MAX_PAYLOAD_BYTES} byte limit"
                ),
            )
            return
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            await _send_json(send, 400, _rpc_error(None, PARSE_ERROR, f"Parse error: {exc}"))
            return
        except RecursionError:  # the decoder recurses per level: deep nesting is a bad request
            await _send_json(send, 400, _rpc_error(None, PARSE_ERROR, "Parse error: JSON nested too deeply"))
            return
        if isinstance(message, list):
            await _send_json(send, 400, _rpc_error(None, INVALID_REQUEST, "Batch requests are not supported"))
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            await _send_json(
                send, 400, _rpc_error(None, INVALID_REQUEST, "Invalid Request: not JSON-RPC 2.0")
            )
            return
        if "method" not in message:  # a response to a server request we never sent
            await _send_empty(send, 202)
            return
        if "id" not in message:  # a notification
            version = headers.get("mcp-protocol-version")
            if version in MODERN_VERSIONS and version not in view.modern_versions:
                error = _unsupported_version(view, version)
                await _send_json(send, 400, _rpc_error(None, error.code, error.message, error.data))
                return
            await _send_empty(send, 202)
            return
        request_id = message["id"]
        if isinstance(request_id, bool) or not isinstance(request_id, str | int):
            await _send_json(
                send, 400, _rpc_error(None, INVALID_REQUEST, "Invalid Request: id must be a string or number")
            )
            return
        extra: list[tuple[bytes, bytes]] = []
        status = 200
        modern = False
        try:
            method = message["method"]
            if isinstance(method, str):
                self.stats[method] += 1
            params = message.get("params") or {}
            if not isinstance(params, dict):
                raise RpcError(INVALID_PARAMS, "params must be an object")
            if method == "initialize":  # handshake era only, whatever the headers or _meta say
                result, session_id = self._initialize(view, params)
                extra.append((b"mcp-session-id", session_id.encode()))
            else:
                # A few compares on the hot path: a handshake-era header settles it at once.
                version = headers.get("mcp-protocol-version")
                if version in MODERN_VERSIONS:
                    modern = True
                elif version not in HANDSHAKE_VERSIONS:
                    meta = params.get("_meta")
                    modern = type(meta) is dict and PROTOCOL_VERSION_META in meta
                if modern:
                    result = await self._modern(view, method, params, version, request_id, headers)
                else:
                    self._check_session(headers, view)
                    result = await self._dispatch(view, method, params, request_id, headers)
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "result": result}
        except RpcError as exc:
            status = MODERN_ERROR_STATUS.get(exc.code, exc.http_status) if modern else exc.http_status
            reply = _rpc_error(request_id, exc.code, exc.message, exc.data)
        if sse:
            await _send_sse(send, status, reply, extra)
        else:
            await _send_json(send, status, reply, extra=extra)

    def _check_session(self, headers: dict[str, str], view: GatewayView) -> None:
        session_id = headers.get("mcp-session-id")
        if session_id is not None:
            session = self._sessions.get(session_id)
            if session is None or session[0] != view.gateway_id:
                raise RpcError(INVALID_REQUEST, "Session not found", http_status=404)
        version = headers.get("mcp-protocol-version")
        versions = view.handshake_versions
        if version is not None and version not in versions:
            raise RpcError(INVALID_REQUEST, f"Unsupported protocol version: {version}", http_status=400)
        if not versions:
            raise RpcError(
                UNSUPPORTED_PROTOCOL_VERSION,
                f"This gateway's supportedVersions are {list(view.modern_versions)}: stateless requests "
                f"only, each with the MCP-Protocol-Version and Mcp-Method headers and params._meta "
                f"{PROTOCOL_VERSION_META} (no initialize, no session)",
                http_status=400,
                data={"supported": list(view.modern_versions)},
            )

    def _initialize(self, view: GatewayView, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
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
        session_id = uuid.uuid4().hex
        self._sessions[session_id] = (view.gateway_id, version)
        self.stats["sessions_opened"] += 1
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": view.name, "version": SERVER_VERSION},
        }
        if view.protocol.get("instructions"):
            result["instructions"] = view.protocol["instructions"]
        return result, session_id

    async def _dispatch(
        self,
        view: GatewayView,
        method: str,
        params: dict[str, Any],
        request_id: str | int,
        headers: dict[str, str],
    ) -> dict[str, Any]:
        if method == "tools/call":
            return await self._call_tool(view, params, request_id)
        if method == "tools/list":
            return self._list_tools(view, params)
        if method == "ping":
            return {}
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")

    # -- 2026-07-28: stateless requests ----------------------------------------------------------
    async def _modern(
        self,
        view: GatewayView,
        method: str,
        params: dict[str, Any],
        header_version: str | None,
        request_id: str | int,
        headers: dict[str, str],
    ) -> dict[str, Any]:
        """Serve a 2026-07-28 request: no session; its envelope is checked instead."""
        _check_envelope(view, method, params, header_version, headers)
        if method == "tools/call":
            result = await self._call_tool(view, params, request_id)
        elif method == "tools/list":
            result = self._list_tools(view, params)
            # Cache hints (required at 2026-07-28): stale at once, since a target added to the
            # control plane shows up on the next request; not shared across tokens.
            result["ttlMs"] = 0
            result["cacheScope"] = "private"
        elif method == "server/discover":
            result = _discover(view)
        elif method == "ping":  # removed from 2026-07-28, still answered: harmless, and probes use it
            result = {}
        else:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        # Every result built above is a fresh dict, so it is completed in place.
        result["resultType"] = "complete"
        stamp = {"name": view.name, "version": SERVER_VERSION}
        meta = result.get("_meta")
        if meta is None:
            result["_meta"] = {SERVER_INFO_META: stamp}
        else:
            meta[SERVER_INFO_META] = stamp
        return result

    # -- tools/list --------------------------------------------------------------------------
    def _list_tools(self, view: GatewayView, params: dict[str, Any]) -> dict[str, Any]:
        listing = view.listing
        if view.protocol.get("disableMcpListToolsPagination"):
            return {"tools": list(listing)}
        cursor = params.get("cursor")
        start = _decode_cursor(cursor) if cursor is not None else 0
        if start > len(listing):
            raise RpcError(INVALID_PARAMS, "Invalid cursor")
        end = start + self.page_size
        result: dict[str, Any] = {"tools": list(listing[start:end])}
        if end < len(listing):
            result["nextCursor"] = _encode_cursor(end)
        return result

    # -- tools/call --------------------------------------------------------------------------
    async def _call_tool(
        self, view: GatewayView, params: dict[str, Any], request_id: str | int
    ) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call: name is required")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "tools/call: arguments must be an object")
        if name == SEARCH_TOOL_NAME and view.search_enabled:
            return await self._search(view, arguments)
        tool = view.by_name.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        _validate(tool.validator, arguments, name)
        custom = {
            "bedrockAgentCoreToolName": tool.name,
            "bedrockAgentCoreGatewayId": view.gateway_id,
            "bedrockAgentCoreTargetId": tool.target_id,
            "bedrockAgentCoreMessageVersion": "1.0",
            "bedrockAgentCoreAwsRequestId": str(uuid.uuid4()),
            "bedrockAgentCoreMcpMessageId": str(request_id),
        }
        try:
            # Lambda stops a function at its timeout; in-process we cannot stop the thread, but
            # the caller gets Lambda's answer then instead of waiting for the handler.
            timeout_s = self.lambdas.get(tool.lambda_arn).spec.timeout_s
            return await asyncio.wait_for(
                self._to_thread(self._invoke, view, tool, arguments, custom), timeout_s
            )
        except TimeoutError:
            log.warning("tool %s: Lambda function timed out after %s s", name, timeout_s)
            detail = (
                f"Lambda function {tool.lambda_arn} for tool {tool.name} failed: "
                f"Sandbox.Timedout: Task timed out after {timeout_s:.2f} seconds"
            )
            return _tool_error(view, detail)
        except Exception as exc:  # the function is missing or cannot run at all
            log.warning("tool %s: invocation failed: %s", name, exc)
            return _tool_error(view, f"Failed to invoke the Lambda function {tool.lambda_arn}: {exc}")

    def _invoke(
        self, view: GatewayView, tool: Tool, arguments: dict[str, Any], custom: dict[str, str]
    ) -> dict[str, Any]:
        result = self.lambdas.invoke(tool.lambda_arn, arguments, client_context={"custom": custom})
        payload = result.payload
        if result.function_error:
            error_type = payload.get("errorType", "Error") if isinstance(payload, dict) else "Error"
            error_message = payload.get("errorMessage", "") if isinstance(payload, dict) else str(payload)
            detail = (
                f"Lambda function {tool.lambda_arn} for tool {tool.name} failed: "
                f"{error_type}: {error_message}"
            )
            return _tool_error(view, detail)
        text = json.dumps(payload)
        if len(text) > MAX_PAYLOAD_BYTES:
            detail = f"Tool {tool.name} returned {len(text)} bytes, over the {MAX_PAYLOAD_BYTES} byte limit"
            return _tool_error(view, detail)
        result_body: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": False}
        if "outputSchema" in tool.definition and isinstance(payload, dict):
            result_body["structuredContent"] = payload
        return result_body

    async def _search(self, view: GatewayView, arguments: dict[str, Any]) -> dict[str, Any]:
        _validate(_SEARCH_VALIDATOR, arguments, SEARCH_TOOL_NAME)
        query = arguments["query"]
        try:
            tools = await self._to_thread(self.catalog.search, view, query)
        except Exception as exc:
            log.exception("search on gateway %s failed", view.gateway_id)
            return _tool_error(view, f"Tool search failed: {type(exc).__name__}: {exc}")
        found = {"tools": tools}
        return {
            "content": [{"type": "text", "text": json.dumps(found)}],
            "structuredContent": found,
            "isError": False,
        }

    async def _to_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run blocking `fn` in the gateway's worker pool (at most `max_concurrent_invocations` at
        once, the rest queue), in a copy of the caller's context as `asyncio.to_thread` does.

        A plain executor hop costs ~50 µs here; `anyio.to_thread.run_sync` with a CapacityLimiter
        ~200 µs, a fifth of the per-call budget at 1,000 tools/call per second.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_concurrent, thread_name_prefix="agentgw-gateway")
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


_T = TypeVar("_T")


class _Asgi:
    """Wraps a method so Starlette's Route treats it as a raw ASGI app (not request -> response)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


_SEARCH_VALIDATOR = jsonschema.Draft202012Validator(SEARCH_TOOL["inputSchema"])


def _validate(validator: Any, arguments: dict[str, Any], name: str) -> None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        location = f" at {where}" if where else ""
        raise RpcError(INVALID_PARAMS, f"Invalid arguments for tool {name}{location}: {error.message}")


def _check_envelope(
    view: GatewayView,
    method: str,
    params: dict[str, Any],
    header_version: str | None,
    headers: dict[str, str],
) -> None:
    """The 2026-07-28 request checks, in the mcp SDK's order: the `_meta` envelope, then the
    headers against the body, then whether this gateway serves the version. The first failure
    is the answer, saying what is missing or which two values disagree."""
    meta = params.get("_meta")
    if type(meta) is not dict:
        raise RpcError(
            INVALID_PARAMS,
            f"params._meta must be an object with {PROTOCOL_VERSION_META} and {CLIENT_CAPABILITIES_META}: "
            "a 2026-07-28 request states its protocol version and client capabilities each time",
        )
    missing = [key for key in (PROTOCOL_VERSION_META, CLIENT_CAPABILITIES_META) if key not in meta]
    if missing:
        raise RpcError(
            INVALID_PARAMS, f"params._meta is missing {' and '.join(missing)} (2026-07-28 requires it)"
        )
    version = meta[PROTOCOL_VERSION_META]
    if header_version is None:
        raise RpcError(
            HEADER_MISMATCH,
            f"MCP-Protocol-Version header is missing; params._meta {PROTOCOL_VERSION_META} is {version!r} "
            "and a 2026-07-28 request carries both",
        )
    if header_version != version:
        raise RpcError(
            HEADER_MISMATCH,
            f"MCP-Protocol-Version header {header_version!r} does not match params._meta "
            f"{PROTOCOL_VERSION_META} {version!r}",
        )
    method_header = headers.get("mcp-method")
    if method_header is None:
        raise RpcError(
            HEADER_MISMATCH,
            f"Mcp-Method header is missing; a 2026-07-28 request names its method ({method!r}) in it",
        )
    if method_header != method:
        raise RpcError(
            HEADER_MISMATCH,
            f"Mcp-Method header {method_header!r} does not match the body's method {method!r}",
        )
    if method == "tools/call":
        name = params.get("name")
        if isinstance(name, str):
            name_header = headers.get("mcp-name")
            if name_header is None:
                raise RpcError(
                    HEADER_MISMATCH,
                    f"Mcp-Name header is missing; a 2026-07-28 tools/call names its tool ({name!r}) in it",
                )
            if _header_text(name_header) != name:
                raise RpcError(
                    HEADER_MISMATCH,
                    f"Mcp-Name header {name_header!r} does not match the body's params.name {name!r}",
                )
    if version not in view.modern_versions:
        raise _unsupported_version(view, version)


def _unsupported_version(view: GatewayView, version: str) -> RpcError:
    # `supported` lists every version the gateway accepts, so a client whose 2026-07-28 probe is
    # refused here (the mcp SDK's mode="auto") falls back to the initialize handshake.
    supported = [*view.handshake_versions, *view.modern_versions]
    return RpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {version}; this gateway's supportedVersions are {supported}",
        http_status=400,
        data={"supported": supported, "requested": version},
    )


def _discover(view: GatewayView) -> dict[str, Any]:
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


def _header_text(value: str) -> str | None:
    """A header's text: verbatim, or decoded from the `=?base64?…?=` form MCP uses for values
    that are not plain ASCII. None for a malformed encoded value (it then matches nothing)."""
    if value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
    return value


def _tool_error(view: GatewayView, detail: str) -> dict[str, Any]:
    if view.debug:
        return {"content": [{"type": "text", "text": detail}], "isError": True, "_meta": {"debug": detail}}
    return {"content": [{"type": "text", "text": GENERIC_TOOL_ERROR}], "isError": True}


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> int:
    if not isinstance(cursor, str):
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RpcError(INVALID_PARAMS, "Invalid cursor") from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    return offset


def _wants_sse(accept: str) -> bool | None:
    """False: answer JSON; True: answer one SSE event; None: the client accepts neither."""
    if not accept:
        return False
    accept = accept.lower()
    if "application/json" in accept or "*/*" in accept or "application/*" in accept:
        return False
    if "text/event-stream" in accept or "text/*" in accept:
        return True
    return None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _read_body(receive: Receive, headers: dict[str, str]) -> bytes:
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_PAYLOAD_BYTES:
        raise _PayloadTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise _PayloadTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _rpc_error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], *, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_sse(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]]) -> None:
    data = b"event: message\ndata: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"cache-control", b"no-cache"),
        (b"content-length", str(len(data)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_empty(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
