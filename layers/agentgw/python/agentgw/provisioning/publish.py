"""PublishConfig: the gateway configuration every client reads, in an SSM parameter.

The parameter holds `agentgw.config.GatewayConfig` as JSON: URLs, ids, the scope and the
ARN of the client secret — never the secret itself (that stays in Secrets Manager).
"""

from __future__ import annotations

from typing import Any

from agentgw.config import GatewayConfig
from agentgw.provisioning import aws, tool_schemas
from agentgw.provisioning.errors import error_code
from agentgw.provisioning.gateway import SEARCH_TYPE


def build_config(
    *, gateway: dict[str, Any], authorizer: dict[str, Any], targets: list[dict[str, str]] | None = None
) -> GatewayConfig:
    """`targets`: the declared targets (normalized); their tool names are read from their schema files."""
    tools = {
        target["name"]: [tool["name"] for tool in tool_schemas.load(target["toolSchemaFile"], target["name"])]
        for target in targets or []
    }
    return GatewayConfig(
        gateway_id=gateway["gatewayId"],
        gateway_url=gateway["gatewayUrl"],
        region=aws.region(),
        token_url=authorizer["tokenUrl"],
        discovery_url=authorizer["discoveryUrl"],
        client_id=authorizer["clientId"],
        scope=authorizer["scope"],
        client_secret_arn=authorizer["secretArn"],
        search_type=SEARCH_TYPE,
        targets=tools,
    )


def publish_config(parameter_name: str, config: GatewayConfig) -> dict[str, Any]:
    ssm = aws.client("ssm")
    value = config.to_json()
    try:
        current = ssm.get_parameter(Name=parameter_name)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        current = None
    if current is not None and current.get("Value") == value:
        return {"parameterName": parameter_name, "version": current.get("Version"), "created": False}
    version = ssm.put_parameter(
        Name=parameter_name,
        Description="agentgw gateway configuration (the client secret is in Secrets Manager)",
        Value=value,
        Type="String",
        Tier="Standard",
        Overwrite=True,
    )["Version"]
    return {"parameterName": parameter_name, "version": version, "created": current is None}


def read_config(parameter_name: str) -> GatewayConfig:
    value = aws.client("ssm").get_parameter(Name=parameter_name)["Parameter"]["Value"]
    return GatewayConfig.from_json(value)


def delete_config(parameter_name: str) -> bool:
    try:
        aws.client("ssm").delete_parameter(Name=parameter_name)
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            return False
        raise
    return True
