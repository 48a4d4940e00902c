"""The agent's use of the gateway, on a gateway of its own in the local stack's control plane:
token reuse and refresh on 401, the tool-list TTL, search-first trimming (with a tool name
longer than Bedrock's 64 characters), and the deadline.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from agentgw.oauth import AccessToken
from agentgw_local.stack import LocalStack
from integration.agent_support import (
    IsolatedGateway,
    Script,
    TokenCounter,
    Turn,
    agent_service,
    agent_uses,
    prompt,
    publish_gateway,
    scripted,
    threads_running_invocation_code,
    tool_result_text,
)
from integration.stackkit import Kit

__all__ = ["scripted"]  # the fixture, imported for pytest

GET_TIME = "timeweather___get_time"
MODEL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
LONG_TOOL = "convert_between_measurement_units_for_length_mass_volume_and_temperature_values"
INVENTORY_TOOLS = 30


def _update_gateway(kit: Kit, gateway_id: str, **changes: Any) -> dict[str, Any]:
    """UpdateGateway with the gateway's current settings and `changes`; without changes, only
    read them (UpdateGateway replaces every field, so each update restates the rest)."""
    control = kit.aws.client("bedrock-agentcore-control")
    current = control.get_gateway(gatewayIdentifier=gateway_id)
    if changes:
        fields = ("name", "roleArn", "protocolType", "protocolConfiguration")
        settings = {key: current[key] for key in (*fields, "authorizerType", "authorizerConfiguration")}
        control.update_gateway(gatewayIdentifier=gateway_id, **(settings | changes))
    return current


def api(stack: LocalStack) -> str:
    assert stack.info is not None and stack.info.api_url
    return stack.info.api_url


@pytest.fixture(scope="module")
def gateway(local_stack: LocalStack) -> IsolatedGateway:
    """timeweather on a fresh gateway (so these tests may poison tokens and add targets)."""
    return publish_gateway(Kit(local_stack))


@pytest.fixture(scope="module")
def crowded_gateway(local_stack: LocalStack) -> IsolatedGateway:
    """timeweather plus 31 more tools, one of them with a gateway name over 64 characters."""
    kit = Kit(local_stack)
    published = publish_gateway(kit)

    def units_and_inventory(event: Any, context: Any) -> dict[str, Any]:
        tool = context.client_context.custom["bedrockAgentCoreToolName"].split("___", 1)[1]
        if tool == LONG_TOOL:
            factor = {"km": 1.609344}[event["to_unit"]]
            return {"value": round(event["value"] * factor, 3), "unit": event["to_unit"]}
        return {"item": tool, "in_stock": 7}

    arn = kit.function("kit-units-inventory", units_and_inventory)
    tools = [
        {
            "name": LONG_TOOL,
            "description": "Convert a value between measurement units, e.g. miles to km (km), pounds to kg.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "value": {"type": "number", "description": "the amount to convert"},
                    "from_unit": {"type": "string", "description": "unit of the amount, e.g. mi"},
                    "to_unit": {"type": "string", "description": "unit wanted, e.g. km"},
                },
                "required": ["value", "from_unit", "to_unit"],
            },
        }
    ] + [
        {
            "name": f"warehouse_item_{i}_stock",
            "description": f"Stock level of warehouse item number {i} in the parts depot.",
            "inputSchema": {"type": "object", "properties": {}},
        }
        for i in range(INVENTORY_TOOLS)
    ]
    kit.target(published.gateway_id, arn, tools, name="unitsandstock")
    return published


def test_token_is_reused_across_requests(
    local_stack: LocalStack,
    gateway: IsolatedGateway,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = TokenCounter(local_stack.cognito, monkeypatch)
    with agent_uses(monkeypatch, gateway):
        for i in range(3):
            scripted.play(Turn(tool_uses=[(GET_TIME, {"timezone": "UTC"})]), Turn(text=f"answer {i}"))
            response = prompt(api(local_stack), {"prompt": "What time is it in UTC?"})
            assert response.status_code == 200, response.text
            assert response.json()["tool_calls"][0]["is_error"] is False
    assert tokens.count == 1


def test_rejected_token_is_refreshed_once(
    local_stack: LocalStack,
    gateway: IsolatedGateway,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = TokenCounter(local_stack.cognito, monkeypatch)
    with agent_uses(monkeypatch, gateway):
        scripted.play(Turn(text="warm"))
        assert prompt(api(local_stack), {"prompt": "warm up"}).status_code == 200
        assert tokens.count == 1
        # The cached token is still "fresh" by its expiry but the gateway rejects it (revoked,
        # keys rotated...): the agent gets a 401, fetches one new token and carries on.
        cache = agent_service().credentials.token_cache(gateway.config, 300)
        cache._token = AccessToken("revoked-token", time.monotonic() + 3600)
        scripted.play(Turn(tool_uses=[(GET_TIME, {"timezone": "UTC"})]), Turn(text="done"))
        response = prompt(api(local_stack), {"prompt": "What time is it in UTC?"})

        assert response.status_code == 200, response.text
        assert response.json()["tool_calls"][0]["is_error"] is False
        assert tokens.count == 2
        assert cache.get() != "revoked-token"


def test_a_token_the_gateway_never_accepts_fails_after_one_refresh(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kit = Kit(local_stack)
    published = publish_gateway(kit)
    authorizer = _update_gateway(kit, published.gateway_id)["authorizerConfiguration"]
    authorizer["customJWTAuthorizer"]["allowedClients"] = ["some-other-client"]
    _update_gateway(kit, published.gateway_id, authorizerConfiguration=authorizer)
    _update_gateway(kit, published.gateway_id)  # read once more: UPDATING -> READY
    tokens = TokenCounter(local_stack.cognito, monkeypatch)
    with agent_uses(monkeypatch, published):
        response = prompt(api(local_stack), {"prompt": "What time is it in UTC?"})

    assert response.status_code == 502, response.text
    assert response.json()["error"] == "gateway_unavailable"
    assert tokens.count == 2  # the first token, then exactly one refresh: no retry loop
    assert scripted.seen == []


def test_tool_list_is_cached_for_its_ttl(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kit = Kit(local_stack)
    published = publish_gateway(kit)
    monkeypatch.setenv("AGENTGW_TOOL_LIST_TTL_SECONDS", "3600")
    with agent_uses(monkeypatch, published):
        before = agent_service().caches.tool_lists.fetches
        scripted.play(Turn(text="one"))
        assert prompt(api(local_stack), {"prompt": "one"}).status_code == 200
        assert agent_service().caches.tool_lists.fetches == before + 1
        assert len(scripted.seen[0].tool_names) == 2

        # A target added now is not seen until the cached list expires.
        arn = kit.function("kit-ping", lambda event, context: {"pong": True})
        kit.target(
            published.gateway_id,
            arn,
            [
                {
                    "name": "ping",
                    "description": "Answer pong.",
                    "inputSchema": {"type": "object", "properties": {}},
                }
            ],
            name="pinger",
        )
        scripted.play(Turn(text="two"))
        assert prompt(api(local_stack), {"prompt": "two"}).status_code == 200
        assert agent_service().caches.tool_lists.fetches == before + 1
        assert "pinger___ping" not in scripted.seen[0].tool_names

        monkeypatch.setenv("AGENTGW_TOOL_LIST_TTL_SECONDS", "0")
        scripted.play(Turn(text="three"))
        assert prompt(api(local_stack), {"prompt": "three"}).status_code == 200
        assert agent_service().caches.tool_lists.fetches == before + 2
        assert "pinger___ping" in scripted.seen[0].tool_names


def test_search_first_gives_the_model_only_the_top_tools(
    local_stack: LocalStack,
    crowded_gateway: IsolatedGateway,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with agent_uses(monkeypatch, crowded_gateway):
        scripted.play(
            Turn(tool_uses=[(GET_TIME, {"timezone": "Asia/Tokyo"})]), Turn(text="It is late in Tokyo.")
        )
        response = prompt(api(local_stack), {"prompt": "What time is it in Tokyo?"})

    assert response.status_code == 200, response.text
    selection = scripted.selections[0]
    assert selection.total == INVENTORY_TOOLS + 3
    assert selection.searched
    offered = scripted.seen[0].tool_names
    assert 0 < len(offered) <= 5
    assert GET_TIME in offered
    assert response.json()["tool_calls"][0]["name"] == GET_TIME


def test_below_the_threshold_every_tool_is_offered(
    local_stack: LocalStack,
    crowded_gateway: IsolatedGateway,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTGW_SEARCH_THRESHOLD", "100")
    with agent_uses(monkeypatch, crowded_gateway):
        scripted.play(Turn(text="no tools needed"))
        assert prompt(api(local_stack), {"prompt": "What time is it in Tokyo?"}).status_code == 200
    assert len(scripted.seen[0].tool_names) == INVENTORY_TOOLS + 3
    assert not scripted.selections[0].searched
    assert all(MODEL_NAME.match(name) for name in scripted.seen[0].tool_names)


def test_tool_names_over_64_characters_work_through_an_alias(
    local_stack: LocalStack,
    crowded_gateway: IsolatedGateway,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long_name = f"unitsandstock___{LONG_TOOL}"
    assert len(long_name) > 64

    def converter(specs: list[Any]) -> str:
        return next(s["name"] for s in specs if "measurement units" in s["description"])

    with agent_uses(monkeypatch, crowded_gateway):
        scripted.play(
            Turn(tool_uses=[(converter, {"value": 5, "from_unit": "mi", "to_unit": "km"})]),
            Turn(text=lambda messages: f"Converted: {tool_result_text(messages)}"),
        )
        response = prompt(api(local_stack), {"prompt": "Convert 5 miles to kilometers"})

    assert response.status_code == 200, response.text
    body = response.json()
    offered = scripted.seen[0].tool_names
    assert all(MODEL_NAME.match(name) for name in offered)
    assert long_name not in offered
    # The trace reports the gateway's real name; the gateway ran the tool under it.
    assert body["tool_calls"] == [
        {
            "name": long_name,
            "arguments": {"value": 5, "from_unit": "mi", "to_unit": "km"},
            "is_error": False,
            "latency_ms": body["tool_calls"][0]["latency_ms"],
        }
    ]
    assert '"value": 8.047' in body["answer"]


@pytest.mark.parametrize("versions", [["2025-11-25"], ["2025-11-25", "2026-07-28"]], ids=["2025", "2026"])
def test_deadline_answers_504_with_the_partial_trace_and_stops_the_agent(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
    versions: list[str],
) -> None:
    monkeypatch.setenv("AGENTGW_DEADLINE_SECONDS", "5")
    gateway = publish_gateway(Kit(local_stack), versions=versions)
    assert local_stack.gateway is not None
    stats = local_stack.gateway.stats
    opened, closed = stats["sessions_opened"], stats["sessions_closed"]
    session = f"deadline-{versions[-1]}"
    with agent_uses(monkeypatch, gateway):
        scripted.play(Turn(tool_uses=[(GET_TIME, {"timezone": "Asia/Tokyo"})]), Turn(slow=True))
        response = prompt(api(local_stack), {"prompt": "What time is it in Tokyo?", "session_id": session})

    assert response.status_code == 504, response.text
    body = response.json()
    assert body["error"] == "deadline_exceeded"
    assert "5 s deadline" in body["message"]
    assert body["session_id"] == session
    assert body["request_id"]
    assert [(c["name"], c["is_error"]) for c in body["tool_calls"]] == [(GET_TIME, False)]
    # Nothing left running: the model's stream was closed and the agent's worker has ended.
    assert scripted.stream_closed.is_set()
    assert threads_running_invocation_code() == []
    # The cancelled invocation still closed its session (2025; a 2026 gateway has none to close).
    assert stats["sessions_closed"] - closed == stats["sessions_opened"] - opened == (len(versions) == 1)

    # The session's next request works: the stopped turn was kept and closed (Bedrock rejects
    # two user messages in a row), so the roles the model sees still alternate.
    with agent_uses(monkeypatch, gateway):
        scripted.play(Turn(text="It is noon in Tokyo."))
        again = prompt(api(local_stack), {"prompt": "And now?", "session_id": session})
    assert again.status_code == 200, again.text
    roles = [m["role"] for m in scripted.seen[0].messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"], roles
    assert "without an answer" in scripted.seen[0].messages[3]["content"][0]["text"]


COUNTED = ("server/discover", "initialize", "sessions_opened", "sessions_closed", "tools/list", "tools/call")


def _ask_get_time(stack: LocalStack, scripted: Script) -> dict[str, Any]:
    scripted.play(Turn(tool_uses=[(GET_TIME, {"timezone": "UTC"})]), Turn(text="ok"))
    response = prompt(api(stack), {"prompt": "What time is it in UTC?"})
    assert response.status_code == 200, response.text
    return response.json()


def _counted(stack: LocalStack) -> dict[str, int]:
    assert stack.gateway is not None
    return {key: stack.gateway.stats[key] for key in COUNTED}


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in COUNTED}


def test_a_warm_invocation_sends_only_its_tool_calls_on_a_2026_gateway(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MCP 2026-07-28 is stateless: once the agent knows the gateway speaks it (one
    `server/discover`), an invocation opens nothing, lists nothing and closes nothing."""
    published = publish_gateway(Kit(local_stack), versions=["2025-11-25", "2026-07-28"])
    tokens = TokenCounter(local_stack.cognito, monkeypatch)
    with agent_uses(monkeypatch, published):
        before = _counted(local_stack)
        assert _ask_get_time(local_stack, scripted)["tool_calls"][0]["is_error"] is False
        first = _delta(before, _counted(local_stack))
        before = _counted(local_stack)
        for _ in range(3):
            assert _ask_get_time(local_stack, scripted)["tool_calls"][0]["is_error"] is False
            assert threads_running_invocation_code() == []
        warm = _delta(before, _counted(local_stack))

    assert first == {
        "server/discover": 1,
        "initialize": 0,
        "sessions_opened": 0,
        "sessions_closed": 0,
        "tools/list": 1,
        "tools/call": 1,
    }
    # Warm: no token request, no handshake, no `tools/list` (the output schemas come from the
    # cached list), no session to open or close: the three tool calls are all that is sent.
    assert warm == {
        "server/discover": 0,
        "initialize": 0,
        "sessions_opened": 0,
        "sessions_closed": 0,
        "tools/list": 0,
        "tools/call": 3,
    }
    assert tokens.count == 1


