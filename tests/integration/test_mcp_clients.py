"""Real MCP clients, unchanged, against the running local gateway: the mcp SDK and Strands."""

from __future__ import annotations

import functools
import json
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp.client.client import negotiate_auto
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from strands.tools.mcp import MCPClient

from agentgw.tools import target_name
from agentgw_local.stack import LocalStack, StackInfo
from integration.stackkit import Authz, Kit

SEARCH = "x_amz_bedrock_agentcore_search"
GET_TIME = f"{target_name()}___get_time"


@pytest.fixture(scope="module")
def info(local_stack: LocalStack) -> StackInfo:
    assert local_stack.info is not None
    return local_stack.info


@pytest.fixture(scope="module")
def token(info: StackInfo) -> str:
    response = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
    )
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def paged(kit: Kit) -> tuple[Authz, str, int]:
    """A gateway with 45 tools: two pages of 30 + 16 (with the search tool)."""
    authz = kit.cognito()
    gateway_id = kit.timeweather_gateway(authz)
    add = kit.function("kit-add", lambda event, context: {"sum": event["a"] + event["b"]})
    schema = {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    }
    tools = [
        {"name": f"add{i}", "description": f"Add two numbers ({i})", "inputSchema": schema} for i in range(43)
    ]
    kit.target(gateway_id, add, tools, name="math")
    return authz, kit.mcp_url(gateway_id), 1 + 2 + 43


async def _with_session(url: str, token: str, work: Any, *, auto: bool = False) -> Any:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        )
        read, write = await stack.enter_async_context(streamable_http_client(url, http_client=http))
        session = await stack.enter_async_context(ClientSession(read, write))
        if auto:
            await negotiate_auto(session)  # probes server/discover first, as Strands does
        else:
            await session.initialize()
        return await work(session)


def test_mcp_sdk_client_initialize_list_call_search(info: StackInfo, token: str) -> None:
    async def work(session: ClientSession) -> None:
        assert session.protocol_version == "2025-11-25"
        listed = await session.list_tools()
        names = [t.name for t in listed.tools]
        assert names[0] == SEARCH and GET_TIME in names
        result = await session.call_tool(GET_TIME, {"timezone": "America/New_York"})
        assert not result.is_error
        assert isinstance(result.content[0], types.TextContent)
        assert json.loads(result.content[0].text)["timezone"] == "America/New_York"
        found = await session.call_tool(SEARCH, {"query": "weather in Paris"})
        assert found.structured_content is not None
        assert found.structured_content["tools"][0]["name"] == f"{target_name()}___get_weather"
        failed = await session.call_tool(GET_TIME, {"timezone": "Nowhere/Atlantis"})
        assert failed.is_error

    anyio.run(_with_session, info.gateway_url, token, work)


def test_mcp_sdk_client_pages_and_negotiates_like_strands(paged: tuple[Authz, str, int]) -> None:
    authz, url, total = paged

    async def work(session: ClientSession) -> list[str]:
        names: list[str] = []
        cursor: str | None = None
        while True:
            page = await session.list_tools(
                params=types.PaginatedRequestParams(cursor=cursor) if cursor else None
            )
            names += [t.name for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        result = await session.call_tool("math___add7", {"a": 2, "b": 40})
        assert isinstance(result.content[0], types.TextContent)
        assert json.loads(result.content[0].text) == {"sum": 42}
        return names

    names = anyio.run(functools.partial(_with_session, url, authz.token(), work, auto=True))
    assert len(names) == len(set(names)) == total


def test_mcp_sdk_client_sees_invalid_arguments_as_an_error(info: StackInfo, token: str) -> None:
    from mcp.shared.exceptions import MCPError

    async def work(session: ClientSession) -> None:
        with pytest.raises(MCPError) as caught:
            await session.call_tool(GET_TIME, {"timezone": 3})
        assert caught.value.code == -32602

    anyio.run(_with_session, info.gateway_url, token, work)


def test_strands_mcp_client_lists_pages_and_calls(paged: tuple[Authz, str, int]) -> None:
    authz, url, total = paged
    client = MCPClient(url=url, headers={"Authorization": f"Bearer {authz.token()}"})
    with client:
        first = client.list_tools_sync()
        assert len(first) == 30 and first.pagination_token
        names = [t.tool_name for t in first]
        token = first.pagination_token
        while token:
            page = client.list_tools_sync(pagination_token=token)
            names += [t.tool_name for t in page]
            token = page.pagination_token
        assert len(set(names)) == total
        result = client.call_tool_sync("use-1", "math___add3", {"a": 1.5, "b": 2})
        assert result["status"] == "success"
        assert json.loads(result["content"][0]["text"]) == {"sum": 3.5}
        failed = client.call_tool_sync("use-2", GET_TIME, {"timezone": "Nowhere/Atlantis"})
        assert failed["status"] == "error"


def test_strands_mcp_client_with_oauth_client_credentials(info: StackInfo) -> None:
    """Strands finds the token endpoint itself: 401 → RFC 9728 metadata → OIDC discovery → token.

    The scope it asks for is the one the gateway advertises (provisioning sets `allowedScopes`);
    without it the mcp SDK falls back to the discovery document's scopes (openid, …), which
    Cognito refuses for a client_credentials client — as it would in AWS.
    """
    client = MCPClient(
        url=info.gateway_url,
        auth={"client_id": info.client_id, "client_secret": info.client_secret},
    )
    with client:
        names = [t.tool_name for t in client.list_tools_sync()]
        assert GET_TIME in names
        result = client.call_tool_sync("use-1", GET_TIME, {"timezone": "UTC"})
        assert result["status"] == "success"
