"""Answers to CloudFormation's custom resource requests (a PUT to the presigned ResponseURL).

The workflow answers on every path: ReportSuccess after provisioning or teardown,
ReportFailure after a rollback, and the custom resource handler itself when it cannot
even start the execution — a stack must never wait for CloudFormation's timeout.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from agentgw.provisioning.errors import ResponseDeliveryFailed

logger = logging.getLogger(__name__)

SUCCESS = "SUCCESS"
FAILED = "FAILED"
# CloudFormation rejects response bodies over 4096 bytes; the reason is the part that grows.
MAX_REASON = 1000


def response_body(
    request: Mapping[str, Any],
    status: str,
    *,
    physical_resource_id: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if status not in (SUCCESS, FAILED):
        raise ValueError(f"status must be SUCCESS or FAILED, got {status!r}")
    return {
        "Status": status,
        "Reason": (reason or status)[:MAX_REASON],
        "PhysicalResourceId": physical_resource_id,
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data or {}),
    }


def send(response_url: str, body: Mapping[str, Any], *, timeout_s: float = 10.0) -> None:
    """PUT the response; raise ResponseDeliveryFailed if it is not accepted."""
    payload = json.dumps(body).encode("utf-8")
    # The presigned S3 URL is signed without a content type: send an empty one.
    req = urllib.request.Request(
        response_url,
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status = resp.status
    except (urllib.error.URLError, OSError) as exc:
        raise ResponseDeliveryFailed(f"CloudFormation response not delivered: {exc}") from exc
    if not 200 <= status < 300:
        raise ResponseDeliveryFailed(f"CloudFormation response rejected with HTTP {status}")
    logger.info("answered CloudFormation", extra={"status": body["Status"], "request_id": body["RequestId"]})


def error_reason(error: Any) -> str:
    """A readable reason from a Step Functions Catch result `{"Error", "Cause"}`."""
    if not isinstance(error, Mapping):
        return "provisioning failed"
    name = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str):
        try:
            decoded = json.loads(cause)
            message = str(decoded.get("errorMessage") or cause) if isinstance(decoded, dict) else cause
        except json.JSONDecodeError:
            message = cause
    return f"{name}: {message}" if message else name
