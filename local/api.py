"""The local HTTP API: what API Gateway (HTTP API, payload format 2.0) does in front of Lambda.

Each HTTP request on a configured route becomes a payload-2.0 event and is handed to the real
handler through `LambdaRuntime.invoke`, in a worker thread; the handler's result becomes the
HTTP response the way API Gateway maps it (a `statusCode` dict, or any other JSON value as a
200 `application/json` body). An unhandled function error is API Gateway's 500
`{"message": "Internal Server Error"}`, an integration that runs past 30 s its 503, an unknown
route its 404 `{"message": "Not Found"}`.

Locally there is no IAM: the API is served on loopback only, like the rest of the local stack.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from agentgw_local.aws import ACCOUNT_ID
from agentgw_local.lambda_runtime import InvokeResult
from agentgw_local.settings import function_name

# API Gateway's own limits.
INTEGRATION_TIMEOUT_S = 30.0
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
STAGE = "$default"

Invoke = Callable[[str, Any], InvokeResult]
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    lowered = content_type.lower()
    return any(t in lowered for t in _TEXT_TYPES) or "x-www-form-urlencoded" in lowered


def http_event(
    *,
    method: str,
    path: str,
    route_key: str,
    headers: Mapping[str, str] | list[tuple[str, str]],
    query_string: str,
    query_params: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    api_id: str = "local",
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event for one request."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers.items() if isinstance(headers, Mapping) else headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value  # API Gateway joins repeats
    params: dict[str, str] = {}
    for name, value in query_params:
        params[name] = f"{params[name]},{value}" if name in params else value
    now = datetime.now(UTC)
    content_type = merged.get("content-type")
    is_base64 = bool(body) and not _is_text(content_type)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": merged.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": route_key,
            "stage": STAGE,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        event["body"] = (
            base64.b64encode(body).decode("ascii") if is_base64 else body.decode("utf-8", "replace")
        )
    return event


def http_response(result: InvokeResult) -> Response:
    """Map a Lambda result to the HTTP response, as API Gateway does for payload 2.0."""
    if result.function_error:
        return JSONResponse({"message": "Internal Server Error"}, status_code=500)
    payload = result.payload
    if not (isinstance(payload, dict) and "statusCode" in payload):
        # Payload 2.0 infers the response from any JSON value without a statusCode.
        return Response(json.dumps(payload), status_code=200, media_type="application/json")
    try:
        status = int(payload["statusCode"])
    except (TypeError, ValueError):
        return JSONResponse({"message": "Internal Server Error"}, status_code=500)
    body = payload.get("body") or ""
    content = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode("utf-8")
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    headers.pop("content-length", None)
    response = Response(content, status_code=status, headers=headers)
    for cookie in payload.get("cookies") or []:
        response.raw_headers.append((b"set-cookie", str(cookie).encode("latin-1")))
    return response


def api_app(
    routes: Mapping[tuple[str, str], str],
    invoke: Invoke,
    *,
    timeout_s: float = INTEGRATION_TIMEOUT_S,
    api_id: str = "local",
) -> Starlette:
    """A Starlette app serving `{(METHOD, "/path"): function name}` like an HTTP API `$default` stage.

    Mount it wherever the local stack serves the API (e.g. at `/api`): the event's `rawPath`
    is the path below the mount point, as API Gateway's is below the stage.
    """

    async def dispatch(request: Request) -> Response:
        path = "/" + request.path_params.get("path", "")
        method = request.method.upper()
        function = routes.get((method, path)) or routes.get(("ANY", path))
        if function is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        body = await _read_body(request, MAX_PAYLOAD_BYTES)
        if body is None:
            return JSONResponse({"message": "Request Entity Too Large"}, status_code=413)
        event = http_event(
            method=method,
            path=path,
            route_key=f"{method} {path}",
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            query_string=request.url.query,
            query_params=list(request.query_params.multi_items()),
            body=body,
            source_ip=request.client.host if request.client else "127.0.0.1",
            api_id=api_id,
        )
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, invoke, function, event)
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            # API Gateway gives up on the integration; the function itself runs on.
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        except Exception:  # the function is missing or the runtime broke: what API Gateway says
            logging.getLogger(__name__).exception("local API: invoking %s failed", function)
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        response = http_response(result)
        response.headers["apigw-requestid"] = event["requestContext"]["requestId"]
        return response

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", dispatch, methods=methods)])


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed `limit` (never more is read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# -- the agent API in the local stack ---------------------------------------------------------

AGENT_FUNCTION_LOGICAL_ID = "AgentFunction"
API_PREFIX = "/api"
# Where local conversations are kept unless AGENTGW_SESSION_DIR says otherwise.
LOCAL_SESSION_DIR = ".agentgw/sessions"


def agent_function_name(stack_name: str) -> str:
    """The name provisioning gives the agent function in emulated Lambda."""
    return function_name(stack_name, AGENT_FUNCTION_LOGICAL_ID)


def agent_api_route(stack: Any) -> Mount:
    """`/api/prompt` → the agent function of `stack` (a LocalStack), resolved at request time."""

    def invoke(function: str, event: Any) -> InvokeResult:
        if stack.aws is None:
            raise RuntimeError("the local stack is not running")
        return stack.aws.lambdas.invoke(function, event)

    routes = {("POST", "/prompt"): agent_function_name(stack.stack_name)}
    return Mount(API_PREFIX, app=api_app(routes, invoke))


def agent_environment(parameter_name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What the template's AgentFunction environment resolves to locally (no secrets).

    The model provider defaults to AGENTGW_MODEL_PROVIDER, else `offline` (no account, no
    network); `agentgw local up --model-provider …` replaces the model's variables
    (agentgw_local.agent_model).
    """
    return {
        "AGENTGW_CONFIG_PARAMETER": parameter_name,
        "AGENTGW_MODEL_PROVIDER": environ.get("AGENTGW_MODEL_PROVIDER") or "offline",
        "AGENTGW_SESSION_DIR": environ.get("AGENTGW_SESSION_DIR") or str(Path(LOCAL_SESSION_DIR).resolve()),
    }
