"""Pure pieces of the provisioning steps: request building, errors, CloudFormation answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from agentgw.provisioning import cfn_response, gateway, request
from agentgw.provisioning.errors import RETRYABLE_ERRORS, AwsError, InvalidInput, aws_error

CONTROL = botocore.session.get_session().get_service_model("bedrock-agentcore-control")
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:agentgw-ToolsFunction-abc"
ROLE_ARN = "arn:aws:iam::123456789012:role/agentgw-GatewayRole-xyz"


def test_updatable_fields_are_exactly_what_get_returns_and_update_takes() -> None:
    got = set(CONTROL.operation_model("GetGateway").output_shape.members)
    takes = set(CONTROL.operation_model("UpdateGateway").input_shape.members) - {"gatewayIdentifier"}
    assert set(gateway.UPDATABLE_FIELDS) == got & takes


def desired(exception_level: str = "DEBUG") -> dict[str, Any]:
    return {
        "name": "agentgw-shop",
        **gateway.desired_settings(
            role_arn=ROLE_ARN,
            discovery_url="https://cognito-idp.us-east-1.amazonaws.com/pool/.well-known/openid-configuration",
            client_id="client1",
            scope="agentgw-shop/invoke",
            exception_level=exception_level,
            description="d",
        ),
    }


def current_from(settings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A GetGateway answer: our settings plus read-only fields and settings someone else made."""
    return {
        "gatewayId": "agentgw-shop-abcdefghij",
        "gatewayArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/agentgw-shop-abcdefghij",
        "status": "READY",
        "createdAt": "2026-01-01T00:00:00Z",
        **json.loads(json.dumps(settings)),
        **extra,
    }


def test_no_update_when_nothing_drifted() -> None:
    assert gateway.update_request(current_from(desired()), desired(), "gw-1") is None


def test_update_is_read_modify_write_of_the_whole_configuration() -> None:
    current = current_from(
        desired(),
        kmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    )
    current["authorizerConfiguration"]["customJWTAuthorizer"]["allowedClients"] = ["old-client"]
    current["protocolConfiguration"]["mcp"]["instructions"] = "be nice"
    request_ = gateway.update_request(current, desired(), "gw-1")

    assert request_ is not None
    assert request_["gatewayIdentifier"] == "gw-1"
    assert request_["authorizerConfiguration"]["customJWTAuthorizer"]["allowedClients"] == ["client1"]
    assert request_["kmsKeyArn"] == current["kmsKeyArn"]  # kept: not ours, but UpdateGateway replaces all
    assert request_["protocolConfiguration"]["mcp"]["instructions"] == "be nice"
    assert request_["protocolConfiguration"]["mcp"]["searchType"] == "SEMANTIC"
    assert not {"status", "createdAt", "gatewayArn", "gatewayId"} & set(request_)
    operation = CONTROL.operation_model("UpdateGateway")
    assert set(request_) <= set(operation.input_shape.members)
    assert set(operation.input_shape.required_members) <= set(request_)


def test_switching_exception_level_off_drops_it() -> None:
    request_ = gateway.update_request(current_from(desired("DEBUG")), desired("NONE"), "gw-1")
    assert request_ is not None and "exceptionLevel" not in request_


def test_aws_errors_are_named_after_their_code() -> None:
    exc = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateGateway")
    translated = aws_error(exc)
    assert type(translated).__name__ == "ThrottlingException"
    assert isinstance(translated, AwsError)
    assert str(translated) == "CreateGateway: Rate exceeded"
    assert type(aws_error(exc)) is type(translated)
    odd = ClientError({"Error": {"Code": "Weird.Code", "Message": "m"}}, "Op")
    assert type(aws_error(odd)).__name__ == "AwsError"


def cfn_request() -> dict[str, Any]:
    return {
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "r-1",
        "LogicalResourceId": "Gateway",
        "ResponseURL": "https://example.invalid/x",
        "RequestType": "Create",
    }


def test_response_body_shape_and_reason_limit() -> None:
    body = cfn_response.response_body(
        cfn_request(), "FAILED", physical_resource_id="agentgw-s", reason="x" * 5000
    )
    assert set(body) == {
        "Status",
        "Reason",
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "NoEcho",
        "Data",
    }
    assert len(json.dumps(body)) < 4096
    with pytest.raises(ValueError):
        cfn_response.response_body(cfn_request(), "MAYBE", physical_resource_id="p")


def test_error_reason_reads_step_functions_causes() -> None:
    cause = json.dumps({"errorMessage": "gateway g is FAILED: bad role", "errorType": "GatewayFailed"})
    assert cfn_response.error_reason({"Error": "GatewayFailed", "Cause": cause}) == (
        "GatewayFailed: gateway g is FAILED: bad role"
    )
    assert cfn_response.error_reason({"Error": "States.Timeout", "Cause": "plain"}) == "States.Timeout: plain"
    assert cfn_response.error_reason(None) == "provisioning failed"


SCHEMA_FILE = "layers/agentgw/python/agentgw/tools/schemas.json"


