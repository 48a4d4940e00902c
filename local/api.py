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
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentgw_local.aws import ACCOUNT_ID
from agentgw_local.lambda_runtime import InvokeResult

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
        body = await request.body()
        if len(body) > MAX_PAYLOAD_BYTES:
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
        response = http_response(result)
        response.headers["apigw-requestid"] = event["requestContext"]["requestId"]
        return response

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", dispatch, methods=methods)])
