"""CreateTargets / CheckTargets / PruneTargets: the gateway converges on the declared targets.

Each declared Lambda target's tools come from its schema file (`tool_schemas`), the one source
of truth the function itself validates against. `snapshot` records the targets as they were
before an execution changed anything, so that a rollback can `restore` them.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from botocore.exceptions import ClientError

from agentgw.provisioning import aws, tool_schemas
from agentgw.provisioning.errors import (
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


def target_configuration(target: dict[str, str]) -> dict[str, Any]:
    tools = tool_schemas.load(target["toolSchemaFile"], target["name"])
    return {"mcp": {"lambda": {"lambdaArn": target["lambdaArn"], "toolSchema": {"inlinePayload": tools}}}}


# The gateway calls the function with its own execution role.
CREDENTIALS = [{"credentialProviderType": "GATEWAY_IAM_ROLE"}]


def list_targets(gateway_id: str) -> list[dict[str, Any]]:
    client = control()
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("list_gateway_targets").paginate(gatewayIdentifier=gateway_id):
        items += page.get("items", [])
    return items


def ensure_target(gateway_id: str, target: dict[str, str], execution_name: str) -> dict[str, Any]:
    """Create the target, or bring an existing one (same name) to the declared configuration."""
    name = check_target_name(target["name"])
    configuration = target_configuration(target)
    description = target["description"]
    existing = next((t for t in list_targets(gateway_id) if t.get("name") == name), None)
    if existing is None:
        token = hashlib.sha256(f"{gateway_id}:{name}:{execution_name}".encode()).hexdigest()[:48]
        target_id = create(gateway_id, name, description, configuration, CREDENTIALS, token)
        return {"targetId": target_id, "name": name, "created": True, "updated": False}
    target_id = str(existing["targetId"])
    current = control().get_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)
    updated = update(gateway_id, current, description, configuration, CREDENTIALS)
    return {"targetId": target_id, "name": name, "created": False, "updated": updated}


def create(
    gateway_id: str,
    name: str,
    description: str,
    configuration: dict[str, Any],
    credentials: list[dict[str, Any]],
    token: str,
) -> str:
    try:
        target = control().create_gateway_target(
            gatewayIdentifier=gateway_id,
            name=name,
            description=description,
            clientToken=token,
            targetConfiguration=configuration,
            credentialProviderConfigurations=credentials,
        )
    except ClientError as exc:
        lag = _permission_lag(exc)
        if lag is None:
            raise
        raise lag from exc
    return str(target["targetId"])


def update(
    gateway_id: str,
    current: dict[str, Any],
    description: str,
    configuration: dict[str, Any],
    credentials: list[dict[str, Any]],
) -> bool:
    """UpdateGatewayTarget when `current` differs; it replaces the whole target: send every field."""
    if (
        current.get("targetConfiguration") == configuration
        and current.get("credentialProviderConfigurations") == credentials
        and current.get("description") == description
    ):
        return False
    request: dict[str, Any] = {
        "gatewayIdentifier": gateway_id,
        "targetId": str(current["targetId"]),
        "name": current["name"],
        "description": description,
        "targetConfiguration": configuration,
        "credentialProviderConfigurations": credentials,
    }
    if current.get("metadataConfiguration"):
        request["metadataConfiguration"] = current["metadataConfiguration"]
    try:
        control().update_gateway_target(**request)
    except ClientError as exc:
        lag = _permission_lag(exc)
        if lag is None:
            raise
        raise lag from exc
    return True


_SNAPSHOT_KEYS = (
    "targetId",
    "name",
    "description",
    "targetConfiguration",
    "credentialProviderConfigurations",
)


def snapshot(gateway_id: str) -> list[dict[str, Any]]:
    """Every target as it is now, enough to put it back (see `restore`)."""
    client = control()
    saved = []
    for summary in list_targets(gateway_id):
        target = client.get_gateway_target(gatewayIdentifier=gateway_id, targetId=summary["targetId"])
        saved.append({key: target.get(key) for key in _SNAPSHOT_KEYS if target.get(key) is not None})
    return sorted(saved, key=lambda t: str(t["targetId"]))


def restore(gateway_id: str, previous: list[dict[str, Any]]) -> list[str]:
    """Bring the gateway's targets back to `previous`: delete the others, revert changed ones,
    recreate deleted ones (same name and configuration; the service gives a new id)."""
    client = control()
    done: list[str] = []
    before = {str(t["targetId"]): t for t in previous}
    live = {str(t["targetId"]): t for t in list_targets(gateway_id)}
    for target_id in live:
        if target_id not in before and delete_target(gateway_id, target_id):
            done.append(f"deleted target:{target_id}")
    for target_id, saved in before.items():
        description = str(saved.get("description") or "")
        configuration = saved.get("targetConfiguration") or {}
        credentials = saved.get("credentialProviderConfigurations") or CREDENTIALS
        if target_id in live:
            current = client.get_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)
            if update(gateway_id, current, description, configuration, credentials):
                done.append(f"reverted target:{target_id}")
        else:
            token = hashlib.sha256(f"{gateway_id}:{saved['name']}:restore:{target_id}".encode()).hexdigest()[
                :48
            ]
            new_id = create(gateway_id, str(saved["name"]), description, configuration, credentials, token)
            done.append(f"recreated target:{saved['name']}:{new_id}")
    return done


def prune(gateway_id: str, declared: list[str], *, wait_s: float = 60.0) -> list[str]:
    """Delete the targets whose names are not declared; wait (bounded) until they are gone."""
    wanted = set(declared)
    doomed = [str(t["targetId"]) for t in list_targets(gateway_id) if t.get("name") not in wanted]
    deleted = [target_id for target_id in doomed if delete_target(gateway_id, target_id)]
    deadline = time.monotonic() + wait_s
    while remaining := [t for t in list_targets(gateway_id) if str(t["targetId"]) in doomed]:
        if time.monotonic() >= deadline:
            raise ResourceStillInUse(
                f"gateway {gateway_id} still has targets {[t['targetId'] for t in remaining]}"
            )
        time.sleep(2)
    return deleted


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
