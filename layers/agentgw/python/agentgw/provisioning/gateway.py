"""CreateGateway / CheckGateway: the AgentCore gateway (MCP, semantic search, CUSTOM_JWT).

Found by name before anything is created. An existing gateway whose configuration drifted
is updated with UpdateGateway, which replaces the *whole* configuration: read it, change
what we own, write all of it back.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from agentgw import endpoints
from agentgw.provisioning import aws
from agentgw.provisioning.errors import GatewayFailed, NotReadyInTime, ResourceStillInUse, error_code
from agentgw.provisioning.names import TAG_KEY, ResourceNames

# 2026-07-28 is the stateless revision (no initialize, no session): AgentCore serves it only when
# listed, and clients of the handshake versions keep working alongside it.
MCP_VERSIONS = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]
SEARCH_TYPE = "SEMANTIC"
FAILED_STATUSES = ("FAILED", "UPDATE_UNSUCCESSFUL")

# GetGateway fields that UpdateGateway takes back (checked against botocore's model in a test):
# everything else in GetGateway's answer is read-only.
UPDATABLE_FIELDS = (
    "name",
    "description",
    "roleArn",
    "protocolType",
    "protocolConfiguration",
    "authorizerType",
    "authorizerConfiguration",
    "kmsKeyArn",
    "customTransformConfiguration",
    "interceptorConfigurations",
    "policyEngineConfiguration",
    "exceptionLevel",
    "wafConfiguration",
    "domainOverride",
)


def control() -> Any:
    return aws.client("bedrock-agentcore-control")


def find_gateway(client: Any, name: str) -> dict[str, Any] | None:
    """The summary of the gateway named `name`, or None."""
    for page in client.get_paginator("list_gateways").paginate():
        for item in page.get("items", []):
            if item.get("name") == name:
                return item
    return None


def desired_settings(
    *, role_arn: str, discovery_url: str, client_id: str, scope: str, exception_level: str, description: str
) -> dict[str, Any]:
    """The configuration this workflow owns (the fields it sets on create and on update)."""
    settings: dict[str, Any] = {
        "description": description,
        "roleArn": role_arn,
        "protocolType": "MCP",
        "protocolConfiguration": {"mcp": {"supportedVersions": MCP_VERSIONS, "searchType": SEARCH_TYPE}},
        "authorizerType": "CUSTOM_JWT",
        "authorizerConfiguration": {
            # Cognito access tokens carry no `aud`: the gateway checks `client_id` instead. The
            # scope is both a check and what the 401's protected-resource metadata advertises,
            # so OAuth-discovering MCP clients ask Cognito for it instead of `openid profile…`.
            "customJWTAuthorizer": {
                "discoveryUrl": discovery_url,
                "allowedClients": [client_id],
                "allowedScopes": [scope],
            }
        },
    }
    if exception_level != "NONE":
        settings["exceptionLevel"] = exception_level
    return settings


def update_request(
    current: dict[str, Any], desired: dict[str, Any], gateway_id: str
) -> dict[str, Any] | None:
    """The full UpdateGateway request turning `current` into `desired`, or None if nothing differs."""
    request = {key: copy.deepcopy(current[key]) for key in UPDATABLE_FIELDS if current.get(key) is not None}
    merged = {**request, **copy.deepcopy(desired)}
    if "exceptionLevel" not in desired:
        merged.pop("exceptionLevel", None)
    mcp = (current.get("protocolConfiguration") or {}).get("mcp") or {}
    # Keep settings someone added to the MCP configuration (instructions, sessions…).
    merged["protocolConfiguration"]["mcp"] = {**mcp, **desired["protocolConfiguration"]["mcp"]}
    if merged == request:
        return None
    return {"gatewayIdentifier": gateway_id, **merged}


def ensure_gateway(
    names: ResourceNames,
    *,
    role_arn: str,
    discovery_url: str,
    client_id: str,
    scope: str,
    exception_level: str,
    execution_name: str,
) -> dict[str, Any]:
    client = control()
    desired = desired_settings(
        role_arn=role_arn,
        discovery_url=discovery_url,
        client_id=client_id,
        scope=scope,
        exception_level=exception_level,
        description=f"agentgw gateway of stack {names.stack_name}",
    )
    created = False
    updated = False
    summary = find_gateway(client, names.gateway)
    if summary is None:
        gateway = client.create_gateway(
            name=names.gateway,
            clientToken=names.client_token("gateway", execution_name),
            tags={TAG_KEY: names.stack_name},
            **desired,
        )
        created = True
    else:
        gateway = client.get_gateway(gatewayIdentifier=summary["gatewayId"])
        request = update_request(gateway, {"name": names.gateway, **desired}, summary["gatewayId"])
        if request is not None:
            gateway = client.update_gateway(**request)
            updated = True
    gateway_id = str(gateway["gatewayId"])
    # What the gateway had before this execution: a rollback restores exactly that.
    from agentgw.provisioning import targets  # targets imports this module

    previous = [] if created else targets.snapshot(gateway_id)
    return {
        "gatewayId": gateway_id,
        "gatewayArn": str(gateway["gatewayArn"]),
        "gatewayUrl": endpoints.gateway_mcp_url(gateway_id, gateway.get("gatewayUrl")),
        "name": names.gateway,
        "created": created,
        "updated": updated,
        "existingTargetIds": [t["targetId"] for t in previous],
        # The targets as they were, so that a failed update is rolled back to them.
        "previousTargets": previous,
    }


def check_gateway(gateway_id: str, attempts: int, max_polls: int) -> dict[str, Any]:
    """One poll. READY → done; FAILED → GatewayFailed with the service's reasons; bounded."""
    gateway = control().get_gateway(gatewayIdentifier=gateway_id)
    status = str(gateway.get("status"))
    attempts += 1
    if status in FAILED_STATUSES:
        reasons = "; ".join(gateway.get("statusReasons") or []) or "no reason given"
        raise GatewayFailed(f"gateway {gateway_id} is {status}: {reasons}")
    if status != "READY" and attempts >= max_polls:
        raise NotReadyInTime(f"gateway {gateway_id} still {status} after {attempts} checks")
    return {"status": status, "attempts": attempts}


def delete_gateway(gateway_id: str, *, wait_s: float = 60.0) -> bool:
    """Delete the gateway's targets, then the gateway; wait (bounded) until it is gone.

    Returns False when it was already gone. Raises ResourceStillInUse when deletion has not
    finished in time: the state machine retries the step, which picks up where it stopped.
    """
    from agentgw.provisioning import targets  # targets imports this module

    client = control()
    try:
        client.get_gateway(gatewayIdentifier=gateway_id)
    except client.exceptions.ResourceNotFoundException:
        return False
    targets.delete_all_targets(gateway_id, wait_s=wait_s)
    try:
        client.delete_gateway(gatewayIdentifier=gateway_id)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    deadline = time.monotonic() + wait_s
    while True:
        try:
            status = client.get_gateway(gatewayIdentifier=gateway_id).get("status")
        except client.exceptions.ResourceNotFoundException:
            return True
        if time.monotonic() >= deadline:
            raise ResourceStillInUse(f"gateway {gateway_id} is still {status}")
        time.sleep(2)


def delete_by_name(names: ResourceNames) -> list[str]:
    deleted = []
    client = control()
    for _ in range(10):  # bounded: duplicates by name are possible, endless loops are not
        summary = find_gateway(client, names.gateway)
        if summary is None:
            break
        if delete_gateway(summary["gatewayId"]):
            deleted.append(f"gateway:{summary['gatewayId']}")
    return deleted
