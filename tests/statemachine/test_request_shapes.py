"""Every AWS request the workflow makes is valid for the real service.

All requests made while provisioning (create, converge, update after drift), rolling back
and tearing down are recorded at the SDK level and checked against botocore's service
models: botocore's own validator (required members, types, minimum lengths) plus what it
leaves out — enums, patterns and maximum lengths.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import regex  # service patterns use Java's \p{…} classes, which `re` lacks
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from moto.bedrockagentcorecontrol.models import Gateway, bedrockagentcorecontrol_backends

from agentgw.provisioning import aws as provisioning_aws
from agentgw_local.aws import ACCOUNT_ID, EmulatedAws
from agentgw_local.provision import provision, teardown

STACK = "agentgw-shapes"
# moto's gateway and target ids are 10 hex characters; the real ones are `{name}-{10 chars}`,
# which is what these patterns describe. The ids are the service's, not ours to shape.
SERVICE_GENERATED = {"GatewayIdentifier"}


def strict_errors(shape: Shape, value: Any, path: str) -> list[str]:
    """Enum, pattern and max-length violations (botocore's validator checks none of them)."""
    errors: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                errors += strict_errors(shape.members[key], item, f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items > max {meta['max']}")
        for index, item in enumerate(value):
            errors += strict_errors(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += strict_errors(shape.key, key, f"{path} key")
            errors += strict_errors(shape.value, item, f"{path}[{key}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.enum}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: length {len(value)} > max {meta['max']}")
        pattern = meta.get("pattern")
        if pattern and shape.name not in SERVICE_GENERATED and not regex.fullmatch(pattern, value):
            errors.append(f"{path} ({shape.name}): {value!r} does not match {pattern}")
    return errors


@pytest.fixture
def recorded(aws: EmulatedAws) -> Iterator[list[tuple[OperationModel, dict[str, Any]]]]:
    calls: list[tuple[OperationModel, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
        calls.append((model, copy.deepcopy(params)))

    session = boto3._get_default_session()
    session.events.register("before-parameter-build", record, unique_id="agentgw-shape-recorder")
    provisioning_aws._clients.clear()  # clients copy the session's hooks when they are built
    try:
        yield calls
    finally:
        session.events.unregister("before-parameter-build", unique_id="agentgw-shape-recorder")
        provisioning_aws._clients.clear()


def test_every_request_matches_the_service_models(
    aws: EmulatedAws, recorded: list[tuple[OperationModel, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = provision(aws, stack_name=STACK, exception_level="DEBUG")
    assert first.status == "SUCCEEDED", first.error
    assert first.gateway is not None

    # Drift: someone switched DEBUG off by hand. The next run must restore it with a full
    # UpdateGateway; moto leaves updated gateways UPDATING forever, the service ends READY.
    backend = bedrockagentcorecontrol_backends[ACCOUNT_ID][aws.region]
    backend.gateways[first.gateway["id"]].exception_level = None
    original_update = Gateway.update

    def update_then_ready(self: Gateway, *args: Any, **kwargs: Any) -> None:
        original_update(self, *args, **kwargs)
        self.status = "READY"

    monkeypatch.setattr(Gateway, "update", update_then_ready)
    second = provision(aws, stack_name=STACK, exception_level="DEBUG")
    assert second.status == "SUCCEEDED", second.error
    assert second.output["gateway"]["updated"] is True
    assert backend.gateways[first.gateway["id"]].exception_level == "DEBUG"

    removed = teardown(aws, stack_name=STACK)
    assert removed.status == "SUCCEEDED", removed.error

    operations = {model.name for model, _ in recorded}
    # The calls that matter were all seen (so the check below covers them).
    assert {
        "CreateUserPool",
        "CreateUserPoolDomain",
        "CreateResourceServer",
        "CreateUserPoolClient",
        "CreateSecret",
        "CreateGateway",
        "UpdateGateway",
        "UpdateAssumeRolePolicy",
        "PutRolePolicy",
        "CreateGatewayTarget",
        "PutParameter",
        "DeleteGatewayTarget",
        "DeleteGateway",
        "DeleteRolePolicy",
        "DeleteParameter",
        "DeleteSecret",
        "DeleteUserPoolDomain",
        "DeleteUserPool",
        "StartExecution",
    } <= operations

    problems: list[str] = []
    validator = ParamValidator()
    for model, params in recorded:
        report = validator.validate(params, model.input_shape)
        if report.has_errors():
            problems.append(f"{model.service_model.service_name}.{model.name}: {report.generate_report()}")
        problems += [
            f"{model.service_model.service_name}.{model.name}: {error}"
            for error in strict_errors(model.input_shape, params, "params")
        ]
    assert problems == []


def test_the_strict_check_catches_what_botocore_lets_through() -> None:
    model = (
        boto3.session.Session()
        .client("bedrock-agentcore-control", region_name="us-east-1")
        .meta.service_model
    )
    operation = model.operation_model("CreateGateway")
    params = {
        "name": "agentgw_bad--name",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "authorizerType": "CUSTOM_JWT",
        "exceptionLevel": "VERBOSE",
    }
    assert not ParamValidator().validate(params, operation.input_shape).has_errors()
    errors = strict_errors(operation.input_shape, params, "params")
    assert [e.split(":")[0] for e in errors] == ["params.name (GatewayName)", "params.exceptionLevel"]