def test_a_gateway_without_2026_gets_one_session_per_invocation_and_no_more_probes(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gateway that does not list 2026-07-28 refuses the first `server/discover`; from then
    on each invocation opens its session with `initialize` directly and closes it (`DELETE`)
    before the answer."""
    published = publish_gateway(Kit(local_stack), versions=["2025-03-26", "2025-06-18", "2025-11-25"])
    with agent_uses(monkeypatch, published):
        before = _counted(local_stack)
        _ask_get_time(local_stack, scripted)
        first = _delta(before, _counted(local_stack))
        before = _counted(local_stack)
        for _ in range(3):
            _ask_get_time(local_stack, scripted)
            after = _counted(local_stack)
            # Closed before the answer, with nothing of it left running.
            assert after["sessions_closed"] - before["sessions_closed"] == (
                after["sessions_opened"] - before["sessions_opened"]
            )
            assert threads_running_invocation_code() == []
        warm = _delta(before, _counted(local_stack))

    assert (first["server/discover"], first["initialize"], first["sessions_closed"]) == (1, 1, 1)
    assert warm == {
        "server/discover": 0,
        "initialize": 3,
        "sessions_opened": 3,
        "sessions_closed": 3,
        "tools/list": 0,
        "tools/call": 3,
    }


def test_a_gateway_that_stops_accepting_2026_is_renegotiated(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cached handshake is dropped when the gateway refuses its version (-32022): that
    invocation's tool call fails, the next one opens a 2025 session and works."""
    kit = Kit(local_stack)
    published = publish_gateway(kit, versions=["2025-11-25", "2026-07-28"])
    with agent_uses(monkeypatch, published):
        _ask_get_time(local_stack, scripted)  # learns: 2026-07-28
        protocol = _update_gateway(kit, published.gateway_id)["protocolConfiguration"]
        protocol["mcp"]["supportedVersions"] = ["2025-11-25"]
        _update_gateway(kit, published.gateway_id, protocolConfiguration=protocol)
        refused = _ask_get_time(local_stack, scripted)
        before = _counted(local_stack)
        again = _ask_get_time(local_stack, scripted)
        renegotiated = _delta(before, _counted(local_stack))

    assert refused["tool_calls"][0]["is_error"] is True
    assert again["tool_calls"][0]["is_error"] is False
    assert (renegotiated["server/discover"], renegotiated["initialize"]) == (1, 1)
    assert renegotiated["sessions_closed"] == renegotiated["sessions_opened"] == 1


def test_tool_results_are_checked_against_the_cached_output_schema(
    local_stack: LocalStack,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a `tools/list` on a warm request, a result off the tool's output schema is still an error."""
    kit = Kit(local_stack)
    published = publish_gateway(kit, with_timeweather=False, search=False)

    def reverse(event: Any, context: Any) -> dict[str, Any]:
        if context.client_context.custom["bedrockAgentCoreToolName"].endswith("___broken"):
            return {"reversed": 42}  # not the declared string
        return {"reversed": event["text"][::-1]}

    arn = kit.function("kit-reverse", reverse)
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    output = {"type": "object", "properties": {"reversed": {"type": "string"}}, "required": ["reversed"]}
    tools = [
        {
            "name": name,
            "description": f"Reverse a text ({name}).",
            "inputSchema": schema,
            "outputSchema": output,
        }
        for name in ("reverse", "broken")
    ]
    kit.target(published.gateway_id, arn, tools, name="rev")
    assert local_stack.gateway is not None
    stats = local_stack.gateway.stats
    with agent_uses(monkeypatch, published):
        scripted.play(Turn(text="warm"))
        assert prompt(api(local_stack), {"prompt": "warm up"}).status_code == 200
        listed = stats["tools/list"]
        scripted.play(
            Turn(tool_uses=[("rev___reverse", {"text": "abc"}), ("rev___broken", {"text": "abc"})]),
            Turn(text=lambda messages: tool_result_text(messages)),
        )
        response = prompt(api(local_stack), {"prompt": "Reverse abc"})

    assert response.status_code == 200, response.text
    calls = {c["name"]: c["is_error"] for c in response.json()["tool_calls"]}
    assert calls == {"rev___reverse": False, "rev___broken": True}
    assert "cba" in response.json()["answer"]
    assert "Invalid structured content returned by tool rev___broken" in response.json()["answer"]
    assert stats["tools/list"] == listed  # the schemas came from the cached list
