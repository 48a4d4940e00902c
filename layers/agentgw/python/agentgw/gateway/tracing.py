"""The gateway's HTTP calls as X-Ray subsegments.

The X-Ray SDK patches `httpx`, not `httpx2` (the mcp SDK's HTTP client), so a Powertools
`Tracer` does not see the MCP requests. `TracedTransport` records each one as the SDK's httpx
patch does: a `remote` subsegment named for the host, with method, URL (no credentials, query
or fragment) and status, and the trace header passed on. With tracing disabled (outside
Lambda, `POWERTOOLS_TRACE_DISABLED`) the SDK hands out dummy subsegments that record nothing.
"""

from __future__ import annotations

import httpx2


class TracedTransport(httpx2.AsyncBaseTransport):
    """Wraps a transport; every request it sends is a subsegment of the current trace."""

    def __init__(self, transport: httpx2.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        from aws_xray_sdk.core import xray_recorder
        from aws_xray_sdk.core.models import http
        from aws_xray_sdk.ext.util import get_hostname, inject_trace_header

        async with xray_recorder.in_subsegment_async(
            get_hostname(str(request.url)), namespace="remote"
        ) as sub:
            if sub is not None:
                sub.put_http_meta(http.METHOD, request.method)
                sub.put_http_meta(
                    http.URL, str(request.url.copy_with(password=None, query=None, fragment=None))
                )
                inject_trace_header(request.headers, sub)
            response = await self._transport.handle_async_request(request)
            if sub is not None:
                sub.put_http_meta(http.STATUS, response.status_code)
            return response

    async def aclose(self) -> None:
        await self._transport.aclose()
