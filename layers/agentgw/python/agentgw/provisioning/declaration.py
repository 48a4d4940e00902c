"""The declared gateway targets: the custom resource's `Targets` property, checked.

Each item mirrors CloudFormation's `AWS::BedrockAgentCore::GatewayTarget` (see docs/targets.md):

    Name: timeweather
    Description: ...                       # optional
    TargetConfiguration:
      Mcp:
        Lambda:                            # the kind: its key under Mcp
          LambdaArn: !GetAtt ToolsFunction.Arn
          ToolSchema:
            File: functions/tools/tools.json
    CredentialProviderConfigurations:      # optional; GATEWAY_IAM_ROLE is the only one for Lambda
      - CredentialProviderType: GATEWAY_IAM_ROLE

The workflow carries each target in its normalized form (`{name, kind, description, lambdaArn,
toolSchemaFile}`), which `parse` accepts too, so every step re-checks what it is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentgw.provisioning.errors import InvalidInput
from agentgw.provisioning.names import check_target_name

MAX_TARGETS = 100  # AgentCore's quota per gateway
# The kinds AgentCore's TargetConfiguration.Mcp has; only Lambda is provisioned so far.
KINDS = {"Lambda": "lambda"}
KNOWN_LATER = ("OpenApiSchema", "SmithyModel", "McpServer", "ApiGateway")
CREDENTIAL_TYPES = ("GATEWAY_IAM_ROLE",)
_LAMBDA_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9-_.]+$")
_MAX_DESCRIPTION = 200


def _lambda_target(name: str, item: Mapping[str, Any]) -> dict[str, str]:
    mcp = (item.get("TargetConfiguration") or {}).get("Mcp")
    if not isinstance(mcp, Mapping) or len(mcp) != 1:
        raise InvalidInput(
            f"target {name}: TargetConfiguration.Mcp must have exactly one kind ({', '.join(KINDS)})"
        )
    ((kind_key, config),) = mcp.items()
    if kind_key not in KINDS:
        later = " (not supported yet)" if kind_key in KNOWN_LATER else ""
        raise InvalidInput(f"target {name}: kind {kind_key}{later}; supported: {', '.join(KINDS)}")
    if not isinstance(config, Mapping):
        raise InvalidInput(f"target {name}: TargetConfiguration.Mcp.{kind_key} must be an object")
    schema = config.get("ToolSchema")
    file = schema.get("File") if isinstance(schema, Mapping) else None
    if not isinstance(file, str) or not file:
        raise InvalidInput(f"target {name}: TargetConfiguration.Mcp.Lambda.ToolSchema.File is required")
    credentials = item.get("CredentialProviderConfigurations") or [
        {"CredentialProviderType": "GATEWAY_IAM_ROLE"}
    ]
    types = [c.get("CredentialProviderType") for c in credentials if isinstance(c, Mapping)]
    if len(types) != len(credentials) or any(t not in CREDENTIAL_TYPES for t in types) or len(types) != 1:
        raise InvalidInput(
            f"target {name}: CredentialProviderConfigurations must be one of {CREDENTIAL_TYPES}"
        )
    return {
        "name": name,
        "kind": KINDS[kind_key],
        "description": str(item.get("Description") or f"Lambda tools {name}"),
        "lambdaArn": str(config.get("LambdaArn") or ""),
        "toolSchemaFile": file,
    }


def _one(item: Any) -> dict[str, str]:
    if not isinstance(item, Mapping):
        raise InvalidInput("each target must be an object (Name, TargetConfiguration, ...)")
    name = check_target_name(str(item.get("Name") or item.get("name") or ""))
    if "TargetConfiguration" in item:
        target = _lambda_target(name, item)
    elif item.get("kind") == "lambda":
        target = {
            key: str(item.get(key) or "")
            for key in ("name", "kind", "description", "lambdaArn", "toolSchemaFile")
        }
        if not target["toolSchemaFile"]:
            raise InvalidInput(f"target {name}: toolSchemaFile is required")
    else:
        raise InvalidInput(f"target {name}: TargetConfiguration is required")
    if not _LAMBDA_ARN.fullmatch(target["lambdaArn"]):
        raise InvalidInput(
            f"target {name}: LambdaArn {target['lambdaArn']!r} is not an unqualified Lambda function ARN"
        )
    if not 1 <= len(target["description"]) <= _MAX_DESCRIPTION:
        raise InvalidInput(f"target {name}: Description must be 1 to {_MAX_DESCRIPTION} characters")
    return target


def parse(targets: Any) -> list[dict[str, str]]:
    """The declared targets, normalized; InvalidInput names the first target that is wrong."""
    if not isinstance(targets, Sequence) or isinstance(targets, str) or not targets:
        raise InvalidInput("targets must be a non-empty list (the custom resource's Targets)")
    if len(targets) > MAX_TARGETS:
        raise InvalidInput(f"{len(targets)} targets declared; AgentCore allows {MAX_TARGETS} per gateway")
    checked = [_one(item) for item in targets]
    names = [t["name"] for t in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"target names must be unique: {', '.join(duplicates)} declared more than once")
    return checked
