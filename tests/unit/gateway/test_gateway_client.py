"""The shared gateway client: Bearer auth, traced HTTP calls, every tools/list page, the search answer.

A loopback HTTP server stands in for the gateway's HTTP side (it records the headers it got);
the MCP side of the client is covered by the agent, health and CLI tests against the local gateway.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import mcp.types
import pytest

from agentgw.gateway import client as gateway_client
from agentgw.gateway.auth import BearerAuth


class _Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.statuses: list[int] = []  # what to answer, in order (then 200)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append({k.lower(): v for k, v in self.headers.items()})
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/mcp"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    yield running
    running.http.shutdown()
    running.http.server_close()


class _Tokens:
    def __init__(self) -> None:
        self.issued = 0

    def get(self, *, force_refresh: bool = False) -> str:
        if force_refresh or not self.issued:
            self.issued += 1
        return f"token-{self.issued}"


def _get(url: str, auth: httpx2.Auth, *, traced: bool = False) -> int:
    async def main() -> int:
        async with gateway_client.http_client(auth, httpx2.Timeout(5), traced=traced) as http:
            return (await http.get(url)).status_code

    return asyncio.run(main())


def test_a_401_gets_one_fresh_token_and_one_retry(server: _Server) -> None:
    tokens = _Tokens()
    server.statuses = [401, 401, 401]
    auth = BearerAuth(tokens)
    assert _get(server.url, auth) == 401  # the retry's 401 stands
    assert [r["authorization"] for r in server.requests] == ["Bearer token-1", "Bearer token-2"]
    assert _get(server.url, auth) == 401  # refreshed once already: no second refresh
    assert server.requests[-1]["authorization"] == "Bearer token-2"
    assert tokens.issued == 2


def test_a_fixed_token_is_sent_as_is_and_a_401_stands(server: _Server) -> None:
    server.statuses = [401]
    assert _get(server.url, BearerAuth.fixed("abc")) == 401
    assert [r["authorization"] for r in server.requests] == ["Bearer abc"]
    assert "abc" not in repr(BearerAuth.fixed("abc"))


class _Emitter:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity)

    def set_daemon_address(self, address: str) -> None:
        pass


@pytest.fixture
def xray() -> Iterator[Any]:
    """The X-Ray SDK enabled, recording into memory (as in Lambda with tracing on)."""
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder

    enabled = global_sdk_config.sdk_enabled()
    emitter = xray_recorder._emitter
    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(emitter=_Emitter(), sampling=False, context_missing="LOG_ERROR")
    try:
        yield xray_recorder
    finally:
        xray_recorder.configure(emitter=emitter)
        global_sdk_config.set_sdk_enabled(enabled)


def _traced_get(recorder: Any, url: str, traced: bool) -> Any:
    async def main() -> Any:
        segment = recorder.begin_segment("agent")
        try:
            async with gateway_client.http_client(
                BearerAuth.fixed("t"), httpx2.Timeout(5), traced=traced
            ) as http:
                await http.get(url + "?q=1")
        finally:
            recorder.end_segment()
        return segment

    return asyncio.run(main())


def test_traced_gateway_calls_are_xray_subsegments(server: _Server, xray: Any) -> None:
    segment = _traced_get(xray, server.url, traced=True)
    [sub] = segment.subsegments
    assert sub.name == "127.0.0.1" and sub.namespace == "remote"
    assert sub.http["request"] == {"method": "GET", "url": server.url}  # no query string
    assert sub.http["response"]["status"] == 200
    # The trace continues at the gateway.
    assert server.requests[0]["x-amzn-trace-id"].startswith(f"Root={segment.trace_id};Parent={sub.id}")


def test_untraced_calls_record_nothing(server: _Server, xray: Any) -> None:
    segment = _traced_get(xray, server.url, traced=False)
    assert segment.subsegments == []
    assert "x-amzn-trace-id" not in server.requests[0]


class _Pages:
    def __init__(self, cursors: list[str | None]) -> None:
        self.cursors = cursors
        self.asked: list[str | None] = []

    async def list_tools(self, *, params: mcp.types.PaginatedRequestParams | None = None) -> Any:
        self.asked.append(params.cursor if params else None)
        page = len(self.asked) - 1
        tool = mcp.types.Tool.model_validate({"name": f"t___{page}", "inputSchema": {"type": "object"}})
        return mcp.types.ListToolsResult(tools=[tool], next_cursor=self.cursors[page])


def test_every_page_is_listed() -> None:
    pages = _Pages(["a", "b", None])
    listed = asyncio.run(gateway_client.list_all_tools(pages))
    assert [t.name for t in listed.tools] == ["t___0", "t___1", "t___2"]
    assert listed.pages == 3 and pages.asked == [None, "a", "b"]


def test_a_repeated_cursor_or_no_last_page_is_an_error() -> None:
    with pytest.raises(gateway_client.ListingError, match="repeated cursor 'a' on page 3"):
        asyncio.run(gateway_client.list_all_tools(_Pages(["a", "b", "a"])))
    with pytest.raises(gateway_client.ListingError, match="did not end within 2 pages"):
        asyncio.run(gateway_client.list_all_tools(_Pages(["a", "b", "c"]), max_pages=2))


def test_search_answer_from_structured_content_or_text() -> None:
    tools = [{"name": "t___a"}, {"name": 3}, "x"]
    assert gateway_client.parse_search_result({"tools": tools}, []) == [{"name": "t___a"}]
    assert gateway_client.parse_search_result({"other": 1}, ['{"tools": [{"name": "b"}]}']) == [{"name": "b"}]
    with pytest.raises(gateway_client.SearchResultError) as not_json:
        gateway_client.parse_search_result(None, ["nope"])
    assert not_json.value.not_json and not_json.value.text == "nope"
    with pytest.raises(gateway_client.SearchResultError) as no_list:
        gateway_client.parse_search_result(None, ['{"results": []}'])
    assert not no_list.value.not_json
