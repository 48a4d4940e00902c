"""Run the real provisioning workflow on emulated AWS: what `agentgw local provision` does.

It plays CloudFormation's part for the resources the workflow needs from the stack: every
function in template.yaml is registered (real handlers, in-process), the gateway role is
created with the template's trust policy, and the state machine is created from
`statemachine/provision.asl.json` with its `DefinitionSubstitutions` resolved to the local
function ARNs. The execution input is built from the custom resource's properties in the
template, exactly as the deployed custom resource builds it. Then the execution runs in
moto's ASL interpreter, and each state entered/exited is reported as it happens (by
polling the execution history).

    with EmulatedAws() as aws:
        result = provision(aws, stack_name="agentgw-local", on_state=print, wait_seconds=0)
        ...
        teardown(aws, stack_name="agentgw-local")
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from agentgw.config import GatewayConfig
from agentgw.provisioning import request
from agentgw_local.aws import ACCOUNT_ID, EmulatedAws
from agentgw_local.template import Template, TemplateError, resolve

DEFAULT_STACK_NAME = "agentgw-local"
DEFAULT_PORT = 8080
STATE_MACHINE_LOGICAL_ID = "ProvisionStateMachine"
CUSTOM_RESOURCE_TYPE = "Custom::AgentCoreGateway"
GATEWAY_ROLE_LOGICAL_ID = "GatewayRole"
_STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def local_stack_urls(port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> dict[str, str]:
    """The URL templates that make published configuration point at the local stack
    (see agentgw.endpoints)."""
    base = f"http://{host}:{port}"
    return {
        "AGENTGW_GATEWAY_URL_TEMPLATE": f"{base}/gateways/{{gateway_id}}/mcp",
        "AGENTGW_COGNITO_IDP_URL": f"{base}/cognito-idp",
        "AGENTGW_COGNITO_DOMAIN_URL_TEMPLATE": f"{base}/cognito/{{domain}}",
    }


def use_local_stack_urls(port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> dict[str, str]:
    """Set the local stack URL variables in this process (they hold URLs, never secrets)."""
    urls = local_stack_urls(port, host)
    os.environ.update(urls)
    return urls


@dataclass(frozen=True)
class StateEvent:
    """One state entered or exited, as reported to `on_state`."""

    phase: str  # "entered" | "exited" | "failed"
    state: str
    event_type: str
    detail: str = ""

    def line(self) -> str:
        arrow = {"entered": "→", "exited": "✓", "failed": "✗"}.get(self.phase, "·")
        text = f"{arrow} {self.state} {self.phase}"
        return f"{text}: {self.detail}" if self.detail else text


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


@dataclass
class LocalDeployment:
    """What CloudFormation would have created around the workflow."""

    stack_name: str
    function_arns: dict[str, str]  # logical id → ARN
    gateway_role_arn: str
    state_machine_arn: str
    properties: dict[str, Any]  # the custom resource's resolved properties


def _function_name(stack_name: str, logical_id: str) -> str:
    return f"{stack_name}-{logical_id}"[:64]


def _custom_resource(template: Template) -> dict[str, Any]:
    for resource in template.resources.values():
        if resource.get("Type") == CUSTOM_RESOURCE_TYPE:
            return resource
    raise TemplateError(f"template has no {CUSTOM_RESOURCE_TYPE} resource")


def deploy(
    aws: EmulatedAws,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, Any] | None = None,
    template: Template | None = None,
) -> LocalDeployment:
    """Create (or find) the functions, the gateway role and the state machine. Idempotent."""
    template = template or Template()
    params = {**template.parameter_defaults, **(parameters or {})}
    names: dict[str, str] = {
        "AWS::StackName": stack_name,
        "AWS::Region": aws.region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    function_arns: dict[str, str] = {}
    for logical_id, spec in template.functions().items():
        name = _function_name(stack_name, logical_id)
        arn = aws.register_function(name, spec)
        function_arns[logical_id] = arn
        names[logical_id] = name
        names[f"{logical_id}.Arn"] = arn

    # Buckets (the agent's session bucket): CloudFormation names them `<stack>-<logicalid>-<suffix>`.
    for logical_id, resource in template.resources.items():
        if resource.get("Type") == "AWS::S3::Bucket":
            bucket = _ensure_bucket(aws, f"{stack_name}-{logical_id}".lower()[:63])
            names[logical_id] = bucket
            names[f"{logical_id}.Arn"] = f"arn:aws:s3:::{bucket}"

    role = template.resources[GATEWAY_ROLE_LOGICAL_ID]
    trust = resolve(role["Properties"]["AssumeRolePolicyDocument"], names, params)
    role_arn = _ensure_role(aws, f"{stack_name}-{GATEWAY_ROLE_LOGICAL_ID}"[:64], trust)
    names[GATEWAY_ROLE_LOGICAL_ID] = role_arn.rsplit("/", 1)[-1]
    names[f"{GATEWAY_ROLE_LOGICAL_ID}.Arn"] = role_arn

    machine = template.resources[STATE_MACHINE_LOGICAL_ID]["Properties"]
    substitutions = resolve(machine.get("DefinitionSubstitutions", {}), names, params)
    definition = (template.path.parent / str(machine["DefinitionUri"])).read_text("utf-8")
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", str(value))
    state_machine_arn = _ensure_state_machine(
        aws,
        f"{stack_name}-provision",
        definition,
        _ensure_role(aws, f"{stack_name}-states"[:64], _STATES_TRUST),
    )
    names[STATE_MACHINE_LOGICAL_ID] = state_machine_arn

    props = resolve(_custom_resource(template)["Properties"], names, params)
    return LocalDeployment(stack_name, function_arns, role_arn, state_machine_arn, props)


def _ensure_bucket(aws: EmulatedAws, name: str) -> str:
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=name)
    except s3.exceptions.ClientError:
        where = (
            {}
            if aws.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
        )
        s3.create_bucket(Bucket=name, **where)
    return name


def _ensure_role(aws: EmulatedAws, name: str, trust: Mapping[str, Any]) -> str:
    iam = aws.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _ensure_state_machine(aws: EmulatedAws, name: str, definition: str, role_arn: str) -> str:
    sfn = aws.client("stepfunctions")
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
                return machine["stateMachineArn"]
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, type="STANDARD")[
        "stateMachineArn"
    ]


# -- running an execution ------------------------------------------------------------------

_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def run_execution(
    aws: EmulatedAws,
    state_machine_arn: str,
    execution_input: Mapping[str, Any],
    *,
    on_state: Callable[[StateEvent], None] | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.05,
) -> tuple[dict[str, Any], list[StateEvent], list[dict[str, Any]]]:
    """Start an execution and follow its history; return (describe_execution, events, history)."""
    sfn = aws.client("stepfunctions")
    name = f"local-{execution_input['action']}-{time.time_ns()}"
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
    )["executionArn"]
    seen = 0
    events: list[StateEvent] = []
    history: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        done = described["status"] in _TERMINAL
        history = _history(sfn, execution_arn)
        for event in history[seen:]:
            state_event = _state_event(event)
            if state_event is not None:
                events.append(state_event)
                if on_state is not None:
                    on_state(state_event)
        seen = len(history)
        if done:
            return described, events, history
        if time.monotonic() > deadline:
            sfn.stop_execution(
                executionArn=execution_arn, error="LocalTimeout", cause="local run took too long"
            )
            raise TimeoutError(f"execution {execution_arn} did not finish within {timeout_s:.0f} s")
        time.sleep(poll_s)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    events.sort(key=lambda e: e["id"])
    return events


def _state_event(event: Mapping[str, Any]) -> StateEvent | None:
    kind = str(event["type"])
    if kind.endswith("StateEntered"):
        return StateEvent("entered", event["stateEnteredEventDetails"]["name"], kind)
    if kind.endswith("StateExited"):
        return StateEvent("exited", event["stateExitedEventDetails"]["name"], kind)
    if kind in ("ExecutionFailed", "TaskFailed", "LambdaFunctionFailed"):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
        return StateEvent("failed", kind, kind, _short_error(details))
    return None


def _short_error(details: Mapping[str, Any]) -> str:
    error = str(details.get("error") or "")
    cause = str(details.get("cause") or "")
    try:
        decoded = json.loads(cause)
        if isinstance(decoded, dict):
            cause = str(decoded.get("errorMessage") or cause)
    except json.JSONDecodeError:
        pass
    return f"{error}: {cause}"[:500] if cause else error


# -- provision / teardown ----------------------------------------------------------------


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
) -> ProvisionResult:
    """Deploy the workflow's surroundings and run the provisioning execution to its end."""
    deployment = deploy(
        aws,
        stack_name=stack_name,
        parameters={
            "ExceptionLevel": exception_level,
            "PollIntervalSeconds": wait_seconds,
            "MaxPolls": max_polls,
        },
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
        error = _failure_reason(history) or f"{described.get('error')}: {described.get('cause')}"
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


def _failure_reason(history: list[dict[str, Any]]) -> str | None:
    """Why the execution failed: the error the workflow reported (ReportFailure's input),
    else the first step failure in the history."""
    from agentgw.provisioning.cfn_response import error_reason

    for event in history:
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") == "ReportFailure":
            state = json.loads(details.get("input") or "{}")
            if state.get("error"):
                return error_reason(state["error"])
    for event in history:
        if event["type"] in ("TaskFailed", "LambdaFunctionFailed"):
            found = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            return _short_error(found)
    return None


def route_function_logs(stream: IO[str] = sys.stderr, level: int | None = None) -> Callable[[], None]:
    """Send the in-process handlers' Powertools logs to `stream` (keeps stdout for the CLI's
    output), optionally at another level. Call after the handlers are loaded (`deploy`).
    Returns a function that puts the previous streams and levels back."""
    undo: list[Callable[[], None]] = []
    names = [n for n in logging.root.manager.loggerDict if n == "agentgw" or n.startswith("agentgw")]
    for name in names:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                previous = handler.setStream(stream)
                if previous is not None:
                    undo.append(lambda h=handler, p=previous: h.setStream(p))
        if level is not None and logger.handlers:
            undo.append(lambda lg=logger, lv=logger.level: lg.setLevel(lv))
            logger.setLevel(level)

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore


__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_STACK_NAME",
    "LocalDeployment",
    "ProvisionResult",
    "StateEvent",
    "deploy",
    "local_stack_urls",
    "provision",
    "run_execution",
    "teardown",
    "use_local_stack_urls",
]
