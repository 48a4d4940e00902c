"""With AGENTGW_REUSE_MCP_SESSION on, a kept MCP session the gateway dropped is replaced.

(That a warm request then opens no session is tested in test_agent_gateway.py.) Counted on the
gateway's side (`LocalGateway.stats`) around real POST /prompt requests.
"""

from __future__ import annotations

from collections import Counter

import pytest

from agentgw.agent import tool_loading
from agentgw_local.stack import LocalStack
from integration.agent_support import Script, Turn, prompt, scripted

__all__ = ["scripted"]  # the fixture, imported for pytest

GET_TIME = "timeweather___get_time"


def _ask(stack: LocalStack, script: Script) -> None:
    script.play(Turn(tool_uses=[(GET_TIME, {"timezone": "UTC"})]), Turn(text="done"))
    assert stack.info is not None and stack.info.api_url
    response = prompt(stack.info.api_url, {"prompt": "What time is it in UTC?"})
    assert response.status_code == 200, response.text
    assert response.json()["tool_calls"][0]["is_error"] is False


def _delta(stack: LocalStack, before: Counter[str]) -> dict[str, int]:
    assert stack.gateway is not None
    after = Counter(stack.gateway.stats)
    return {key: after[key] - before[key] for key in ("sessions_opened", "tools/list", "tools/call", "ping")}


def test_a_session_the_gateway_dropped_is_replaced(
    local_stack: LocalStack, scripted: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_stack.gateway is not None
    monkeypatch.setenv("AGENTGW_REUSE_MCP_SESSION", "true")
    _ask(local_stack, scripted)
    monkeypatch.setattr(tool_loading, "PING_AFTER_IDLE_S", 0.0)  # check the kept session first
    local_stack.gateway._sessions.clear()  # the gateway forgot every session (restart, expiry)
    before = Counter(local_stack.gateway.stats)
    _ask(local_stack, scripted)
    delta = _delta(local_stack, before)
    tool_loading.close_idle_sessions()
    assert delta["ping"] >= 1  # the kept session was checked, failed, and was replaced
    assert delta["sessions_opened"] == 1
    assert delta["tools/call"] == 1
