"""The execution input of the provisioning state machine, and how to read step events.

The custom resource builds the input from its properties (`from_custom_resource`), the
local stack builds it directly (`execution_input`); both go through the same checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentgw.provisioning import declaration, tool_schemas
from agentgw.provisioning.errors import InvalidInput
from agentgw.provisioning.names import ResourceNames
from agentgw.provisioning.sessions import check_bucket_name

ACTIONS = ("Create", "Update", "Delete")
EXCEPTION_LEVELS = ("DEBUG", "NONE")
CFN_KEYS = ("ResponseURL", "StackId", "RequestId", "LogicalResourceId", "RequestType")
_ROLE_ARN = re.compile(r"^arn:aws(-[^:]+)?:iam::\d{12}:role/.+$")


def require(event: Mapping[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    """`event[key]`, which must be present, of `kind`, and not empty."""
    if not isinstance(event, Mapping):
        raise InvalidInput(f"step input must be a JSON object, got {type(event).__name__}")
    value = event.get(key)
    if value is None or (isinstance(value, (str, list, dict)) and not value):
        raise InvalidInput(f"step input lacks {key!r}")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InvalidInput(f"step input {key!r} must be {getattr(kind, '__name__', kind)}")
    return value


def _int(value: Any, key: str, low: int, high: int) -> int:
    try:
        number = int(value)  # CloudFormation passes numbers as strings
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{key} must be an integer, got {value!r}") from exc
    if not low <= number <= high:
        raise InvalidInput(f"{key} must be between {low} and {high}, got {number}")
    return number


def check_targets(targets: Any) -> list[dict[str, str]]:
    """The declared targets (see `agentgw.provisioning.declaration`), normalized."""
    return declaration.parse(targets)


def check_tool_schemas(targets: list[dict[str, str]]) -> None:
    """Every target's schema file is there and acceptable: refused before anything changes."""
    for target in targets:
        tool_schemas.load(target["toolSchemaFile"], target["name"])


def execution_input(
    *,
    action: str,
    stack_name: str,
    gateway_role_arn: str,
    targets: Any,
    config_parameter_name: str,
    client_secret_name: str,
    exception_level: str = "NONE",
    wait_seconds: Any = 5,
    max_polls: Any = 60,
    session_bucket: str = "",
    cfn: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The state machine's input, validated. `cfn` is the custom resource request (or None).

    `session_bucket` is the agent's session bucket, which teardown empties ("" for none).
    """
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {ACTIONS}, got {action!r}")
    ResourceNames(stack_name, "000000000000", "us-east-1")  # validates the stack name
    if not _ROLE_ARN.fullmatch(gateway_role_arn or ""):
        raise InvalidInput(f"gatewayRoleArn {gateway_role_arn!r} is not an IAM role ARN")
    if exception_level not in EXCEPTION_LEVELS:
        raise InvalidInput(f"exceptionLevel must be one of {EXCEPTION_LEVELS}, got {exception_level!r}")
    if not config_parameter_name.startswith("/") or len(config_parameter_name) > 1011:
        raise InvalidInput("configParameterName must be an SSM parameter path starting with '/'")
    if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,256}", client_secret_name or ""):
        raise InvalidInput(f"clientSecretName {client_secret_name!r} is not a valid secret name")
    if session_bucket:
        check_bucket_name(session_bucket)
    cfn_part: dict[str, Any] | None = None
    if cfn is not None:
        missing = [key for key in CFN_KEYS if not cfn.get(key)]
        if missing:
            raise InvalidInput(f"CloudFormation request lacks {', '.join(missing)}")
        cfn_part = {key: cfn[key] for key in CFN_KEYS}
        cfn_part["PhysicalResourceId"] = cfn.get("PhysicalResourceId")
    checked = check_targets(targets) if action != "Delete" or targets else []
    if action != "Delete":
        check_tool_schemas(checked)
    return {
        "action": action,
        "stackName": stack_name,
        "gatewayRoleArn": gateway_role_arn,
        "exceptionLevel": exception_level,
        "targets": checked,
        "configParameterName": config_parameter_name,
        "clientSecretName": client_secret_name,
        "sessionBucket": session_bucket,
        "waitSeconds": _int(wait_seconds, "waitSeconds", 0, 3600),
        "maxPolls": _int(max_polls, "maxPolls", 1, 1000),
        "cfn": cfn_part,
    }


def from_properties(
    action: str, props: Mapping[str, Any], cfn: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The execution input from the custom resource's properties (see template.yaml)."""
    if not isinstance(props, Mapping):
        raise InvalidInput("ResourceProperties must be an object")

    def prop(key: str) -> Any:
        if props.get(key) in (None, ""):
            raise InvalidInput(f"custom resource property {key} is required")
        return props[key]

    return execution_input(
        action=action,
        stack_name=str(prop("StackName")),
        gateway_role_arn=str(prop("GatewayRoleArn")),
        targets=prop("Targets"),
        config_parameter_name=str(prop("ConfigParameterName")),
        client_secret_name=str(prop("ClientSecretName")),
        exception_level=str(props.get("ExceptionLevel") or "NONE"),
        wait_seconds=props.get("PollIntervalSeconds", 5),
        max_polls=props.get("MaxPolls", 60),
        session_bucket=str(props.get("SessionBucketName") or ""),
        cfn=cfn,
    )


def from_custom_resource(event: Mapping[str, Any]) -> dict[str, Any]:
    """The execution input for a CloudFormation custom resource request."""
    return from_properties(str(event.get("RequestType")), event.get("ResourceProperties") or {}, cfn=event)
