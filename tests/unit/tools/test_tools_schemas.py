"""schemas.json: the one definition of the tools, within what AgentCore accepts."""

from __future__ import annotations

import re
from typing import Any

from agentgw.tools import TOOL_NAME_SEPARATOR, load_schemas, target_name, tool_definitions
from agentgw.tools.dispatch import TOOLS

ALLOWED_SCHEMA_KEYS = {"type", "properties", "required", "items", "description"}
TARGET_NAME = re.compile(r"([0-9a-zA-Z][-]?){1,100}")


def _walk(schema: dict[str, Any], path: str) -> list[str]:
    """Keywords outside AgentCore's schema model, as 'path: keyword'."""
    bad = [f"{path}: {key}" for key in schema if key not in ALLOWED_SCHEMA_KEYS]
    for name, sub in schema.get("properties", {}).items():
        bad += _walk(sub, f"{path}.properties.{name}")
    if isinstance(schema.get("items"), dict):
        bad += _walk(schema["items"], f"{path}.items")
    return bad


def test_public_api() -> None:
    assert TOOL_NAME_SEPARATOR == "___"
    assert target_name() == load_schemas()["target"] == "timeweather"
    assert [tool["name"] for tool in tool_definitions()] == ["get_time", "get_weather"]


def test_schemas_use_only_the_agentcore_schema_model() -> None:
    for tool in tool_definitions():
        assert set(tool) <= {"name", "description", "inputSchema", "outputSchema"}
        assert tool["description"].strip()
        assert tool["inputSchema"]["type"] == "object"
        assert _walk(tool["inputSchema"], tool["name"]) == []
        for required in tool["inputSchema"].get("required", []):
            assert required in tool["inputSchema"]["properties"]


def test_names_fit_agentcore_and_bedrock_limits() -> None:
    assert TARGET_NAME.fullmatch(target_name())
    for tool in tool_definitions():
        assert len(f"{target_name()}{TOOL_NAME_SEPARATOR}{tool['name']}") <= 64  # Bedrock's tool name cap


def test_every_schema_has_an_implementation_and_back() -> None:
    assert {tool["name"] for tool in tool_definitions()} == set(TOOLS)
