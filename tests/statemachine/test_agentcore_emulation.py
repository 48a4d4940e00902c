"""The emulated AgentCore control plane refuses what AgentCore refuses (and kinds the local
gateway cannot serve), with a ValidationException, instead of accepting and skipping them."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from agentgw_local.aws import EmulatedAws

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:tools"
TOOL = {
    "name": "now",
    "description": "The time",
    "inputSchema": {"type": "object", "properties": {"zone": {"type": "string"}}},
}


def lambda_config(*tools: dict[str, Any]) -> dict[str, Any]:
    return {"mcp": {"lambda": {"lambdaArn": LAMBDA_ARN, "toolSchema": {"inlinePayload": list(tools)}}}}


@pytest.fixture
def gateway(aws: EmulatedAws) -> tuple[Any, str]:
    # botocore checks no patterns or enum values; a client that skips its validation sends
    # what a raw HTTP request could (the schema's keys are a structure: unknown ones cannot be sent).
    control = boto3.client(
        "bedrock-agentcore-control",
        region_name=aws.region,
        endpoint_url=aws.endpoint_url,
        config=Config(parameter_validation=False),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    created = control.create_gateway(
        name="emulation",
        roleArn="arn:aws:iam::123456789012:role/gw",
        protocolType="MCP",
        authorizerType="AWS_IAM",
    )
    return control, created["gatewayId"]


@pytest.mark.parametrize(
    ("name", "configuration", "message"),
    [
        ("time_weather", lambda_config(TOOL), "Member must satisfy regular expression pattern"),
        (
            "clock",
            lambda_config({**TOOL, "inputSchema": {"type": "date"}}),
            "Invalid tool schema: tool now: inputSchema.type must be one of",
        ),
        ("clock", lambda_config(TOOL, TOOL), "tool now: is declared twice"),
        (
            "clock",
            {"mcp": {"mcpServer": {"endpoint": "https://example.invalid/mcp"}}},
            "mcpServer targets are not emulated yet",
        ),
    ],
)
def test_refused_like_agentcore(
    gateway: tuple[Any, str], name: str, configuration: Any, message: str
) -> None:
    control, gateway_id = gateway
    with pytest.raises(ClientError) as caught:
        control.create_gateway_target(
            gatewayIdentifier=gateway_id, name=name, targetConfiguration=configuration
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message in caught.value.response["Error"]["Message"]
    assert control.list_gateway_targets(gatewayIdentifier=gateway_id)["items"] == []


def test_a_valid_target_is_created_and_a_bad_update_refused(gateway: tuple[Any, str]) -> None:
    control, gateway_id = gateway
    target = control.create_gateway_target(
        gatewayIdentifier=gateway_id, name="clock", targetConfiguration=lambda_config(TOOL)
    )
    bad = lambda_config({**TOOL, "inputSchema": {"type": "date"}})
    with pytest.raises(ClientError, match="ValidationException"):
        control.update_gateway_target(
            gatewayIdentifier=gateway_id, targetId=target["targetId"], name="clock", targetConfiguration=bad
        )
    current = control.get_gateway_target(gatewayIdentifier=gateway_id, targetId=target["targetId"])
    assert current["targetConfiguration"] == lambda_config(TOOL)
