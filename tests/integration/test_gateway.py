"""The local gateway's data plane over HTTP on loopback: AgentCore's contract on the wire."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from agentgw.tools import target_name
from agentgw_local.cognito import SigningKey
from agentgw_local.stack import LocalStack
from integration.stackkit import ACCEPT, Authz, Kit, Mcp

SEARCH = "x_amz_bedrock_agentcore_search"
GET_TIME = f"{target_name()}___get_time"


@pytest.fixture(scope="module")
def provisioned(local_stack: LocalStack) -> Mcp:
    info = local_stack.info
    assert info is not None
    token = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
    ).json()["access_token"]
    return Mcp(info.gateway_url, token)


@pytest.fixture(scope="module")
def authz(kit: Kit) -> Authz:
    return kit.cognito()


@pytest.fixture(scope="module")
def many_tools(kit: Kit, authz: Authz) -> tuple[str, list[str]]:
    """A gateway with 2 targets and 70 tools (3 pages of 30 with the search tool)."""
    gateway_id = kit.timeweather_gateway(authz)
    echo = kit.function("kit-echo", lambda event, context: {"echo": event})
    tools = [
        {
            "name": f"tool{i:02d}",
            "description": f"Echo tool number {i}",
            "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        }
        for i in range(68)
    ]
    kit.target(gateway_id, echo, tools, name="echo")
    names = [SEARCH, f"{target_name()}___get_time", f"{target_name()}___get_weather"]
    names += [f"echo___tool{i:02d}" for i in range(68)]
    return gateway_id, names


def mcp_for(kit: Kit, gateway_id: str, authz: Authz) -> Mcp:
    return Mcp(kit.mcp_url(gateway_id), authz.token())


# -- the provisioned gateway, end to end -----------------------------------------------------
def test_initialize_list_call_search_on_the_provisioned_gateway(provisioned: Mcp) -> None:
    result = provisioned.initialize("2025-06-18")
    assert result["protocolVersion"] == "2025-06-18"
    assert result["capabilities"]["tools"] == {"listChanged": False}

    tools, _ = provisioned.list_all()
    names = [t["name"] for t in tools]
    assert names[0] == SEARCH
    assert {GET_TIME, f"{target_name()}___get_weather"} <= set(names)

    reply = provisioned.call(GET_TIME, {"timezone": "Asia/Tokyo"})["result"]
    assert reply["isError"] is False
    [item] = reply["content"]
    data = json.loads(item["text"])
    assert data["timezone"] == "Asia/Tokyo" and data["utc_offset"] == "+09:00"

    found = provisioned.call(SEARCH, {"query": "what time is it in Tokyo"})["result"]
    assert found["isError"] is False
    listed = json.loads(found["content"][0]["text"])["tools"]
    assert listed == found["structuredContent"]["tools"]
    assert 1 <= len(listed) <= 10
    assert listed[0]["name"] == GET_TIME
    assert set(listed[0]) >= {"name", "description", "inputSchema"}


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
def test_each_supported_protocol_version_is_accepted(provisioned: Mcp, version: str) -> None:
    client = Mcp(provisioned.url, provisioned.token)
    assert client.initialize(version)["protocolVersion"] == version
    reply = client.post({"jsonrpc": "2.0", "id": 5, "method": "ping"}, **{"MCP-Protocol-Version": version})
    assert reply.json() == {"jsonrpc": "2.0", "id": 5, "result": {}}


def test_unknown_protocol_version_negotiates_the_latest(provisioned: Mcp) -> None:
    client = Mcp(provisioned.url, provisioned.token)
    assert client.initialize("2024-01-01")["protocolVersion"] == "2025-11-25"
    reply = client.post(
        {"jsonrpc": "2.0", "id": 1, "method": "ping"}, **{"MCP-Protocol-Version": "1999-01-01"}
    )
    assert reply.status_code == 400


def test_gateway_restricted_versions_negotiate_within_them(kit: Kit, authz: Authz) -> None:
    gateway_id = kit.timeweather_gateway(authz, versions=["2025-03-26"])
    client = mcp_for(kit, gateway_id, authz)
    assert client.initialize("2025-11-25")["protocolVersion"] == "2025-03-26"


# -- pagination --------------------------------------------------------------------------------
def test_tools_list_pages_of_thirty_until_no_cursor(kit: Kit, authz: Authz, many_tools: Any) -> None:
    gateway_id, expected = many_tools
    client = mcp_for(kit, gateway_id, authz)
    client.initialize()
    first = client.request("tools/list")["result"]
    assert len(first["tools"]) == 30 and first["nextCursor"]
    tools, pages = client.list_all()
    assert pages == 3
    assert [t["name"] for t in tools] == expected


def test_bad_cursor_is_invalid_params(kit: Kit, authz: Authz, many_tools: Any) -> None:
    client = mcp_for(kit, many_tools[0], authz)
    reply = client.request("tools/list", {"cursor": "not-a-cursor"})
    assert reply["error"]["code"] == -32602


def test_a_deeply_nested_cursor_is_invalid_params_not_a_500(kit: Kit, authz: Authz, many_tools: Any) -> None:
    depth = 100_000  # past the JSON decoder's recursion limit
    client = mcp_for(kit, many_tools[0], authz)
    client.initialize()
    nested = base64.urlsafe_b64encode(("[" * depth + "]" * depth).encode()).decode().rstrip("=")
    reply = client.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": nested}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["error"] == {"code": -32602, "message": "Invalid cursor"}


# -- authorization -----------------------------------------------------------------------------
def assert_401(response: httpx.Response, gateway_url: str) -> str:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == -32001
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    metadata_url = challenge.split('resource_metadata="')[1].split('"')[0]
    assert metadata_url.endswith("/.well-known/oauth-protected-resource")
    metadata = httpx.get(metadata_url).json()
    assert metadata["resource"] == gateway_url
    return str(body["error"]["message"])


def ping(url: str, token: str | None) -> httpx.Response:
    return Mcp(url, token).post({"jsonrpc": "2.0", "id": 1, "method": "ping"})


def test_no_token_is_401_with_resource_metadata(provisioned: Mcp, local_stack: LocalStack) -> None:
    response = ping(provisioned.url, None)
    assert_401(response, provisioned.url)
    metadata_url = response.headers["www-authenticate"].split('"')[1]
    metadata = httpx.get(metadata_url).json()
    assert local_stack.info is not None
    assert metadata["authorization_servers"] == [
        local_stack.info.discovery_url.removesuffix("/.well-known/openid-configuration")
    ]


def test_malformed_token_is_401(provisioned: Mcp) -> None:
    assert "Malformed" in assert_401(ping(provisioned.url, "not.a.jwt"), provisioned.url)
    response = httpx.post(provisioned.url, headers={"Authorization": "Basic abc", "Accept": ACCEPT}, json={})
    assert_401(response, provisioned.url)


def test_expired_token_is_401(local_stack: LocalStack, kit: Kit, authz: Authz, many_tools: Any) -> None:
    assert local_stack.cognito is not None
    url = kit.mcp_url(many_tools[0])
    good = jwt.decode(authz.token(), options={"verify_signature": False})
    expired = local_stack.cognito.sign(authz.pool_id, {**good, "exp": int(time.time()) - 5})
    assert "expired" in assert_401(ping(url, expired), url)


def test_token_of_another_client_is_401(kit: Kit, authz: Authz, many_tools: Any) -> None:
    url = kit.mcp_url(many_tools[0])
    other = kit.client(authz.pool_id, [authz.scope])
    token = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials"},
        auth=(other["ClientId"], other["ClientSecret"]),
    ).json()["access_token"]
    assert "client_id" in assert_401(ping(url, token), url)
    assert ping(url, authz.token()).status_code == 200


def test_tampered_token_fails_the_signature_check(kit: Kit, authz: Authz, many_tools: Any) -> None:
    url = kit.mcp_url(many_tools[0])
    header, payload, signature = authz.token().split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["scope"] = "admin"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert "signature" in assert_401(ping(url, f"{header}.{forged}.{signature}"), url)


def test_token_signed_by_another_key_is_401(
    local_stack: LocalStack, kit: Kit, authz: Authz, many_tools: Any
) -> None:
    assert local_stack.cognito is not None
    url = kit.mcp_url(many_tools[0])
    claims = jwt.decode(authz.token(), options={"verify_signature": False})
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unknown_kid = local_stack.cognito.sign(authz.pool_id, claims, key=SigningKey("stranger", stranger))
    assert "unknown key" in assert_401(ping(url, unknown_kid), url)
    pool_kid = local_stack.cognito.signing_key(authz.pool_id).kid
    same_kid = local_stack.cognito.sign(authz.pool_id, claims, key=SigningKey(pool_kid, stranger))
    assert "signature" in assert_401(ping(url, same_kid), url)


def test_token_from_another_pool_is_401(kit: Kit, authz: Authz, many_tools: Any) -> None:
    url = kit.mcp_url(many_tools[0])
    assert_401(ping(url, kit.cognito().token()), url)


def test_audience_and_scopes_when_configured(kit: Kit, authz: Authz) -> None:
    needs_aud = kit.timeweather_gateway(authz, authorizer={"allowedAudience": ["my-api"]})
    url = kit.mcp_url(needs_aud)
    assert "audience" in assert_401(ping(url, authz.token()), url)

    needs_scope = kit.timeweather_gateway(authz, authorizer={"allowedScopes": ["other/scope"]})
    response = ping(kit.mcp_url(needs_scope), authz.token())
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]

    has_scope = kit.timeweather_gateway(authz, authorizer={"allowedScopes": [authz.scope]})
    assert ping(kit.mcp_url(has_scope), authz.token()).status_code == 200


# -- tools/call --------------------------------------------------------------------------------
def test_bad_arguments_are_invalid_params_with_the_reason(provisioned: Mcp) -> None:
    missing = provisioned.call(GET_TIME, {})
    assert missing["error"]["code"] == -32602
    assert "'timezone' is a required property" in missing["error"]["message"]
    wrong_type = provisioned.call(GET_TIME, {"timezone": 42})
    assert wrong_type["error"]["code"] == -32602
    assert "timezone" in wrong_type["error"]["message"]
    not_object = provisioned.request("tools/call", {"name": GET_TIME, "arguments": [1]})
    assert not_object["error"]["code"] == -32602


def test_unknown_tool_and_method(provisioned: Mcp) -> None:
    assert provisioned.call("nope___nothing", {})["error"]["code"] == -32602
    assert provisioned.request("resources/list")["error"]["code"] == -32601


def test_search_needs_a_query(provisioned: Mcp) -> None:
    assert provisioned.call(SEARCH, {})["error"]["code"] == -32602


def test_a_search_query_longer_than_the_bound_is_refused_before_searching(provisioned: Mcp) -> None:
    from agentgw_local.gateway.tools import MAX_SEARCH_QUERY_CHARS

    at_bound = provisioned.call(SEARCH, {"query": "time in Tokyo " + "x" * (MAX_SEARCH_QUERY_CHARS - 14)})
    assert at_bound["result"]["isError"] is False
    refused = provisioned.call(SEARCH, {"query": "time " * (MAX_SEARCH_QUERY_CHARS // 5 + 1)})
    assert refused["error"]["code"] == -32602
    assert "is too long" in refused["error"]["message"] and "query" in refused["error"]["message"]


def raising(event: Any, context: Any) -> Any:
    raise ValueError(f"cannot handle {event}")


def test_failing_tool_is_an_error_result_with_debug_detail(kit: Kit, authz: Authz) -> None:
    seen: list[dict[str, Any]] = []

    def failing(event: Any, context: Any) -> Any:
        seen.append(dict(context.client_context.custom))
        raise ValueError("the backend is down")

    arn = kit.function("kit-failing", failing)
    tools = [{"name": "explode", "description": "Always fails", "inputSchema": {"type": "object"}}]
    debug_gw = kit.gateway(authz, debug=True)
    target_id = kit.target(debug_gw, arn, tools, name="boom")
    reply = mcp_for(kit, debug_gw, authz).call("boom___explode", {})["result"]
    assert reply["isError"] is True
    text = reply["content"][0]["text"]
    assert "ValueError: the backend is down" in text
    assert reply["_meta"]["debug"] == text
    [custom] = seen
    assert custom["bedrockAgentCoreToolName"] == "boom___explode"
    assert custom["bedrockAgentCoreGatewayId"] == debug_gw
    assert custom["bedrockAgentCoreTargetId"] == target_id
    assert custom["bedrockAgentCoreMessageVersion"] == "1.0"
    assert custom["bedrockAgentCoreMcpMessageId"] == "1"
    assert custom["bedrockAgentCoreAwsRequestId"]

    quiet_gw = kit.gateway(authz, debug=False)
    kit.target(quiet_gw, arn, tools, name="boom")
    reply = mcp_for(kit, quiet_gw, authz).call("boom___explode", {})["result"]
    assert reply["isError"] is True
    assert reply["content"] == [{"type": "text", "text": "An internal error occurred. Please retry later."}]
    assert "_meta" not in reply


def test_tool_error_from_the_real_handler(provisioned: Mcp) -> None:
    reply = provisioned.call(GET_TIME, {"timezone": "Nowhere/Atlantis"})["result"]
    assert reply["isError"] is True
    assert "Atlantis" in reply["content"][0]["text"]  # the provisioned gateway runs with DEBUG


def test_target_added_to_the_control_plane_shows_up(kit: Kit, authz: Authz) -> None:
    gateway_id = kit.timeweather_gateway(authz)
    client = mcp_for(kit, gateway_id, authz)
    before = {t["name"] for t in client.list_all()[0]}
    assert "late___shout" not in before
    arn = kit.function("kit-shout", lambda event, context: {"shout": str(event["text"]).upper()})
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    kit.target(
        gateway_id,
        arn,
        [{"name": "shout", "description": "Upper-case text", "inputSchema": schema}],
        name="late",
    )
    after = {t["name"] for t in client.list_all()[0]}
    assert after == before | {"late___shout"}
    reply = client.call("late___shout", {"text": "hi"})["result"]
    assert json.loads(reply["content"][0]["text"]) == {"shout": "HI"}
    found = client.call(SEARCH, {"query": "upper-case some text"})["result"]["structuredContent"]["tools"]
    assert found[0]["name"] == "late___shout"


def test_search_returns_definitions_without_output_schema(kit: Kit, authz: Authz) -> None:
    gateway_id = kit.gateway(authz)
    arn = kit.function("kit-reverse", lambda event, context: {"reversed": str(event["text"])[::-1]})
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    output = {"type": "object", "properties": {"reversed": {"type": "string"}}}
    tool = {"name": "reverse", "description": "Reverse a piece of text", "inputSchema": schema}
    kit.target(gateway_id, arn, [{**tool, "outputSchema": output}], name="rev")
    client = mcp_for(kit, gateway_id, authz)
    found = client.call(SEARCH, {"query": "reverse this text"})["result"]
    tools = json.loads(found["content"][0]["text"])["tools"]
    assert tools == found["structuredContent"]["tools"]
    assert tools[0] == {**tool, "name": "rev___reverse"}


def test_gateway_without_search_has_no_search_tool(kit: Kit, authz: Authz) -> None:
    gateway_id = kit.timeweather_gateway(authz, search=False)
    client = mcp_for(kit, gateway_id, authz)
    names = [t["name"] for t in client.list_all()[0]]
    assert SEARCH not in names and GET_TIME in names
    assert client.call(SEARCH, {"query": "time"})["error"]["code"] == -32602


# -- streamable HTTP transport -----------------------------------------------------------------
def test_notifications_get_202_and_get_gets_405(provisioned: Mcp) -> None:
    response = provisioned.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202 and response.content == b""
    response = httpx.get(provisioned.url, headers=provisioned.headers())
    assert response.status_code == 405


def test_delete_ends_the_session(provisioned: Mcp) -> None:
    client = Mcp(provisioned.url, provisioned.token)
    client.initialize()
    assert client.request("ping")["result"] == {}
    assert httpx.delete(client.url, headers=client.headers()).status_code == 200
    gone = client.post({"jsonrpc": "2.0", "id": 9, "method": "ping"})
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Session not found"


def test_sse_only_clients_get_one_event(provisioned: Mcp) -> None:
    response = provisioned.post({"jsonrpc": "2.0", "id": 3, "method": "ping"}, Accept="text/event-stream")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text == 'event: message\ndata: {"jsonrpc":"2.0","id":3,"result":{}}\n\n'


@pytest.mark.parametrize(
    ("accept", "status", "content_type"),
    [
        ("application/json;q=0.9, text/event-stream", 200, "application/json"),
        ("text/*", 200, "text/event-stream"),
        ("*/*", 200, "application/json"),
        # Media types are compared whole (the mcp SDK's parsing), not as substrings.
        ("application/json-patch+json", 406, "application/json"),
        ("text/event-stream-x", 406, "application/json"),
    ],
)
def test_accept_is_parsed_by_media_type(
    provisioned: Mcp, accept: str, status: int, content_type: str
) -> None:
    response = provisioned.post({"jsonrpc": "2.0", "id": 3, "method": "ping"}, Accept=accept)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(content_type)


def test_malformed_bodies(provisioned: Mcp) -> None:
    headers = provisioned.headers()
    assert (
        httpx.post(provisioned.url, content=b"{not json", headers=headers).json()["error"]["code"] == -32700
    )
    batch = httpx.post(provisioned.url, json=[{"jsonrpc": "2.0", "id": 1, "method": "ping"}], headers=headers)
    assert batch.json()["error"]["code"] == -32600


def test_payloads_over_6_mb_are_refused(provisioned: Mcp) -> None:
    big = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": GET_TIME, "arguments": {"timezone": "x" * (6 * 1024 * 1024)}},
    }
    response = provisioned.post(big)
    assert response.status_code == 413
    assert "6291456 byte limit" in response.json()["error"]["message"]


def test_unknown_gateway_is_404(local_stack: LocalStack, provisioned: Mcp) -> None:
    url = f"{local_stack.base_url}/gateways/nosuchgw/mcp"
    assert ping(url, provisioned.token).status_code == 404
