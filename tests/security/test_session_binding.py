"""MCP sessions belong to the gateway and the client that opened them: another client of the same
gateway, or the same session id on another gateway, finds no session (404) and cannot use or end
it; and one client opening sessions without end loses its own oldest ones, never another's."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from integration.stackkit import Authz, Kit, Mcp

from agentgw_local.gateway.handshake import MAX_SESSIONS_PER_CLIENT

GET_TIME = {"name": "timeweather___get_time", "arguments": {"timezone": "UTC"}}


@pytest.fixture(scope="module")
def two_clients(kit: Kit) -> tuple[str, Authz, Authz, str]:
    """A gateway that allows two clients of one pool, and a second gateway of the same pool."""
    first = kit.cognito()
    client = kit.client(first.pool_id, [first.scope])
    second = replace(first, client_id=client["ClientId"], client_secret=client["ClientSecret"])
    allowed = {"allowedClients": [first.client_id, second.client_id]}
    gateway = kit.timeweather_gateway(first, authorizer=allowed)
    other_gateway = kit.timeweather_gateway(first, authorizer=allowed)
    return gateway, first, second, other_gateway


def _opened(kit: Kit, gateway: str, authz: Authz) -> Mcp:
    client = Mcp(kit.mcp_url(gateway), authz.token())
    client.initialize()
    return client


def _call(client: Mcp, session_id: str | None = None) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": GET_TIME}
    return client.post(body, **({"Mcp-Session-Id": session_id} if session_id else {}))


def test_another_client_cannot_use_or_end_a_session(
    kit: Kit, two_clients: tuple[str, Authz, Authz, str]
) -> None:
    gateway, first, second, _ = two_clients
    owner = _opened(kit, gateway, first)
    assert owner.session_id is not None
    intruder = Mcp(kit.mcp_url(gateway), second.token())

    used = _call(intruder, owner.session_id)
    assert used.status_code == 404, used.text
    assert used.json()["error"]["message"] == "Session not found"
    ended = httpx.delete(owner.url, headers=intruder.headers(**{"Mcp-Session-Id": owner.session_id}))
    assert ended.status_code == 404

    # The owner's session is untouched, and its owner can end it.
    assert _call(owner).json()["result"]["isError"] is False
    assert httpx.delete(owner.url, headers=owner.headers()).status_code == 200
    assert _call(owner).status_code == 404


def test_a_session_id_is_no_use_on_another_gateway(
    kit: Kit, two_clients: tuple[str, Authz, Authz, str]
) -> None:
    gateway, first, _, other_gateway = two_clients
    owner = _opened(kit, gateway, first)
    elsewhere = Mcp(kit.mcp_url(other_gateway), first.token())
    assert _call(elsewhere, owner.session_id).status_code == 404
    assert _call(owner).json()["result"]["isError"] is False


def test_a_client_opening_sessions_without_end_loses_only_its_own(
    kit: Kit, two_clients: tuple[str, Authz, Authz, str]
) -> None:
    gateway, first, second, _ = two_clients
    bystander = _opened(kit, gateway, second)
    token = first.token()
    url = kit.mcp_url(gateway)
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    flooder = Mcp(url, token)
    opened: list[str] = []
    with httpx.Client(headers=flooder.headers(), timeout=60) as http:
        for _ in range(MAX_SESSIONS_PER_CLIENT + 1):
            response = http.post(url, json=hello)
            assert response.status_code == 200
            opened.append(response.headers["mcp-session-id"])

    assert _call(bystander).json()["result"]["isError"] is False  # another client's session survives
    assert _call(flooder, opened[0]).status_code == 404  # the flooder's oldest went
    assert _call(flooder, opened[-1]).json()["result"]["isError"] is False
