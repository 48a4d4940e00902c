"""boto3 clients for the provisioning steps and facts about the running account."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

# botocore retries throttling a few times in-process (standard mode, with jitter); the
# state machine's Retry blocks handle what outlasts that, with longer backoff.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="agentgw-provisioning")


def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


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
