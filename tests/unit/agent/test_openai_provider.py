"""The `openai` provider with no key secret configured (local servers: Ollama, llama.cpp, vLLM)
sends no key at all — not even OPENAI_API_KEY from the process environment, which the OpenAI
client would otherwise pick up by itself — and still runs a tool-using turn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai_replay import Recording, ReplayServer

from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.models import ModelFactory
from agentgw.agent.settings import Settings
from agentgw.agent.tool_selection import ToolSelection

GET_TIME_SPEC: Any = {
    "name": "timeweather___get_time",
    "description": "The current time in a time zone.",
    "inputSchema": {
        "json": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}
    },
}


async def _events(model: Any) -> list[dict[str, Any]]:
    messages = [{"role": "user", "content": [{"text": "What time is it in Tokyo?"}]}]
    return [event async for event in model.stream(messages, tool_specs=[GET_TIME_SPEC])]


def test_no_key_secret_sends_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-users-shell")
    recording = Recording.load("openai_get_time")
    with ReplayServer(recording, api_key=None) as replay:
        settings = Settings.from_env(
            {
                "AGENTGW_MODEL_PROVIDER": "openai",
                "AGENTGW_OPENAI_BASE_URL": replay.base_url,
                "AGENTGW_MODEL_ID": recording.model,
            }
        )
        model, name = ModelFactory(GatewayCredentials()).build(settings, ToolSelection(tools=[]))
        events = asyncio.run(_events(model))
    assert name == f"openai:{recording.model}"
    assert replay.refusals == []
    assert [seen.authorization for seen in replay.requests] == [None]
    started = [e["contentBlockStart"]["start"]["toolUse"] for e in events if "contentBlockStart" in e]
    assert [(tool["name"], tool["toolUseId"]) for tool in started] == [
        ("timeweather___get_time", recording.tool_call()["id"])
    ]


def test_the_openai_provider_needs_a_base_url_but_not_a_key_secret() -> None:
    Settings.from_env(
        {"AGENTGW_MODEL_PROVIDER": "openai", "AGENTGW_OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}
    )
    with pytest.raises(ValueError, match="the openai provider needs AGENTGW_OPENAI_BASE_URL"):
        Settings.from_env(
            {
                "AGENTGW_MODEL_PROVIDER": "openai",
                "AGENTGW_OPENAI_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:x",
            }
        )
