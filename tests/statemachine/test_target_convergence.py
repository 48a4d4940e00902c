"""Provisioning converges on the declared targets across stack updates (the real state machine
on emulated AWS): targets added, changed and removed; a failed update put back as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.ssm.models import SimpleSystemManagerBackend
from sm_inventory import cfn_endpoint, cfn_event, empty, inventory

from agentgw.provisioning.names import INLINE_POLICY_NAME
from agentgw_local.aws import EmulatedAws
from agentgw_local.cloudformation import deploy
from agentgw_local.provision import ProvisionResult, provision, teardown

STACK = "agentgw-targets"
ROLE = f"{STACK}-GatewayRole"
EXAMPLE_SCHEMAS = "layers/agentgw/python/agentgw/tools/schemas.json"


def tool(name: str, description: str, argument: str = "text") -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": {argument: {"type": "string", "description": f"the {argument}"}},
            "required": [argument],
        },
    }


def schema_file(tmp_path: Path, name: str, *tools: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"tools": list(tools)}), "utf-8")
    return str(path)


def declared(name: str, function: str, file: str, description: str = "") -> dict[str, Any]:
    """A target as template.yaml declares it; `function` is a function's logical id."""
    item: dict[str, Any] = {
        "Name": name,
        "TargetConfiguration": {
            "Mcp": {"Lambda": {"LambdaArn": {"Fn::GetAtt": [function, "Arn"]}, "ToolSchema": {"File": file}}}
        },
    }
    if description:
        item["Description"] = description
    return item


EXAMPLE = declared("timeweather", "ToolsFunction", EXAMPLE_SCHEMAS)


def run(aws: EmulatedAws, targets: list[dict[str, Any]], action: str = "Update") -> ProvisionResult:
    result = provision(aws, stack_name=STACK, wait_seconds=0, action=action, targets=targets)
    return result


def live(aws: EmulatedAws, gateway_id: str) -> dict[str, dict[str, Any]]:
    """The gateway's targets by name, as the service describes them."""
    control = aws.client("bedrock-agentcore-control")
    found = {}
    for item in control.list_gateway_targets(gatewayIdentifier=gateway_id)["items"]:
        target = control.get_gateway_target(gatewayIdentifier=gateway_id, targetId=item["targetId"])
        found[target["name"]] = target
    return found


def lambda_of(target: dict[str, Any]) -> dict[str, Any]:
    return target["targetConfiguration"]["mcp"]["lambda"]


def tool_names(target: dict[str, Any]) -> list[str]:
    return [t["name"] for t in lambda_of(target)["toolSchema"]["inlinePayload"]]


def invoke_resources(aws: EmulatedAws) -> list[str]:
    document = aws.client("iam").get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)[
        "PolicyDocument"
    ]
    if isinstance(document, str):
        document = json.loads(document)
    (statement,) = document["Statement"]
    return sorted(statement["Resource"])


def arn(aws: EmulatedAws, logical_id: str) -> str:
    return deploy(aws, stack_name=STACK).function_arns[logical_id]


def test_targets_are_added_changed_and_removed_across_updates(aws: EmulatedAws, tmp_path: Path) -> None:
    clock_v1 = schema_file(tmp_path, "clock-v1", tool("now", "The current time"))
    clock_v2 = schema_file(tmp_path, "clock-v2", tool("now", "The current time"), tool("today", "The date"))

    created = run(aws, [EXAMPLE], action="Create")
    assert created.status == "SUCCEEDED", created.error
    gateway_id = created.gateway["id"] if created.gateway else ""
    example_id = live(aws, gateway_id)["timeweather"]["targetId"]

    # Added: a second target; the first is left as it is.
    added = run(aws, [EXAMPLE, declared("clock", "ToolsFunction", clock_v1)])
    assert added.status == "SUCCEEDED", added.error
    targets = live(aws, gateway_id)
    assert sorted(targets) == ["clock", "timeweather"]
    assert targets["timeweather"]["targetId"] == example_id
    assert tool_names(targets["clock"]) == ["now"]
    assert invoke_resources(aws) == [arn(aws, "ToolsFunction")]

    # Changed: its tools, its function and its description, in place (same target id).
    clock_id = targets["clock"]["targetId"]
    changed = run(
        aws, [EXAMPLE, declared("clock", "HealthCheckFunction", clock_v2, "Clock tools, now with dates")]
    )
    assert changed.status == "SUCCEEDED", changed.error
    clock = live(aws, gateway_id)["clock"]
    assert clock["targetId"] == clock_id
    assert tool_names(clock) == ["now", "today"]
    assert lambda_of(clock)["lambdaArn"] == arn(aws, "HealthCheckFunction")
    assert clock["description"] == "Clock tools, now with dates"
    assert invoke_resources(aws) == sorted([arn(aws, "ToolsFunction"), arn(aws, "HealthCheckFunction")])
    # The published configuration names every declared target's tools (the health check's expectations).
    assert changed.config is not None
    assert changed.config.targets == {"timeweather": ["get_time", "get_weather"], "clock": ["now", "today"]}

    # Removed: the example is no longer declared; the invoke policy follows.
    removed = run(aws, [declared("clock", "HealthCheckFunction", clock_v2, "Clock tools, now with dates")])
    assert removed.status == "SUCCEEDED", removed.error
    assert list(live(aws, gateway_id)) == ["clock"]
    assert removed.output["pruned"]["deleted"] == [example_id]
    assert invoke_resources(aws) == [arn(aws, "HealthCheckFunction")]

    # Re-running converges: nothing created, updated or deleted, no duplicates.
    again = run(aws, [declared("clock", "HealthCheckFunction", clock_v2, "Clock tools, now with dates")])
    assert again.status == "SUCCEEDED", again.error
    assert [(t["created"], t["updated"]) for t in again.output["targetResults"]] == [(False, False)]
    assert again.output["pruned"]["deleted"] == []
    assert list(live(aws, gateway_id)) == ["clock"] and live(aws, gateway_id)["clock"]["targetId"] == clock_id

    # Teardown removes them all.
    gone = teardown(aws, stack_name=STACK)
    assert gone.status == "SUCCEEDED", gone.error
    assert empty(inventory(aws, ROLE)) == {}


