"""Run the real provisioning workflow on emulated AWS: what `agentgw local provision` and
`agentgw local up` do.

`cloudformation.deploy` plays CloudFormation's part for the resources the workflow needs; the
execution input is built from the custom resource's properties exactly as the deployed custom
resource builds it; `execution.run_execution` runs it in moto's ASL interpreter and reports each
state as it happens.

    with EmulatedAws() as aws:
        result = provision(aws, stack_name="agentgw-local", on_state=print, wait_seconds=0)
        ...
        teardown(aws, stack_name="agentgw-local")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from agentgw.config import GatewayConfig
from agentgw.provisioning import request
from agentgw_local.aws import EmulatedAws
from agentgw_local.cloudformation import LocalDeployment, deploy
from agentgw_local.execution import StateEvent, failure_reason, run_execution
from agentgw_local.settings import DEFAULT_STACK_NAME
from agentgw_local.template import Template


@dataclass
class ProvisionResult:
    status: str  # the execution's final status: SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    states: list[str]  # names of the states entered, in order
    gateway: dict[str, Any] | None  # {"id", "url", "status"}
    targets: list[dict[str, Any]]
    config: GatewayConfig | None
    parameter_name: str
    secret_arn: str | None
    execution_arn: str
    error: str | None = None
    output: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `--json` shape (no secrets: the config holds the secret's ARN only)."""
        return {
            "status": self.status,
            "states": self.states,
            "gateway": self.gateway,
            "targets": self.targets,
            "config": asdict(self.config) if self.config else None,
            "parameterName": self.parameter_name,
            "secretArn": self.secret_arn,
            "executionArn": self.execution_arn,
            "error": self.error,
        }


def provision(
    aws: EmulatedAws,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    on_state: Callable[[StateEvent], None] | None = None,
    wait_seconds: int = 0,
    max_polls: int = 60,
    exception_level: str = "DEBUG",
    cfn: Mapping[str, Any] | None = None,
    action: str = "Create",
    timeout_s: float = 600.0,
    targets: Sequence[Mapping[str, Any]] | None = None,
    template: Template | None = None,
) -> ProvisionResult:
    """Deploy the workflow's surroundings and run the provisioning execution to its end.

    `targets` replaces the template's declared targets (see `cloudformation.deploy`); `template`:
    another SAM template than the project's."""
    deployment = deploy(
        aws,
        stack_name=stack_name,
        parameters={
            "ExceptionLevel": exception_level,
            "PollIntervalSeconds": wait_seconds,
            "MaxPolls": max_polls,
        },
        targets=targets,
        template=template,
    )
    return _run(aws, deployment, action, on_state=on_state, cfn=cfn, timeout_s=timeout_s)


def teardown(
    aws: EmulatedAws,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    on_state: Callable[[StateEvent], None] | None = None,
    cfn: Mapping[str, Any] | None = None,
    timeout_s: float = 600.0,
) -> ProvisionResult:
    """Run the Delete path of the workflow (what `sam delete` triggers)."""
    deployment = deploy(aws, stack_name=stack_name)
    return _run(aws, deployment, "Delete", on_state=on_state, cfn=cfn, timeout_s=timeout_s)


def _run(
    aws: EmulatedAws,
    deployment: LocalDeployment,
    action: str,
    *,
    on_state: Callable[[StateEvent], None] | None,
    cfn: Mapping[str, Any] | None,
    timeout_s: float,
) -> ProvisionResult:
    execution_input = request.from_properties(action, deployment.properties, cfn=cfn)
    described, events, history = run_execution(
        aws, deployment.state_machine_arn, execution_input, on_state=on_state, timeout_s=timeout_s
    )
    output = json.loads(described.get("output") or "{}")
    states = [e.state for e in events if e.phase == "entered"]
    status = described["status"]
    error = None
    if status != "SUCCEEDED":
        error = failure_reason(history) or f"{described.get('error')}: {described.get('cause')}"
    parameter_name = str(deployment.properties["ConfigParameterName"])
    gateway = None
    target_list: list[dict[str, Any]] = []
    config = None
    if status == "SUCCEEDED" and action != "Delete":
        gw = output.get("gateway") or {}
        live = aws.client("bedrock-agentcore-control").get_gateway(gatewayIdentifier=gw["gatewayId"])
        gateway = {"id": gw["gatewayId"], "url": gw["gatewayUrl"], "status": live["status"]}
        statuses = (output.get("targetPoll") or {}).get("statuses") or {}
        target_list = [
            {"name": t["name"], "id": t["targetId"], "status": statuses.get(t["targetId"])}
            for t in output.get("targetResults") or []
        ]
        config = GatewayConfig.from_json(
            aws.client("ssm").get_parameter(Name=parameter_name)["Parameter"]["Value"]
        )
    return ProvisionResult(
        status=status,
        states=states,
        gateway=gateway,
        targets=target_list,
        config=config,
        parameter_name=parameter_name,
        secret_arn=config.client_secret_arn if config else None,
        execution_arn=described["executionArn"],
        error=error,
        output=output,
    )
