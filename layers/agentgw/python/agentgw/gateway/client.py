"""Talking MCP to the gateway: the HTTP client, the session, every tool, the search answer.

The protocol is the mcp SDK's (`streamable_http_client`, `ClientSession`); this module only
adds what every caller of a gateway needs on top of it: the shared TLS context, Bearer auth
(`agentgw.gateway.auth`), optional tracing, following `nextCursor` to the last page, and
reading the search tool's answer.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
import mcp.types
from mcp import ClientSession

from agentgw.gateway import MAX_LIST_PAGES
from agentgw.gateway.tracing import TracedTransport


class ListingError(RuntimeError):
    """`tools/list` did not come to an end (a repeated cursor, or too many pages)."""


class SearchResultError(ValueError):
    """The search tool answered something other than `{"tools": [...]}`.

    `not_json` tells a text that is not JSON from JSON without a `tools` list; `text` is the
    answer's text (callers phrase the message for their own report).
    """

    def __init__(self, message: str, *, not_json: bool, text: str = "") -> None:
        super().__init__(message)
        self.not_json = not_json
        self.text = text


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The default TLS context (same CA sources, same `SSL_CERT_*` handling), built once.

    Building one loads the whole CA bundle (~50-100 ms of CPU); the mcp SDK and httpx2 would
    build one per HTTP client, i.e. per session.
    """
    import httpcore2

    return httpcore2.default_ssl_context()


def http_client(auth: httpx2.Auth, timeout: httpx2.Timeout, *, traced: bool = False) -> httpx2.AsyncClient:
    """The HTTP client for MCP requests to the gateway (`traced`: each request an X-Ray subsegment)."""
    transport: httpx2.AsyncBaseTransport | None = None
    if traced:
        transport = TracedTransport(httpx2.AsyncHTTPTransport(verify=tls_context()))
    return httpx2.AsyncClient(
        auth=auth, verify=tls_context(), follow_redirects=True, timeout=timeout, transport=transport
    )


@asynccontextmanager
async def connect(
    url: str, auth: httpx2.Auth, *, timeout_s: float, traced: bool = False
) -> AsyncIterator[ClientSession]:
    """A `ClientSession` with the gateway, not yet initialized (the caller times `initialize`).

    Entering starts the transport's and the session's tasks only (no I/O), so it may happen
    outside the caller's timeout scopes, which must close before these tasks do.
    """
    from mcp.client.streamable_http import streamable_http_client

    async with (
        http_client(auth, httpx2.Timeout(timeout_s), traced=traced) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        yield session


class ToolLister(Protocol):
    """Anything that sends one `tools/list` (a `ClientSession`, the agent's `GatewaySession`)."""

    async def list_tools(self, *, params: mcp.types.PaginatedRequestParams | None = None) -> Any: ...


@dataclass(frozen=True)
class ToolPages:
    tools: list[mcp.types.Tool]
    pages: int


async def list_all_tools(session: ToolLister, max_pages: int = MAX_LIST_PAGES) -> ToolPages:
    """Every tool, following `nextCursor` to the last page; `ListingError` if it never ends."""
    tools: list[mcp.types.Tool] = []
    cursor: str | None = None
    seen: set[str] = set()
    for page in range(1, max_pages + 1):
        params = mcp.types.PaginatedRequestParams(cursor=cursor) if cursor else None
        result = await session.list_tools(params=params)
        tools.extend(result.tools)
        cursor = result.next_cursor
        if not cursor:
            return ToolPages(tools, page)
        if cursor in seen:
            raise ListingError(f"tools/list repeated cursor {cursor!r} on page {page}")
        seen.add(cursor)
    raise ListingError(f"tools/list did not end within {max_pages} pages")


def texts_of(content: Sequence[Any]) -> list[str]:
    """The text of each text content item of a tool result."""
    return [
        item.text
        for item in content
        if getattr(item, "type", None) == "text" and isinstance(getattr(item, "text", None), str)
    ]


def parse_search_result(structured: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
    """The search tool's tool definitions, most relevant first.

    Gateways answer `{"tools": [...]}` in the JSON text of `content[0]`; some also in
    `structuredContent`, which wins when it has the list. Entries without a name are dropped.
    """
    payload: Any = structured if isinstance(structured, Mapping) and "tools" in structured else None
    if payload is None and texts:
        try:
            payload = json.loads(texts[0])
        except ValueError:
            raise SearchResultError(
                "the search answered text that is not JSON", not_json=True, text=texts[0]
            ) from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("tools"), list):
        raise SearchResultError('the search answer has no "tools" list', not_json=False)
    return [t for t in payload["tools"] if isinstance(t, dict) and isinstance(t.get("name"), str)]


def root_cause(exc: BaseException) -> str:
    """`Type: message` of the error at the bottom of causes and one-error exception groups."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        elif exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            break
    return f"{type(exc).__name__}: {exc}"[:300]
