"""The CloudFormation custom resource: the trigger function starts the workflow, and the
workflow answers CloudFormation's ResponseURL (here a loopback server) on every path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.bedrockagentcorecontrol.exceptions import BedrockAgentCoreControlClientError
from moto.bedrockagentcorecontrol.models import BedrockAgentCoreControlBackend
from sm_inventory import STACK_ID, CfnEndpoint, cfn_endpoint, cfn_event, empty, inventory

from agentgw.provisioning.names import ResourceNames
from agentgw_local.aws import ACCOUNT_ID, EmulatedAws
from agentgw_local.cloudformation import LocalDeployment, deploy

STACK = "agentgw-cfn"
ROLE = f"{STACK}-GatewayRole"


class AccessDeniedException(BedrockAgentCoreControlClientError):
    code = "AccessDeniedException"


@pytest.fixture
def deployment(aws: EmulatedAws) -> LocalDeployment:
    return deploy(aws, stack_name=STACK, parameters={"PollIntervalSeconds": 0, "MaxPolls": 5})


@pytest.fixture
def endpoint() -> Iterator[CfnEndpoint]:
    with cfn_endpoint() as server:
        yield server


def invoke_trigger(aws: EmulatedAws, event: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation invokes the ServiceToken function asynchronously; the payload is its answer."""
    response = aws.client("lambda").invoke(
        FunctionName=event["ServiceToken"], Payload=json.dumps(event).encode("utf-8")
    )
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def answer(endpoint: CfnEndpoint, count: int) -> dict[str, Any]:
    return endpoint.wait(count)[count - 1]


def test_create_update_delete_each_answered(
    aws: EmulatedAws, deployment: LocalDeployment, endpoint: CfnEndpoint
) -> None:
    physical_id = ResourceNames(STACK, ACCOUNT_ID, aws.region).physical_resource_id
    create = cfn_event("Create", endpoint, deployment.properties)
    started = invoke_trigger(aws, create)
    assert started["executionArn"].startswith("arn:aws:states:")

    body = answer(endpoint, 1)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == physical_id
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        STACK_ID,
        create["RequestId"],
        "Gateway",
    )
    gateway_id = body["Data"]["GatewayId"]
    assert inventory(aws, ROLE)["gateways"] == [gateway_id]
    assert body["Data"]["GatewayUrl"].endswith("/mcp")
    assert body["Data"]["ConfigParameterName"] == f"/agentgw/{STACK}/gateway"
    assert body["Data"]["ClientSecretArn"].startswith("arn:aws:secretsmanager:")
    # The presigned URL is signed without a content type.
    assert endpoint.headers[0].get("Content-Type", "") == ""

    update = cfn_event("Update", endpoint, deployment.properties, PhysicalResourceId=physical_id)
    invoke_trigger(aws, update)
    body = answer(endpoint, 2)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == physical_id
    assert body["Data"]["GatewayId"] == gateway_id  # converged, not replaced

    delete = cfn_event("Delete", endpoint, deployment.properties, PhysicalResourceId=physical_id)
    invoke_trigger(aws, delete)
    body = answer(endpoint, 3)
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == physical_id
    assert body["RequestId"] == delete["RequestId"]
    assert empty(inventory(aws, ROLE)) == {}


def test_failed_create_answers_failed_with_reason_and_rolls_back(
    aws: EmulatedAws, deployment: LocalDeployment, endpoint: CfnEndpoint, hold_transitions: Any
) -> None:
    hold_transitions("bedrock-agentcore-control::gateway", 1000)  # never READY: MaxPolls is 5
    invoke_trigger(aws, cfn_event("Create", endpoint, deployment.properties))

    body = answer(endpoint, 1)
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == ResourceNames(STACK, ACCOUNT_ID, aws.region).physical_resource_id
    assert "NotReadyInTime" in body["Reason"] and "after 5 checks" in body["Reason"]
    assert "rolled back" in body["Reason"]
    assert empty(inventory(aws, ROLE)) == {}

    # CloudFormation then deletes the failed resource: that is answered too.
    delete = cfn_event(
        "Delete", endpoint, deployment.properties, PhysicalResourceId=body["PhysicalResourceId"]
    )
    invoke_trigger(aws, delete)
    assert answer(endpoint, 2)["Status"] == "SUCCESS"


def test_failed_teardown_still_answers(
    aws: EmulatedAws, deployment: LocalDeployment, endpoint: CfnEndpoint
) -> None:
    invoke_trigger(aws, cfn_event("Create", endpoint, deployment.properties))
    physical_id = answer(endpoint, 1)["PhysicalResourceId"]

    with aws.inject_errors(
        BedrockAgentCoreControlBackend,
        "delete_gateway",
        lambda: AccessDeniedException("AccessDeniedException", "not authorized to perform DeleteGateway"),
        times=10,
    ):
        invoke_trigger(
            aws, cfn_event("Delete", endpoint, deployment.properties, PhysicalResourceId=physical_id)
        )
        body = answer(endpoint, 2)
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == physical_id
    assert "AccessDeniedException" in body["Reason"]


def test_trigger_answers_when_the_execution_cannot_start(
    aws: EmulatedAws, deployment: LocalDeployment, endpoint: CfnEndpoint
) -> None:
    missing = deployment.state_machine_arn.replace(":stateMachine:", ":stateMachine:missing-")
    props = {**deployment.properties, "StateMachineArn": missing}
    result = invoke_trigger(aws, cfn_event("Create", endpoint, props))

    assert result == {"executionArn": None, "answered": "FAILED"}
    body = answer(endpoint, 1)
    assert body["Status"] == "FAILED"
    assert "StateMachineDoesNotExist" in body["Reason"]
    assert body["PhysicalResourceId"] == ResourceNames(STACK, ACCOUNT_ID, aws.region).physical_resource_id


def test_delete_with_invalid_properties_lets_the_stack_go(
    aws: EmulatedAws, deployment: LocalDeployment, endpoint: CfnEndpoint
) -> None:
    # A Create that failed on bad properties created nothing; its Delete must not hang or fail.
    props = {key: value for key, value in deployment.properties.items() if key != "GatewayRoleArn"}
    result = invoke_trigger(aws, cfn_event("Delete", endpoint, props, PhysicalResourceId="agentgw-cfn"))

    assert result["answered"] == "SUCCESS"
    body = answer(endpoint, 1)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", "agentgw-cfn")
    assert "GatewayRoleArn" in body["Reason"]


def test_create_with_invalid_properties_fails_fast(
    aws: EmulatedAws, deployment: LocalDeployment, endpoint: CfnEndpoint
) -> None:
    props = {**deployment.properties, "ExceptionLevel": "VERBOSE"}
    invoke_trigger(aws, cfn_event("Create", endpoint, props))
    body = answer(endpoint, 1)
    assert body["Status"] == "FAILED"
    assert "exceptionLevel must be one of" in body["Reason"]
    assert empty(inventory(aws, ROLE)) == {}
