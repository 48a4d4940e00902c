"""A small AgentCore-Gateway-shaped MCP server on loopback for the health library's unit tests.

It speaks MCP streamable HTTP (JSON responses) and serves an OAuth token endpoint, with knobs
for the failure modes the health check must name: missing tools, no search tool, search
answers in `structuredContent` only, failing tool calls, slow answers, a looping cursor.
The integration tests run the same checks against the real local gateway.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLIENT_ID = "client-1"
CLIENT_SECRET = "s3cret-value"
TOKEN = "token-abc"
SEARCH = "x_amz_bedrock_agentcore_search"


@dataclass
class Behaviour:
    tools: list[str] = field(default_factory=lambda: ["timeweather___get_time", "timeweather___get_weather"])
    search: bool = True
    search_order: list[str] | None = None  # names the search returns, default: get_time first
    search_structured_only: bool = False
    page_size: int = 30
    loop_cursor: bool = False
    canary_error: str | None = None  # isError text for get_time
    canary_payload: dict[str, Any] | None = None  # replaces the real get_time answer
    delay_method: str | None = None  # sleep before answering this JSON-RPC method
    delay_s: float = 0.0
    token_requests: int = 0
    calls: list[str] = field(default_factory=list)


class GatewayDouble:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.app = Starlette(
            routes=[
                Route("/mcp", self._mcp, methods=["POST", "DELETE", "GET"]),
                Route("/oauth2/token", self._token, methods=["POST"]),
            ]
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth2/token"

    def start(self) -> GatewayDouble:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("gateway double did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for idle keep-alive connections
        self._thread.join(timeout=10)

    # -- OAuth -------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        self.behaviour.token_requests += 1
        auth = request.headers.get("authorization", "")
        form = await request.form()
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if auth != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        return JSONResponse({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})

    # -- MCP ---------------------------------------------------------------------------
    async def _mcp(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "Invalid Bearer token"}},
                status_code=401,
                headers={
                    "WWW-Authenticate": 'Bearer resource_metadata="/.well-known/oauth-protected-resource"'
                },
            )
        message = await request.json()
        method = message.get("method")
        if "id" not in message:
            return Response(status_code=202)  # notification
        self.behaviour.calls.append(method)
        if method == self.behaviour.delay_method:
            await asyncio.sleep(self.behaviour.delay_s)
        try:
            result = self._answer(method, message.get("params") or {})
        except LookupError as exc:
            return JSONResponse(
                {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32602, "message": str(exc)}}
            )
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _listed(self) -> list[str]:
        return [*self.behaviour.tools, *([SEARCH] if self.behaviour.search else [])]

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        b = self.behaviour
        if method == "initialize":
            return {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "gateway-double", "version": "1"},
            }
        if method == "tools/list":
            names = self._listed()
            start = int(params.get("cursor") or 0)
            page = names[start : start + b.page_size]
            result: dict[str, Any] = {
                "tools": [{"name": n, "description": n, "inputSchema": {"type": "object"}} for n in page]
            }
            if b.loop_cursor:
                result["nextCursor"] = "0"
            elif start + b.page_size < len(names):
                result["nextCursor"] = str(start + b.page_size)
            return result
        if method == "tools/call":
            name = params["name"]
            if name not in self._listed():
                raise LookupError(f"Unknown tool: {name}")
            if name == SEARCH:
                order = b.search_order or sorted(b.tools, key=lambda n: not n.endswith("get_time"))
                payload = {"tools": [{"name": n, "description": n, "inputSchema": {}} for n in order]}
                if b.search_structured_only:
                    return {
                        "content": [{"type": "text", "text": "see structuredContent"}],
                        "structuredContent": payload,
                    }
                return {"content": [{"type": "text", "text": json.dumps(payload)}]}
            if name.endswith("get_time"):
                if b.canary_error:
                    return {"content": [{"type": "text", "text": b.canary_error}], "isError": True}
                now = datetime.now(UTC).replace(microsecond=0)
                payload = b.canary_payload or {
                    "timezone": params.get("arguments", {}).get("timezone"),
                    "local_time": now.isoformat(),
                    "utc_time": now.isoformat().replace("+00:00", "Z"),
                }
                return {"content": [{"type": "text", "text": json.dumps(payload)}]}
            return {"content": [{"type": "text", "text": "{}"}]}
        raise LookupError(f"Method not found: {method}")
