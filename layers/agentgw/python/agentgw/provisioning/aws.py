"""boto3 clients for the provisioning steps and facts about the running account."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

# botocore retries throttling a few times in-process (standard mode, with jitter); the
# state machine's Retry blocks handle what outlasts that, with longer backoff.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="agentgw-provisioning")


_clients: dict[tuple[str, str | None, str | None], Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    """A shared client per service (clients are thread-safe and costly to build).

    Keyed by the endpoint and region settings too, so a changed environment (another
    emulator in tests) gets a fresh client.
    """
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))
    with _lock:
        cached = _clients.get(key)
        if cached is None:
            cached = _clients[key] = boto3.client(service, config=_CONFIG)
    return cached


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def account_from_arn(arn: str) -> str:
    """The account id in an ARN (e.g. the Lambda context's invoked_function_arn)."""
    parts = arn.split(":")
    if len(parts) < 6 or not parts[4]:
        raise ValueError(f"not an ARN with an account: {arn!r}")
    return parts[4]


def partition_from_arn(arn: str) -> str:
    return arn.split(":")[1]
