"""A small CloudFormation for the local stack: what the stack creates around the workflow.

Every function in template.yaml is registered (real handlers, in-process), the buckets and the
gateway role are created, and the state machine is created from `statemachine/provision.asl.json`
with its `DefinitionSubstitutions` resolved to the local function ARNs. The custom resource's
properties come back resolved, as CloudFormation would send them. Idempotent: what exists is
found by name and reused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgw_local.aws import ACCOUNT_ID, EmulatedAws
from agentgw_local.settings import DEFAULT_STACK_NAME, function_name
from agentgw_local.template import Template, TemplateError, resolve

STATE_MACHINE_LOGICAL_ID = "ProvisionStateMachine"
CUSTOM_RESOURCE_TYPE = "Custom::AgentCoreGateway"
GATEWAY_ROLE_LOGICAL_ID = "GatewayRole"
_STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass
class LocalDeployment:
    """What CloudFormation would have created around the workflow."""

    stack_name: str
    function_arns: dict[str, str]  # logical id → ARN
    gateway_role_arn: str
    state_machine_arn: str
    properties: dict[str, Any]  # the custom resource's resolved properties


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
    targets: Sequence[Mapping[str, Any]] | None = None,
) -> LocalDeployment:
    """Create (or find) the functions, the gateway role and the state machine. Idempotent.

    `targets` replaces the custom resource's `Targets` (intrinsics resolved like the template's):
    what an edited template would send.
    """
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
        name = function_name(stack_name, logical_id)
        arn = aws.register_function(name, spec)
        function_arns[logical_id] = arn
        names[logical_id] = name
        names[f"{logical_id}.Arn"] = arn

    # Layers: nothing to publish in-process (the library is imported from the checkout); a Ref
    # gives the version ARN CloudFormation would.
    for logical_id, resource in template.resources.items():
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            names[logical_id] = f"arn:aws:lambda:{aws.region}:{ACCOUNT_ID}:layer:{stack_name}-{logical_id}:1"

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
    if targets is not None:
        props["Targets"] = resolve(list(targets), names, params)
    _anchor_schema_files(props.get("Targets"), template.path.parent)
    return LocalDeployment(stack_name, function_arns, role_arn, state_machine_arn, props)


def _anchor_schema_files(targets: Any, root: Path) -> None:
    """Point each Lambda target's ToolSchema.File at this template's project (absolute), as the
    layer `sam build` makes from this project would carry it; the in-process provisioning
    functions would otherwise look in the checkout they are imported from."""
    for item in targets if isinstance(targets, list) else []:
        try:
            schema = item["TargetConfiguration"]["Mcp"]["Lambda"]["ToolSchema"]
        except (KeyError, TypeError):
            continue
        file = schema.get("File") if isinstance(schema, dict) else None
        if isinstance(file, str) and file and not Path(file).is_absolute() and (root / file).is_file():
            schema["File"] = str(root / file)


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
