"""Server-side counters of the local stack (what the benchmarks count): Cognito tokens issued and
refused, gateway requests by JSON-RPC method, MCP sessions opened/closed, auth failures."""

from __future__ import annotations

from collections import Counter

import httpx

from agentgw_local.stack import LocalStack

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _rpc(method: str, request_id: int, **params: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def _delta(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in set(after) | set(before) if after[k] != before[k]}


def test_counts_tokens_sessions_and_methods(local_stack: LocalStack) -> None:
    info = local_stack.info
    assert info is not None and local_stack.cognito is not None and local_stack.gateway is not None
    cognito_before = Counter(local_stack.cognito.stats)
    gateway_before = Counter(local_stack.gateway.stats)

    token = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
    ).json()["access_token"]
    refused = httpx.post(
        info.token_url, data={"grant_type": "client_credentials"}, auth=(info.client_id, "wrong-secret")
    )
    assert refused.status_code == 400  # invalid_client, as Cognito answers it

    url = info.gateway_url
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=30) as http:
        opened = http.post(
            url,
            json=_rpc(
                "initialize",
                1,
                protocolVersion="2025-06-18",
                capabilities={},
                clientInfo={"name": "t", "version": "1"},
            ),
        )
        assert opened.status_code == 200, opened.text
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert http.post(url, json=initialized, headers=session).status_code == 202
        assert http.post(url, json=_rpc("tools/list", 2), headers=session).status_code == 200
        called = http.post(
            url,
            json=_rpc("tools/call", 3, name="timeweather___get_time", arguments={"timezone": "UTC"}),
            headers=session,
        )
        assert called.json()["result"]["isError"] is False
        assert http.delete(url, headers=session).status_code == 200
    assert httpx.post(url, json=_rpc("tools/list", 4), headers=MCP_HEADERS).status_code == 401

    cognito_delta = _delta(Counter(local_stack.cognito.stats), cognito_before)
    assert cognito_delta == {"tokens_issued": 1, "token_errors": 1}
    assert _delta(Counter(local_stack.gateway.stats), gateway_before) == {
        "initialize": 1,
        "sessions_opened": 1,
        "tools/list": 1,
        "tools/call": 1,
        "sessions_closed": 1,
        "auth_errors": 1,
    }


def test_method_names_a_client_makes_up_share_one_counter(local_stack: LocalStack) -> None:
    """The names are the client's: counting each would let a client grow the server's memory."""
    info = local_stack.info
    assert info is not None and local_stack.gateway is not None
    token = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
    ).json()["access_token"]
    before = Counter(local_stack.gateway.stats)
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-06-18"}
    with httpx.Client(headers=headers, timeout=30) as http:
        for n in range(20):
            answered = http.post(info.gateway_url, json=_rpc(f"made/up/{n}", n))
            assert answered.status_code in (200, 400), answered.text
    delta = _delta(Counter(local_stack.gateway.stats), before)
    assert delta == {"unknown_method": 20}
    assert not any(name.startswith("made/up") for name in local_stack.gateway.stats)