def declared(name: str = "timeweather", arn: str = LAMBDA_ARN) -> dict[str, Any]:
    """A target as template.yaml declares it."""
    return {
        "Name": name,
        "TargetConfiguration": {"Mcp": {"Lambda": {"LambdaArn": arn, "ToolSchema": {"File": SCHEMA_FILE}}}},
    }


def valid(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "action": "Create",
        "stack_name": "shop",
        "gateway_role_arn": ROLE_ARN,
        "targets": [declared()],
        "config_parameter_name": "/agentgw/shop/gateway",
        "client_secret_name": "agentgw/shop/client-credentials",
    }
    return {**args, **overrides}


def test_execution_input_accepts_cloudformation_strings() -> None:
    built = request.execution_input(**valid(wait_seconds="0", max_polls="12", exception_level="DEBUG"))
    assert built["waitSeconds"] == 0 and built["maxPolls"] == 12
    assert built["targets"] == [
        {
            "name": "timeweather",
            "kind": "lambda",
            "description": "Lambda tools timeweather",
            "lambdaArn": LAMBDA_ARN,
            "toolSchemaFile": SCHEMA_FILE,
        }
    ]
    assert built["cfn"] is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"action": "Replace"}, "action"),
        ({"exception_level": "VERBOSE"}, "exceptionLevel"),
        ({"gateway_role_arn": "role"}, "gatewayRoleArn"),
        ({"targets": []}, "targets"),
        ({"targets": [declared("time_weather")]}, "no underscores"),
        ({"targets": [declared("a", LAMBDA_ARN + ":live")]}, "unqualified"),
        ({"targets": [declared("a")] * 2}, "unique"),
        ({"config_parameter_name": "agentgw/x"}, "configParameterName"),
        ({"wait_seconds": "soon"}, "waitSeconds"),
        ({"max_polls": 0}, "maxPolls"),
        ({"cfn": {"ResponseURL": "u"}}, "CloudFormation request lacks"),
        ({"session_bucket": "Sessions_Bucket"}, "sessionBucket"),
        ({"session_bucket": "ab"}, "sessionBucket"),
        ({"session_bucket": "a..b"}, "sessionBucket"),
    ],
)
def test_execution_input_rejects_bad_values(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        request.execution_input(**valid(**overrides))


def test_from_custom_resource_uses_the_request_type_and_keeps_cfn_fields() -> None:
    event = {
        **cfn_request(),
        "RequestType": "Delete",
        "PhysicalResourceId": "agentgw-shop",
        "ResourceProperties": {
            "ServiceToken": "arn",
            "StackName": "shop",
            "GatewayRoleArn": ROLE_ARN,
            "Targets": [declared()],
            "ConfigParameterName": "/agentgw/shop/gateway",
            "ClientSecretName": "agentgw/shop/client-credentials",
            "PollIntervalSeconds": "5",
            "MaxPolls": "60",
        },
    }
    built = request.from_custom_resource(event)
    assert built["action"] == "Delete"
    assert built["cfn"]["PhysicalResourceId"] == "agentgw-shop"
    assert built["cfn"]["ResponseURL"] == "https://example.invalid/x"
    with pytest.raises(InvalidInput, match="StackName"):
        request.from_custom_resource({**event, "ResourceProperties": {}})


EVENTS = Path(__file__).resolve().parents[3] / "events"


@pytest.mark.parametrize(
    "name", ["provisioning-custom-resource-create.json", "provisioning-custom-resource-delete.json"]
)
def test_sample_custom_resource_events_are_valid_requests(name: str) -> None:
    event = json.loads((EVENTS / name).read_text("utf-8"))
    built = request.from_custom_resource(event)
    sample_input = json.loads((EVENTS / "provisioning-execution-input.json").read_text("utf-8"))
    assert set(built) == set(sample_input)
    assert built["action"] == event["RequestType"]


def test_sample_execution_input_passes_validation() -> None:
    sample = json.loads((EVENTS / "provisioning-execution-input.json").read_text("utf-8"))
    rebuilt = request.execution_input(
        action=sample["action"],
        stack_name=sample["stackName"],
        gateway_role_arn=sample["gatewayRoleArn"],
        targets=sample["targets"],
        config_parameter_name=sample["configParameterName"],
        client_secret_name=sample["clientSecretName"],
        exception_level=sample["exceptionLevel"],
        wait_seconds=sample["waitSeconds"],
        max_polls=sample["maxPolls"],
        session_bucket=sample["sessionBucket"],
    )
    assert rebuilt == sample


def test_server_failures_are_transient_whatever_their_code() -> None:
    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
        )

    assert type(aws_error(client_error("500", 500))).__name__ == "TransientAwsError"
    assert type(aws_error(client_error("WeirdServerThing", 503))).__name__ == "TransientAwsError"
    assert type(aws_error(client_error("InternalServiceError", 500))).__name__ == "InternalServiceError"
    assert type(aws_error(client_error("ValidationException", 400))).__name__ == "ValidationException"
    assert "ValidationException" not in RETRYABLE_ERRORS and "AccessDeniedException" not in RETRYABLE_ERRORS
