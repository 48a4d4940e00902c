"""`agentgw targets new NAME` in a temporary copy of the project: the scaffolded target passes the
preflight and cfn-lint, its own unit test passes, provisioning registers it, and its function
answers through emulated Lambda as the gateway would call it."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from agentgw.config import ClientCredentials
from agentgw.health import Expectations, HealthTarget, run_health_check
from agentgw.oauth import fetch_token
from agentgw_local import scaffold_target
from agentgw_local.aws import EmulatedAws
from agentgw_local.cli import build_parser
from agentgw_local.declared_targets import declared_targets, tool_names
from agentgw_local.provision import provision
from agentgw_local.scaffold_target import ScaffoldError, create
from agentgw_local.stack import LocalStack
from agentgw_local.targets_cli import check
from agentgw_local.template import PROJECT_ROOT, Template

STACK = "agentgw-scaffold"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(PROJECT_ROOT / "template.yaml", copy / "template.yaml")
    for folder in ("functions", "statemachine", "events"):
        shutil.copytree(PROJECT_ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def new(project: Path, name: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["targets", "new", name, "--template", str(project / "template.yaml")])
    out, err = io.StringIO(), io.StringIO()
    return args.func(args, out, err), out.getvalue(), err.getvalue()


def test_a_scaffolded_target_is_declared_tested_and_provisioned(project: Path, aws: EmulatedAws) -> None:
    code, out, err = new(project, "inventory")
    assert code == 0, err
    assert "wrote functions/inventory/app.py" in out and "wrote template.yaml" in out

    template = Template(project / "template.yaml")
    assert [(t.name, t.function) for t in declared_targets(template)] == [
        ("timeweather", "ToolsFunction"),
        ("inventory", "InventoryToolsFunction"),
    ]
    report = io.StringIO()
    assert check(template, report) == 0, report.getvalue()
    assert report.getvalue().endswith("ok: 2 targets, 3 tools\n")

    # The unit test it wrote passes.
    test = project / "tests" / "unit" / "targets" / "test_inventory_target.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # Provisioning registers it, and its function answers as the gateway calls it.
    provisioned = provision(aws, stack_name=STACK, wait_seconds=0, template=template)
    assert provisioned.status == "SUCCEEDED", provisioned.error
    assert sorted(t["name"] for t in provisioned.targets) == ["inventory", "timeweather"]
    assert provisioned.config is not None and provisioned.config.targets["inventory"] == ["hello"]
    client_context = base64.b64encode(
        json.dumps({"custom": {"bedrockAgentCoreToolName": "inventory___hello"}}).encode()
    ).decode()
    answer = aws.client("lambda").invoke(
        FunctionName=f"{STACK}-InventoryToolsFunction",
        Payload=json.dumps({"name": "Ada"}).encode(),
        ClientContext=client_context,
    )
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"greeting": "Hello, Ada!"}


async def _list_and_call(
    url: str, token: str, tool: str, arguments: dict[str, object]
) -> tuple[list[str], str]:
    """What any MCP client does: list the gateway's tools, then call one (the mcp SDK's client)."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        )
        read, write = await stack.enter_async_context(streamable_http_client(url, http_client=http))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        listed = await session.list_tools()
        result = await session.call_tool(tool, arguments)
    assert not result.is_error, result
    assert isinstance(result.content[0], types.TextContent)
    return [t.name for t in listed.tools], result.content[0].text


def test_the_local_stack_serves_a_scaffolded_target(project: Path, aws: EmulatedAws) -> None:
    """As a user: scaffold, bring the local stack up, list and call the new tool over MCP, and run
    the health check, which expects every declared target's tools."""
    code, _, err = new(project, "orders")
    assert code == 0, err
    template = Template(project / "template.yaml")
    stack = LocalStack(port=0, stack_name="agentgw-scaffold-up", aws=aws, template=template).start()
    try:
        info = stack.info
        assert info is not None
        credentials = ClientCredentials(info.client_id, info.client_secret)

        def token() -> str:
            return fetch_token(info.token_url, credentials, info.scope).value

        names, answer = anyio.run(
            _list_and_call, info.gateway_url, token(), "orders___hello", {"name": "Ada"}
        )
        assert {"orders___hello", "timeweather___get_time"} <= set(names)
        assert json.loads(answer) == {"greeting": "Hello, Ada!"}

        expectations = Expectations.from_targets(tool_names(declared_targets(template), project))
        report = run_health_check(
            HealthTarget(info.gateway_id, info.gateway_url, search_enabled=True),
            token,
            expectations,
            stage_timeout_s=60,
        )
        assert report.ok, report
        assert "orders___hello" in expectations.tools
    finally:
        stack.stop()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("timeweather", "target timeweather is already declared in template.yaml"),
        ("time_weather", "must be letters/digits with single hyphens (no underscores)"),
        ("Inventory", "use lowercase"),
        ("tools", "functions/tools already exists"),
    ],
)
def test_a_bad_or_existing_name_is_refused_and_nothing_changes(
    project: Path, name: str, message: str
) -> None:
    before = (project / "template.yaml").read_bytes()
    listing = sorted(p.relative_to(project) for p in project.rglob("*"))
    code, _, err = new(project, name)
    assert code == 1
    assert message in err
    assert (project / "template.yaml").read_bytes() == before
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == listing


def test_a_template_that_would_not_lint_is_left_as_it_was(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (project / "template.yaml").read_bytes()
    listing = sorted(p.relative_to(project) for p in project.rglob("*"))
    monkeypatch.setattr(scaffold_target, "_lint", lambda path: ["E3012 line 1: simulated"])
    with pytest.raises(ScaffoldError, match="the edited template would be broken: E3012 line 1: simulated"):
        create(project, "inventory")
    assert (project / "template.yaml").read_bytes() == before
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == listing
