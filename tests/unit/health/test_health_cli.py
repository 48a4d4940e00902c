"""`agentgw health` against a local stack file and against a "deployed" stack in emulated AWS."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from health_gateway_double import CLIENT_ID, CLIENT_SECRET, GatewayDouble

from agentgw_local import health as cli
from agentgw_local.aws import EmulatedAws
from agentgw_local.stack import StackInfo


def run(argv: list[str]) -> tuple[int, str, str]:
    parser = cli.argparse.ArgumentParser()
    cli.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(parser.parse_args(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def local_file(tmp_path: Path, gateway: GatewayDouble) -> Path:
    info = StackInfo(
        gateway_id="gw-local",
        gateway_url=gateway.url,
        token_url=gateway.token_url,
        discovery_url="http://127.0.0.1:1/.well-known/openid-configuration",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="agentgw/invoke",
        region="us-east-1",
    )
    return info.write(tmp_path / "local.json")


def test_healthy_local_stack_exits_zero(local_file: Path) -> None:
    code, out, _ = run(["--local-file", str(local_file)])
    assert code == 0
    assert "gateway gw-local" in out
    assert "healthy" in out.splitlines()[-1]
    assert CLIENT_SECRET not in out


def test_unhealthy_prints_the_failing_stage_and_exits_one(local_file: Path, gateway: GatewayDouble) -> None:
    gateway.behaviour.canary_error = "get_time failed: boom"
    code, out, _ = run(["--local-file", str(local_file)])
    assert code == 1
    assert (
        out.splitlines()[-1]
        == "UNHEALTHY: stage canary failed: timeweather___get_time returned an error: get_time failed: boom"
    )
    assert any(line.split()[:2] == ["FAIL", "canary"] for line in out.splitlines())


def test_json_output(local_file: Path, gateway: GatewayDouble) -> None:
    gateway.behaviour.tools = ["timeweather___get_time"]
    code, out, _ = run(["--json", "--local-file", str(local_file)])
    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert report["stages"][-1]["name"] == "expected_tools"
    assert "timeweather___get_weather" in report["stages"][-1]["error"]


def test_missing_local_file_exits_two(tmp_path: Path) -> None:
    code, out, err = run(["--local-file", str(tmp_path / "absent.json")])
    assert code == 2 and out == ""
    assert "agentgw local up" in err


def test_deployed_stack_by_name(emulator: EmulatedAws, published: dict[str, Any]) -> None:
    cfn = emulator.client("cloudformation")
    stack = f"health-cli-{published['config'].gateway_id}"
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ConfigParameterName": {"Value": published["parameter"]}},
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    code, out, _ = run(["--json", "--stack", stack])
    assert code == 0, out
    assert json.loads(out)["gateway_id"] == published["config"].gateway_id


def test_unknown_stack_exits_two(emulator: EmulatedAws) -> None:
    code, _, err = run(["--stack", "no-such-stack"])
    assert code == 2
    assert "no-such-stack" in err
