"""The gateway's vended logs and traces, turned on and off with CloudWatch Logs delivery.

AgentCore Gateway is a delivery source with two log types: `APPLICATION_LOGS` (delivered
to a CloudWatch Logs log group) and `TRACES` (delivered to X-Ray). Turning them on is three
calls per type: PutDeliverySource (the gateway), PutDeliveryDestination (the log group /
X-Ray), CreateDelivery (the pair). Everything is named from the stack, so a re-run finds what
exists (idempotent) and teardown finds what to delete without any recorded state.

Permissions the calling role needs (CloudWatch Logs "V2" vended logs):
- `bedrock-agentcore:AllowVendedLogDeliveryForResource` on the gateway ARN;
- `logs:PutDeliverySource`, `GetDeliverySource`, `DeleteDeliverySource`,
  `PutDeliveryDestination`, `GetDeliveryDestination`, `DeleteDeliveryDestination`,
  `CreateDelivery`, `GetDelivery`, `DeleteDelivery` on `delivery-source:*`,
  `delivery-destination:*`, `delivery:*`, and `logs:DescribeDeliveries` on `*`;
- `logs:CreateLogGroup`, `PutRetentionPolicy`, `DescribeLogGroups`, `DeleteLogGroup`,
  `PutResourcePolicy`, `DescribeResourcePolicies` for the log group;
- `xray:PutResourcePolicy`, `xray:ListResourcePolicies`, `xray:GetTraceSegmentDestination`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from agentgw.provisioning import cfn_response

APPLICATION_LOGS = "APPLICATION_LOGS"
TRACES = "TRACES"
LOG_GROUP_PREFIX = "/aws/vendedlogs/bedrock-agentcore/gateway"
DEFAULT_RETENTION_DAYS = 30
_NAME_MAX = 60  # delivery source/destination names: [\w-]{1,60}


@dataclass(frozen=True)
class DeliveryNames:
    logs_source: str
    logs_destination: str
    traces_source: str
    traces_destination: str
    log_group: str

    @property
    def sources(self) -> tuple[str, str]:
        return (self.logs_source, self.traces_source)

    @property
    def destinations(self) -> tuple[str, str]:
        return (self.logs_destination, self.traces_destination)


def delivery_names(stack_name: str) -> DeliveryNames:
    """Deterministic names for one stack's deliveries (unique per account and region)."""
    slug = re.sub(r"[^\w-]", "-", stack_name).strip("-") or "agentgw"
    suffix = hashlib.sha256(stack_name.encode()).hexdigest()[:8]
    # Longest suffix added below is "-gw-traces-xray" (15) plus "-" and the hash (9).
    base = f"{slug[: _NAME_MAX - 24]}-{suffix}"
    return DeliveryNames(
        logs_source=f"{base}-gw-logs",
        logs_destination=f"{base}-gw-logs-cwl",
        traces_source=f"{base}-gw-traces",
        traces_destination=f"{base}-gw-traces-xray",
        log_group=f"{LOG_GROUP_PREFIX}/{stack_name}",
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _ensure_log_group(logs: Any, name: str, retention_days: int) -> str:
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as exc:
        if _code(exc) != "ResourceAlreadyExistsException":
            raise
    logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
    for group in logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", []):
        if group["logGroupName"] == name:
            # Delivery destinations take the ARN without the trailing ":*".
            return str(group.get("logGroupArn") or group["arn"].removesuffix(":*"))
    raise RuntimeError(f"log group {name} was created but cannot be described")


def _ensure_delivery(logs: Any, source: str, destination_arn: str) -> str:
    try:
        return str(
            logs.create_delivery(deliverySourceName=source, deliveryDestinationArn=destination_arn)[
                "delivery"
            ]["id"]
        )
    except ClientError as exc:
        if _code(exc) != "ConflictException":
            raise
    for delivery in _deliveries(logs, [source]):
        if delivery.get("deliveryDestinationArn") == destination_arn:
            return str(delivery["id"])
    raise RuntimeError(f"delivery from {source} conflicts but none to {destination_arn} exists")


def _deliveries(logs: Any, sources: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"deliverySourceNames": sources}
    while True:
        page = logs.describe_deliveries(**kwargs)
        found.extend(d for d in page.get("deliveries", []) if d.get("deliverySourceName") in sources)
        token = page.get("nextToken")
        if not token:
            return found
        kwargs["nextToken"] = token


def enable_gateway_observability(
    logs: Any,
    *,
    stack_name: str,
    gateway_arn: str,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> dict[str, Any]:
    """Deliver the gateway's application logs to a log group and its traces to X-Ray.

    Returns `{"log_group", "deliveries": [ids]}`. Safe to run again.
    """
    names = delivery_names(stack_name)
    log_group_arn = _ensure_log_group(logs, names.log_group, retention_days)

    logs.put_delivery_source(name=names.logs_source, resourceArn=gateway_arn, logType=APPLICATION_LOGS)
    logs_destination = logs.put_delivery_destination(
        name=names.logs_destination,
        outputFormat="json",
        deliveryDestinationConfiguration={"destinationResourceArn": log_group_arn},
    )["deliveryDestination"]["arn"]
    logs_delivery = _ensure_delivery(logs, names.logs_source, logs_destination)

    logs.put_delivery_source(name=names.traces_source, resourceArn=gateway_arn, logType=TRACES)
    traces_destination = logs.put_delivery_destination(
        name=names.traces_destination, deliveryDestinationType="XRAY"
    )["deliveryDestination"]["arn"]
    traces_delivery = _ensure_delivery(logs, names.traces_source, traces_destination)
    return {"log_group": names.log_group, "deliveries": [logs_delivery, traces_delivery]}


def disable_gateway_observability(logs: Any, *, stack_name: str, delete_log_group: bool = True) -> list[str]:
    """Remove the stack's deliveries, sources, destinations (and log group); what is absent is skipped.

    Returns what was deleted, as `kind:name` strings.
    """
    names = delivery_names(stack_name)
    removed: list[str] = []

    def gone(call: Any, kind: str, **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            return
        removed.append(f"{kind}:{next(iter(kwargs.values()))}")

    # Deliveries first: a source or destination still in a delivery cannot be deleted.
    for delivery in _deliveries(logs, list(names.sources)):
        gone(logs.delete_delivery, "delivery", id=delivery["id"])
    for source in names.sources:
        gone(logs.delete_delivery_source, "delivery-source", name=source)
    for destination in names.destinations:
        gone(logs.delete_delivery_destination, "delivery-destination", name=destination)
    if delete_log_group:
        gone(logs.delete_log_group, "log-group", logGroupName=names.log_group)
    return removed


def handle_custom_resource(event: Mapping[str, Any], logs: Any) -> dict[str, Any]:
    """Answer a `Custom::GatewayObservability` request; returns the CloudFormation response body.

    Create/Update turn delivery on, Delete turns it off. Any failure becomes FAILED with the
    reason (the caller sends the body), so the stack never waits for a timeout.
    """
    props = event.get("ResourceProperties") or {}
    stack_name = str(props.get("StackName") or "")
    request_type = str(event.get("RequestType") or "")
    physical_id = str(event.get("PhysicalResourceId") or f"{stack_name}-gateway-observability")
    try:
        if not stack_name:
            raise ValueError("StackName property is required")
        if request_type in ("Create", "Update"):
            gateway_arn = str(props.get("GatewayArn") or "")
            if ":gateway/" not in gateway_arn:
                raise ValueError(f"GatewayArn must be a gateway ARN, got {gateway_arn!r}")
            retention = int(props.get("RetentionDays") or DEFAULT_RETENTION_DAYS)
            result = enable_gateway_observability(
                logs, stack_name=stack_name, gateway_arn=gateway_arn, retention_days=retention
            )
            data = {"LogGroup": result["log_group"], "DeliveryIds": ",".join(result["deliveries"])}
            return cfn_response.response_body(
                event, cfn_response.SUCCESS, physical_resource_id=physical_id, data=data
            )
        if request_type == "Delete":
            removed = disable_gateway_observability(logs, stack_name=stack_name)
            reason = f"removed {len(removed)} delivery resources"
            return cfn_response.response_body(
                event, cfn_response.SUCCESS, physical_resource_id=physical_id, reason=reason
            )
        raise ValueError(f"unknown RequestType {request_type!r}")
    except Exception as exc:
        # A failed Delete must not block `sam delete` forever either: report it, with why.
        reason = f"{type(exc).__name__}: {exc}"
        return cfn_response.response_body(
            event, cfn_response.FAILED, physical_resource_id=physical_id, reason=reason
        )
