"""MCP 2026-07-28 (stateless) at the local gateway, as AgentCore serves it when a gateway's
`supportedVersions` lists it: real mcp SDK clients over loopback HTTP, then the wire itself.

No `initialize`, no `Mcp-Session-Id`: every request carries its version in the
`MCP-Protocol-Version` header and in `params._meta`, its method in `Mcp-Method`, and
`server/discover` describes the gateway. A gateway without the version refuses it with -32022
naming what it does support, so the SDK's `mode="auto"` falls back to the handshake.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from strands.tools.mcp import MCPClient

from agentgw.tools import target_name
from agentgw_local.stack import LocalStack
from integration.stackkit import ACCEPT, Authz, Kit

V2026 = "2026-07-28"
HANDSHAKE = ["2025-03-26", "2025-06-18", "2025-11-25"]
SEARCH = "x_amz_bedrock_agentcore_search"
GET_TIME = f"{target_name()}___get_time"
PV = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO = "io.modelcontextprotocol/serverInfo"

_T = TypeVar("_T")


@pytest.fixture(scope="module")
def authz(kit: Kit) -> Authz:
    return kit.cognito()


@pytest.fixture(scope="module")
def token(authz: Authz) -> str:
    return authz.token()


@pytest.fixture(scope="module")
def modern(kit: Kit, authz: Authz) -> str:
    """A gateway whose supportedVersions add 2026-07-28 to the handshake versions; 3 + 40 tools
    (two pages)."""
    gateway_id = kit.timeweather_gateway(authz, versions=[*HANDSHAKE, V2026])
    echo = kit.function("kit-stateless-echo", lambda event, context: {"echo": event})
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    tools = [{"name": f"echo{i:02d}", "description": f"Echo {i}", "inputSchema": schema} for i in range(40)]
    kit.target(gateway_id, echo, tools, name="echo")
    return kit.mcp_url(gateway_id)


@pytest.fixture(scope="module")
def legacy(kit: Kit, authz: Authz) -> str:
    """A gateway that does not list 2026-07-28."""
    return kit.mcp_url(kit.timeweather_gateway(authz, versions=HANDSHAKE))


@pytest.fixture(scope="module")
def modern_only(kit: Kit, authz: Authz) -> str:
    return kit.mcp_url(kit.timeweather_gateway(authz, versions=[V2026]))


def _run(url: str, token: str, work: Callable[[Client], Awaitable[_T]], **options: Any) -> _T:
    async def main() -> _T:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            client = Client(streamable_http_client(url, http_client=http), cache=None, **options)
            async with client:
                return await work(client)

    return anyio.run(main)


def _stats(local_stack: LocalStack) -> Counter[str]:
    assert local_stack.gateway is not None
    return Counter(local_stack.gateway.stats)


def _delta(after: Counter[str], before: Counter[str], *keys: str) -> dict[str, int]:
    return {key: after[key] - before[key] for key in keys}


KEYS = ("server/discover", "initialize", "sessions_opened", "tools/list", "tools/call")


def _text(result: types.CallToolResult) -> Any:
    item = result.content[0]
    assert isinstance(item, types.TextContent)
    return json.loads(item.text)


# -- real mcp SDK clients ------------------------------------------------------------------------
def test_auto_mode_discovers_2026_and_lists_and_calls_without_a_session(
    local_stack: LocalStack, modern: str, token: str
) -> None:
    before = _stats(local_stack)

    async def work(client: Client) -> None:
        assert client.protocol_version == V2026
        discovered = client.session.discover_result
        assert discovered is not None and discovered.supported_versions == [V2026]
        assert client.server_info is not None and client.server_info.name.startswith("kit-gw-")
        listed = await client.list_tools()
        names = [tool.name for tool in listed.tools]
        assert names[0] == SEARCH and GET_TIME in names
        called = await client.call_tool(GET_TIME, {"timezone": "Asia/Tokyo"})
        assert not called.is_error and _text(called)["utc_offset"] == "+09:00"
        found = await client.call_tool(SEARCH, {"query": "weather in Paris"})
        assert found.structured_content is not None
        assert found.structured_content["tools"][0]["name"] == f"{target_name()}___get_weather"
        failed = await client.call_tool(GET_TIME, {"timezone": "Nowhere/Atlantis"})
        assert failed.is_error and "Nowhere/Atlantis" in failed.content[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError) as bad:
            await client.call_tool(GET_TIME, {"timezone": 3})
        assert bad.value.code == -32602

    _run(modern, token, work, mode="auto")
    assert _delta(_stats(local_stack), before, *KEYS) == {
        "server/discover": 1,
        "initialize": 0,
        "sessions_opened": 0,
        "tools/list": 1,
        "tools/call": 4,
    }

    async def legacy(client: Client) -> None:  # the handshake keeps working on the same gateway
        assert client.protocol_version == "2025-11-25"
        assert _text(await client.call_tool(GET_TIME, {"timezone": "UTC"}))["timezone"] == "UTC"

    _run(modern, token, legacy, mode="legacy")


def test_pinned_2026_with_a_prior_discover_sends_no_discover_and_no_initialize(
    local_stack: LocalStack, modern: str, token: str
) -> None:
    async def discover(client: Client) -> types.DiscoverResult:
        result = client.session.discover_result
        assert result is not None
        return result

    prior = _run(modern, token, discover, mode="auto")
    before = _stats(local_stack)

    async def work(client: Client) -> None:
        assert client.protocol_version == V2026
        assert GET_TIME in [tool.name for tool in (await client.list_tools()).tools]
        called = await client.call_tool(GET_TIME, {"timezone": "UTC"})
        assert _text(called)["timezone"] == "UTC"

    _run(modern, token, work, mode=V2026, prior_discover=prior)
    assert _delta(_stats(local_stack), before, *KEYS) == {
        "server/discover": 0,
        "initialize": 0,
        "sessions_opened": 0,
        "tools/list": 1,
        "tools/call": 1,
    }


def test_auto_mode_falls_back_to_initialize_on_a_gateway_without_2026(
    local_stack: LocalStack, legacy: str, token: str
) -> None:
    # The probe is refused with -32022 naming the handshake versions (what the SDK falls back on).
    refused = _post(legacy, token, _stamped("server/discover"), _headers("server/discover"))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == -32022
    assert refused.json()["error"]["data"] == {"supported": HANDSHAKE, "requested": V2026}

    before = _stats(local_stack)

    async def work(client: Client) -> None:
        assert client.protocol_version == "2025-11-25"
        assert client.session.discover_result is None
        called = await client.call_tool(GET_TIME, {"timezone": "UTC"})
        assert _text(called)["timezone"] == "UTC"

    _run(legacy, token, work, mode="auto")
    # (the SDK lists tools itself before a call on the handshake path: not counted here)
    assert _delta(
        _stats(local_stack), before, "server/discover", "initialize", "sessions_opened", "tools/call"
    ) == {
        "server/discover": 1,
        "initialize": 1,
        "sessions_opened": 1,
        "tools/call": 1,
    }


def test_strands_mcp_client_pages_and_calls_over_2026(
    local_stack: LocalStack, modern: str, token: str
) -> None:
    before = _stats(local_stack)
    client = MCPClient(url=modern, headers={"Authorization": f"Bearer {token}"})
    with client:
        first = client.list_tools_sync()
        assert len(first) == 30 and first.pagination_token
        names = [t.tool_name for t in first]
        page = client.list_tools_sync(pagination_token=first.pagination_token)
        assert not page.pagination_token
        names += [t.tool_name for t in page]
        assert len(set(names)) == 43 and "echo___echo39" in names
        result = client.call_tool_sync("use-1", "echo___echo07", {"n": 7})
        assert result["status"] == "success"
        assert json.loads(result["content"][0]["text"]) == {"echo": {"n": 7}}
    assert _delta(_stats(local_stack), before, *KEYS) == {
        "server/discover": 1,
        "initialize": 0,
        "sessions_opened": 0,
        "tools/list": 2,
        "tools/call": 1,
    }


# -- the wire ------------------------------------------------------------------------------------
def _stamped(method: str, params: dict[str, Any] | None = None, *, version: str = V2026) -> dict[str, Any]:
    meta = {PV: version, CAPS: {}, "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "0"}}
    return {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**(params or {}), "_meta": meta}}


def _headers(method: str, *, version: str = V2026, **extra: str) -> dict[str, str]:
    return {"MCP-Protocol-Version": version, "Mcp-Method": method, **extra}


def _post(url: str, token: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    base = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "Content-Type": "application/json"}
    return httpx.post(url, json=body, headers={**base, **headers}, timeout=60)


def _error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["id"] == 7 and body["error"]["code"] == code, body
    return str(body["error"]["message"])


def test_server_discover_result_on_the_wire(modern: str, token: str) -> None:
    response = _post(modern, token, _stamped("server/discover"), _headers("server/discover"))
    assert response.status_code == 200, response.text
    assert "mcp-session-id" not in response.headers
    result = response.json()["result"]
    assert result.pop("_meta")[SERVER_INFO]["name"].startswith("kit-gw-")
    assert result == {
        "supportedVersions": [V2026],
        "capabilities": {"tools": {"listChanged": False}},
        "ttlMs": 0,
        "cacheScope": "private",
        "resultType": "complete",
    }


def test_stateless_list_call_and_ping_need_no_session(modern: str, token: str) -> None:
    # A stale session id is ignored: 2026-07-28 has no sessions.
    listed = _post(
        modern, token, _stamped("tools/list"), _headers("tools/list", **{"Mcp-Session-Id": "gone"})
    )
    assert listed.status_code == 200, listed.text
    result = listed.json()["result"]
    assert result["resultType"] == "complete" and result["ttlMs"] == 0 and result["cacheScope"] == "private"
    assert SERVER_INFO in result["_meta"] and result["tools"][0]["name"] == SEARCH

    call = _stamped("tools/call", {"name": GET_TIME, "arguments": {"timezone": "Nowhere/Atlantis"}})
    failed = _post(modern, token, call, _headers("tools/call", **{"Mcp-Name": GET_TIME})).json()["result"]
    assert failed["isError"] is True and failed["resultType"] == "complete"
    assert "Nowhere/Atlantis" in failed["_meta"]["debug"] and SERVER_INFO in failed["_meta"]

    pinged = _post(modern, token, _stamped("ping"), _headers("ping")).json()["result"]
    assert pinged["resultType"] == "complete" and set(pinged) == {"resultType", "_meta"}

    # A handshake-era header goes the handshake way whatever `_meta` says (as the mcp SDK routes):
    # its session is checked, and its results stay 2025-shaped.
    stale = _post(
        modern, token, _stamped("tools/list"), {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": "x"}
    )
    assert stale.status_code == 404 and stale.json()["error"]["message"] == "Session not found"
    plain = _post(modern, token, _stamped("tools/list"), {"MCP-Protocol-Version": "2025-11-25"}).json()[
        "result"
    ]
    assert "resultType" not in plain and "_meta" not in plain


@pytest.mark.parametrize(
    ("case", "status", "code", "says"),
    [
        ("no version header", 400, -32020, "MCP-Protocol-Version header is missing"),
        ("unknown header version", 400, -32020, "'2099-01-01' does not match params._meta"),
        ("no _meta", 400, -32602, "params._meta must be an object"),
        ("_meta without capabilities", 400, -32602, f"params._meta is missing {CAPS}"),
        ("no Mcp-Method", 400, -32020, "Mcp-Method header is missing"),
        ("Mcp-Method says tools/call", 400, -32020, "Mcp-Method header 'tools/call' does not match"),
        ("no Mcp-Name", 400, -32020, "Mcp-Name header is missing"),
        ("Mcp-Name names another tool", 400, -32020, "Mcp-Name header 'other' does not match"),
        ("unsupported version", 400, -32022, "Unsupported protocol version: 2099-01-01"),
        ("removed method", 404, -32601, "Method not found: logging/setLevel"),
    ],
)
def test_a_bad_2026_request_says_what_is_wrong(
    modern: str, token: str, case: str, status: int, code: int, says: str
) -> None:
    method = "tools/call" if "Mcp-Name" in case else "tools/list"
    params = {"name": GET_TIME, "arguments": {"timezone": "UTC"}} if method == "tools/call" else None
    body = _stamped(method, params)
    headers = _headers(method, **({"Mcp-Name": GET_TIME} if method == "tools/call" else {}))
    if case == "no version header":
        del headers["MCP-Protocol-Version"]
    elif case == "unknown header version":
        headers["MCP-Protocol-Version"] = "2099-01-01"
    elif case == "no _meta":
        del body["params"]["_meta"]
    elif case == "_meta without capabilities":
        del body["params"]["_meta"][CAPS]
    elif case == "no Mcp-Method":
        del headers["Mcp-Method"]
    elif case == "Mcp-Method says tools/call":
        headers["Mcp-Method"] = "tools/call"
    elif case == "no Mcp-Name":
        del headers["Mcp-Name"]
    elif case == "Mcp-Name names another tool":
        headers["Mcp-Name"] = "other"
    elif case == "unsupported version":
        body = _stamped(method, version="2099-01-01")
        headers = _headers(method, version="2099-01-01")
    elif case == "removed method":
        body = _stamped("logging/setLevel", {"level": "info"})
        headers = _headers("logging/setLevel")
    response = _post(modern, token, body, headers)
    assert says in _error(response, status, code)
    if code == -32022:
        assert response.json()["error"]["data"] == {
            "supported": [*HANDSHAKE, V2026],
            "requested": "2099-01-01",
        }


def test_initialize_never_negotiates_2026(modern: str, modern_only: str, token: str) -> None:
    offer = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "initialize",
        "params": {"protocolVersion": V2026, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    # Stamped like a 2026 request, still the handshake: it answers the newest handshake version.
    opened = _post(modern, token, offer, _headers("initialize"))
    assert opened.status_code == 200 and opened.json()["result"]["protocolVersion"] == "2025-11-25"
    assert opened.headers["mcp-session-id"]
    # A gateway listing only 2026-07-28 has no handshake to offer.
    refused = _post(modern_only, token, offer, {})
    assert "no initialize handshake" in _error(refused, 400, -32022)
    assert refused.json()["error"]["data"] == {"supported": [V2026], "requested": V2026}


def test_a_2026_only_gateway_refuses_unstamped_requests(modern_only: str, token: str) -> None:
    plain = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}
    assert "stateless requests only" in _error(_post(modern_only, token, plain, {}), 400, -32022)
    served = _post(modern_only, token, _stamped("tools/list"), _headers("tools/list"))
    assert served.status_code == 200 and GET_TIME in [t["name"] for t in served.json()["result"]["tools"]]


def test_2026_notifications_are_accepted_only_where_the_version_is(
    modern: str, legacy: str, token: str
) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    assert _post(modern, token, note, _headers("notifications/cancelled")).status_code == 202
    refused = _post(legacy, token, note, _headers("notifications/cancelled"))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == -32022


@pytest.mark.parametrize(
    ("meta", "code"),
    [
        ([], -32602),
        ("2026-07-28", -32602),
        ({PV: V2026}, -32602),
        ({PV: 20260728, CAPS: {}}, -32020),
        ({PV: None, CAPS: {}}, -32020),
        ({PV: [V2026], CAPS: {}}, -32020),
    ],
)
def test_odd_2026_envelopes_are_clear_400s(modern: str, token: str, meta: Any, code: int) -> None:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": meta}}
    _error(_post(modern, token, body, _headers("tools/list")), 400, code)


def test_mcp_name_may_come_base64_encoded(modern: str, token: str) -> None:
    """MCP sends header values that are not plain ASCII as `=?base64?…?=`; a broken one matches nothing."""
    call = _stamped("tools/call", {"name": GET_TIME, "arguments": {"timezone": "UTC"}})
    encoded = "=?base64?" + base64.b64encode(GET_TIME.encode()).decode() + "?="
    served = _post(modern, token, call, _headers("tools/call", **{"Mcp-Name": encoded}))
    assert served.status_code == 200 and served.json()["result"]["isError"] is False
    broken = _post(modern, token, call, _headers("tools/call", **{"Mcp-Name": "=?base64?!!?="}))
    assert "does not match" in _error(broken, 400, -32020)


def test_a_tools_call_name_that_is_not_a_string_never_matches_mcp_name(modern: str, token: str) -> None:
    """The mcp SDK's ladder compares Mcp-Name with any non-null params.name: a number is not the
    header's text, so the request disagrees with itself."""
    call = _stamped("tools/call", {"name": 123, "arguments": {}})
    refused = _post(modern, token, call, _headers("tools/call", **{"Mcp-Name": "123"}))
    assert "Mcp-Name header '123' does not match the body's params.name 123" in _error(refused, 400, -32020)
