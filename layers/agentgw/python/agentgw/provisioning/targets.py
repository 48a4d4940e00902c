"""CreateTargets / CheckTargets: the gateway's Lambda targets and their tool schemas.

The tool schemas come from `agentgw.tools` (schemas.json), the one source of truth the
tool function and the local gateway read too.
"""

from __future__ import annotations

import copy
import hashlib
import time
from typing import Any

from botocore.exceptions import ClientError

from agentgw import tools
from agentgw.provisioning import aws
from agentgw.provisioning.errors import (
    InvalidInput,
    NotReadyInTime,
    PermissionsNotPropagated,
    ResourceStillInUse,
    TargetFailed,
    error_code,
)
from agentgw.provisioning.names import check_target_name

FAILED_STATUSES = ("FAILED", "UPDATE_UNSUCCESSFUL", "SYNCHRONIZE_UNSUCCESSFUL")


def control() -> Any:
    return aws.client("bedrock-agentcore-control")


def tool_schemas(target: str) -> list[dict[str, Any]]:
    """The inline tool definitions of a configured target."""
    if target != tools.target_name():
        raise InvalidInput(f"no tool schemas for target {target!r} (known: {tools.target_name()!r})")
    return copy.deepcopy(tools.tool_definitions())


def target_configuration(lambda_arn: str, target: str) -> dict[str, Any]:
    return {
        "mcp": {"lambda": {"lambdaArn": lambda_arn, "toolSchema": {"inlinePayload": tool_schemas(target)}}}
    }


# The gateway calls the function with its own execution role.
CREDENTIALS = [{"credentialProviderType": "GATEWAY_IAM_ROLE"}]


def list_targets(gateway_id: str) -> list[dict[str, Any]]:
    client = control()
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("list_gateway_targets").paginate(gatewayIdentifier=gateway_id):
        items += page.get("items", [])
    return items


def ensure_target(gateway_id: str, name: str, lambda_arn: str, execution_name: str) -> dict[str, Any]:
    """Create the target, or bring an existing one (same name) to the wanted configuration."""
    check_target_name(name)
    client = control()
    configuration = target_configuration(lambda_arn, name)
    description = f"Lambda tools {name}"
    existing = next((t for t in list_targets(gateway_id) if t.get("name") == name), None)
    if existing is None:
        token = hashlib.sha256(f"{gateway_id}:{name}:{execution_name}".encode()).hexdigest()[:48]
        try:
            target = client.create_gateway_target(
                gatewayIdentifier=gateway_id,
                name=name,
                description=description,
                clientToken=token,
                targetConfiguration=configuration,
                credentialProviderConfigurations=CREDENTIALS,
            )
        except ClientError as exc:
            lag = _permission_lag(exc)
            if lag is None:
                raise
            raise lag from exc
        return {"targetId": str(target["targetId"]), "name": name, "created": True, "updated": False}
    target_id = str(existing["targetId"])
    current = client.get_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)
    if (
        current.get("targetConfiguration") != configuration
        or current.get("credentialProviderConfigurations") != CREDENTIALS
        or current.get("description") != description
    ):
        # UpdateGatewayTarget replaces the whole target too: send every field.
        request: dict[str, Any] = {
            "gatewayIdentifier": gateway_id,
            "targetId": target_id,
            "name": name,
            "description": description,
            "targetConfiguration": configuration,
            "credentialProviderConfigurations": CREDENTIALS,
        }
        if current.get("metadataConfiguration"):
            request["metadataConfiguration"] = current["metadataConfiguration"]
        client.update_gateway_target(**request)
        return {"targetId": target_id, "name": name, "created": False, "updated": True}
    return {"targetId": target_id, "name": name, "created": False, "updated": False}


def _permission_lag(exc: ClientError) -> PermissionsNotPropagated | None:
    """The one validation error that is really IAM's eventual consistency: the service test-invokes
    the function with the role FixIamPermissions just granted, before IAM has spread the grant.
    Every other ValidationException stays what it is (never retried)."""
    error = exc.response.get("Error", {})
    message = str(error.get("Message", ""))
    if error.get("Code") == "ValidationException" and "lacks permission to invoke" in message:
        return PermissionsNotPropagated(message)
    return None


def check_targets(gateway_id: str, target_ids: list[str], attempts: int, max_polls: int) -> dict[str, Any]:
    """One poll over the targets: all READY → done; any FAILED → TargetFailed; bounded."""
    client = control()
    statuses: dict[str, str] = {}
    for target_id in target_ids:
        target = client.get_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)
        status = str(target.get("status"))
        if status in FAILED_STATUSES:
            reasons = "; ".join(target.get("statusReasons") or []) or "no reason given"
            raise TargetFailed(f"target {target.get('name')} ({target_id}) is {status}: {reasons}")
        statuses[target_id] = status
    attempts += 1
    ready = all(status == "READY" for status in statuses.values())
    if not ready and attempts >= max_polls:
        raise NotReadyInTime(f"targets not READY after {attempts} checks: {statuses}")
    return {"status": "READY" if ready else "PENDING", "attempts": attempts, "statuses": statuses}


def delete_target(gateway_id: str, target_id: str) -> bool:
    client = control()
    try:
        client.delete_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


def delete_all_targets(gateway_id: str, *, wait_s: float = 60.0) -> list[str]:
    """Delete every target of the gateway and wait (bounded) until they are gone."""
    deleted = [t["targetId"] for t in list_targets(gateway_id) if delete_target(gateway_id, t["targetId"])]
    deadline = time.monotonic() + wait_s
    while remaining := list_targets(gateway_id):
        if time.monotonic() >= deadline:
            raise ResourceStillInUse(
                f"gateway {gateway_id} still has targets {[t['targetId'] for t in remaining]}"
            )
        time.sleep(2)
    return deleted
