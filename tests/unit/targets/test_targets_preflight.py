"""`agentgw targets check`: the repository's declaration passes; each refusal says what and where."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from agentgw_local import cli
from agentgw_local.targets_cli import EXIT_OK, EXIT_REFUSED, check
from agentgw_local.template import Template


def test_the_projects_declared_targets_pass_the_preflight(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["targets", "check"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "ok: 1 target, 2 tools"


def tool(name: str = "now", **schema: Any) -> dict[str, Any]:
    properties = schema or {"zone": {"type": "string", "description": "an IANA zone"}}
    return {
        "name": name,
        "description": "The time",
        "inputSchema": {"type": "object", "properties": properties},
    }


def target(
    name: str = "clock", file: str = "fn/tools.json", function: str = "ClockFunction"
) -> dict[str, Any]:
    return {
        "Name": name,
        "TargetConfiguration": {
            "Mcp": {"Lambda": {"LambdaArn": {"Fn::GetAtt": [function, "Arn"]}, "ToolSchema": {"File": file}}}
        },
    }


def project(
    tmp_path: Path, targets: list[dict[str, Any]], tools: Any = None, raw: str | None = None
) -> Template:
    """A template with one function and the given targets; `tools` (or `raw` text) in fn/tools.json."""
    (tmp_path / "fn").mkdir()
    schema = tmp_path / "fn" / "tools.json"
    schema.write_text(raw if raw is not None else json.dumps({"tools": tools or [tool()]}), "utf-8")
    template = {
        "Resources": {
            "ClockFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "fn/", "Handler": "app.handler"},
            },
            "Gateway": {"Type": "Custom::AgentCoreGateway", "Properties": {"Targets": targets}},
        }
    }
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(template), "utf-8")
    return Template(path)


def preflight(template: Template) -> tuple[int, str]:
    out = io.StringIO()
    return check(template, out), out.getvalue()


def test_a_valid_target_passes(tmp_path: Path) -> None:
    assert preflight(project(tmp_path, [target()])) == (EXIT_OK, "ok: 1 target, 1 tools\n")


many = [tool(f"t{i}") for i in range(1001)]
long_name = "n" * 60


@pytest.mark.parametrize(
    ("targets", "tools", "raw", "message"),
    [
        (
            [target("time_weather")],
            None,
            None,
            "error: template.yaml: target name 'time_weather' must be letters/digits with single hyphens",
        ),
        ([target(), target()], None, None, "error: template.yaml: target clock is declared 2 times"),
        (
            [{"Name": "clock", "TargetConfiguration": {"Mcp": {"McpServer": {"Endpoint": "https://x"}}}}],
            None,
            None,
            "target clock: kind McpServer (not supported yet); supported: Lambda",
        ),
        (
            [target(function="Nope")],
            None,
            None,
            "target clock: LambdaArn must be !GetAtt <Function>.Arn of a function in template.yaml "
            "(Nope is not one)",
        ),
        (
            [target(file="fn/missing.json")],
            None,
            None,
            "error: fn/missing.json: target clock: tool schema file",
        ),
        ([target()], None, "{not json", "error: fn/tools.json: is not JSON"),
        ([target()], [tool(), tool()], None, "error: fn/tools.json: tool 'now': is declared twice"),
        (
            [target()],
            [tool(zone={"type": "string", "enum": ["UTC"]})],
            None,
            "error: fn/tools.json: tool 'now': inputSchema.properties.zone has 'enum', "
            "which AgentCore does not accept",
        ),
        (
            [target()],
            [tool(zone={"type": "text"})],
            None,
            "error: fn/tools.json: tool 'now': inputSchema.properties.zone.type must be one of",
        ),
        (
            [target()],
            [{"name": "now", "inputSchema": {"type": "object"}}],
            None,
            "tool 'now': needs a description",
        ),
        ([target()], many, None, "error: fn/tools.json: declares 1001 tools; AgentCore allows 1000"),
        (
            [target(f"t{i}") for i in range(101)],
            None,
            None,
            "error: template.yaml: declares 101 targets; AgentCore allows 100",
        ),
        ([target()], [tool("a___b")], None, "tool 'a___b': must not contain '___'"),
        (
            [target()],
            None,
            json.dumps({"target": "timeweather", "tools": [tool()]}),
            "error: fn/tools.json: names target 'timeweather' but is declared for target clock",
        ),
    ],
)
def test_each_refusal_names_the_file_and_the_tool(
    tmp_path: Path, targets: list[dict[str, Any]], tools: Any, raw: str | None, message: str
) -> None:
    code, out = preflight(project(tmp_path, targets, tools, raw))
    assert code == EXIT_REFUSED, out
    assert message in out, out
    assert "the targets would be refused" in out


def test_a_long_prefixed_tool_name_is_a_warning(tmp_path: Path) -> None:
    code, out = preflight(project(tmp_path, [target()], [tool(long_name)]))
    assert code == EXIT_OK
    assert (
        f"warning: fn/tools.json: tool '{long_name}': clock___{long_name} is 68 characters, over Bedrock's 64"
        in out
    )
    assert out.endswith("ok: 1 target, 1 tools\n")


def test_list_status_counts_the_listed_tools_of_each_target(tmp_path: Path) -> None:
    from agentgw_local.declared_targets import declared_targets
    from agentgw_local.targets_cli import status

    (clock,) = declared_targets(project(tmp_path, [target()]))
    assert status(clock, ["now", "today"], {"clock___now", "clock___today"}) == "serving"
    assert status(clock, ["now", "today"], {"clock___now"}) == "partial (1 of 2 tools)"
    assert status(clock, ["now"], {"other___now"}) == "not served"
    assert status(clock, ["now"], None) == "unknown"