def test_a_failed_update_rolls_back_to_the_previous_set(aws: EmulatedAws, tmp_path: Path) -> None:
    clock_v1 = schema_file(tmp_path, "clock-v1", tool("now", "The current time"))
    clock_v2 = schema_file(tmp_path, "clock-v2", tool("now", "The current time, changed"))
    extra = schema_file(tmp_path, "extra", tool("echo", "Say it back"))
    first = run(aws, [EXAMPLE, declared("clock", "ToolsFunction", clock_v1)], action="Create")
    assert first.status == "SUCCEEDED", first.error
    gateway_id = first.gateway["id"] if first.gateway else ""
    before = live(aws, gateway_id)
    policy_before = invoke_resources(aws)

    # The update changes clock, adds extra (another function), removes timeweather, and then
    # fails after all that: publishing the configuration is refused.
    with aws.inject_errors(
        SimpleSystemManagerBackend,
        "get_parameter",
        lambda: JsonRESTError("AccessDeniedException", "not authorized to perform ssm:GetParameter"),
        times=10,
    ):
        failed = run(
            aws,
            [declared("clock", "ToolsFunction", clock_v2), declared("extra", "HealthCheckFunction", extra)],
        )

    assert failed.status == "FAILED"
    assert "AccessDeniedException" in (failed.error or "")
    assert "PruneTargets" in failed.states and "Rollback" in failed.states
    after = live(aws, gateway_id)
    assert sorted(after) == sorted(before) == ["clock", "timeweather"]
    assert after["clock"]["targetId"] == before["clock"]["targetId"]
    for name in before:  # as they were: tools, function, description, credentials
        for key in ("description", "targetConfiguration", "credentialProviderConfigurations"):
            assert after[name][key] == before[name][key], (name, key)
    assert invoke_resources(aws) == policy_before
    # The gateway still exists and serves the previous set: converging again changes nothing.
    again = run(aws, [EXAMPLE, declared("clock", "ToolsFunction", clock_v1)])
    assert again.status == "SUCCEEDED", again.error
    assert all(not t["created"] and not t["updated"] for t in again.output["targetResults"])


def test_update_requests_carry_the_new_set(aws: EmulatedAws, tmp_path: Path) -> None:
    """CloudFormation's Update (with OldResourceProperties) runs the workflow on the new Targets."""
    clock = schema_file(tmp_path, "clock", tool("now", "The current time"))
    deployment = deploy(aws, stack_name=STACK, parameters={"PollIntervalSeconds": 0, "MaxPolls": 5})
    updated = deploy(
        aws,
        stack_name=STACK,
        parameters={"PollIntervalSeconds": 0, "MaxPolls": 5},
        targets=[EXAMPLE, declared("clock", "ToolsFunction", clock)],
    )
    lambda_client = aws.client("lambda")
    with cfn_endpoint() as endpoint:
        for number, event in enumerate(
            [
                cfn_event("Create", endpoint, deployment.properties),
                cfn_event(
                    "Update",
                    endpoint,
                    updated.properties,
                    PhysicalResourceId=f"agentgw-{STACK}",
                    OldResourceProperties=deployment.properties,
                ),
            ],
            start=1,
        ):
            lambda_client.invoke(FunctionName=event["ServiceToken"], Payload=json.dumps(event).encode())
            body = endpoint.wait(number)[number - 1]
            assert body["Status"] == "SUCCESS", body.get("Reason")
        gateway_id = body["Data"]["GatewayId"]
    assert sorted(live(aws, gateway_id)) == ["clock", "timeweather"]


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([declared("time_weather", "ToolsFunction", EXAMPLE_SCHEMAS)], "no underscores"),
        ([EXAMPLE, EXAMPLE], "declared more than once"),
        ([declared("clock", "ToolsFunction", "functions/clock/tools.json")], "tool schema file"),
    ],
)
def test_a_bad_declaration_fails_before_anything_changes(
    aws: EmulatedAws, targets: list[dict[str, Any]], message: str
) -> None:
    first = run(aws, [EXAMPLE], action="Create")
    assert first.status == "SUCCEEDED", first.error
    before = inventory(aws, ROLE)
    with pytest.raises(Exception, match=message):
        run(aws, targets)
    assert inventory(aws, ROLE) == before
