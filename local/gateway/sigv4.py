"""SigV4 signing of an outbound HTTP request with the gateway's AWS credentials
(`GATEWAY_IAM_ROLE` with `iamCredentialProvider{service, region}`).

AgentCore signs with the gateway's service role; the local gateway signs with the credentials
boto3 finds in its process (the emulator's fixed test credentials in the local stack). botocore's
own signer does the work: the request's host, content type and `x-amz-*` headers are signed, with
its body's hash.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from agentgw_local.gateway.oauth2_tokens import OutboundAuthError

_SIGNED = ("host", "content-type")


def credentials() -> Any:
    """The process's AWS credentials (frozen), or OutboundAuthError when there are none."""
    found = boto3.Session().get_credentials()
    if found is None:
        raise OutboundAuthError("GATEWAY_IAM_ROLE: no AWS credentials to sign the call with")
    return found.get_frozen_credentials()


def default_region() -> str:
    region = boto3.Session().region_name
    if not region:
        raise OutboundAuthError("GATEWAY_IAM_ROLE: no iamCredentialProvider.region and no default region")
    return str(region)


def sign(request: Any, service: str, region: str) -> None:
    """Add `Authorization`, `X-Amz-Date` (and `X-Amz-Security-Token`) to an httpx/httpx2 request
    whose body has been read."""
    headers = {
        k: v for k, v in request.headers.items() if k.lower() in _SIGNED or k.lower().startswith("x-amz-")
    }
    aws_request = AWSRequest(
        method=request.method, url=str(request.url), data=request.content, headers=headers
    )
    SigV4Auth(credentials(), service, region).add_auth(aws_request)
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        value = aws_request.headers.get(name)
        if value is not None:
            request.headers[name] = value
