"""ToolSet: any Lambda target's handler runs on the library's dispatch with its own schema file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Tracer

from agentgw.provisioning.errors import InvalidInput
from agentgw.tools.dispatch import Call, ToolSet, handle
from agentgw.tools.errors import InvalidArgumentsError, UnknownToolError

ECHO = {
    "name": "echo",
    "description": "Say it back",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}


def echo(arguments: dict[str, Any], call: Call) -> dict[str, Any]:
    return {"text": arguments["text"]}


def schema(tmp_path: Path, *tools: dict[str, Any]) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps({"tools": list(tools)}), "utf-8")
    return path


def context(tool: str) -> SimpleNamespace:
    return SimpleNamespace(
        client_context=SimpleNamespace(custom={"bedrockAgentCoreToolName": tool}),
        get_remaining_time_in_millis=lambda: 3000,
        aws_request_id="r-1",
        function_name="echo",
        memory_limit_in_mb=128,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
    )


def test_a_handler_serves_its_own_schema_file(tmp_path: Path) -> None:
    tools = ToolSet.from_file(schema(tmp_path, ECHO), {"echo": echo}, "echoes")
    run = {"logger": Logger(service="echoes"), "tracer": Tracer(disabled=True), "tools": tools}
    assert handle({"text": " hi "}, context("echoes___echo"), **run) == {"text": "hi"}
    with pytest.raises(
        InvalidArgumentsError, match=r"Invalid arguments for echo: 'text' is a required property"
    ):
        handle({}, context("echoes___echo"), **run)
    with pytest.raises(UnknownToolError, match="This target serves: echoes___echo"):
        handle({}, context("echoes___shout"), **run)


def test_definitions_and_implementations_must_match(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"tools.json defines \['echo'\] but the handler implements \[\]"):
        ToolSet.from_file(schema(tmp_path, ECHO), {})


def test_a_schema_agentcore_would_refuse_is_refused_at_load(tmp_path: Path) -> None:
    bad = {**ECHO, "inputSchema": {"type": "object", "additionalProperties": False}}
    with pytest.raises(InvalidInput, match="'additionalProperties', which AgentCore does not accept"):
        ToolSet.from_file(schema(tmp_path, bad), {"echo": echo})
