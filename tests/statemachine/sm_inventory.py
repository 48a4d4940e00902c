"""What exists in the emulated account, per resource type the workflow manages.

`inventory()` lists every resource type the provisioning workflow creates, so a test can
assert that rollback or teardown left *nothing* behind (not just the things it expected).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentgw_local.aws import EmulatedAws

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/agentgw-test/0b1c2d3e-4f50-6172-8394-a5b6c7d8"


def inventory(aws: EmulatedAws, role_name: str | None = None) -> dict[str, list[str]]:
    control = aws.client("bedrock-agentcore-control")
    gateways = control.list_gateways()["items"]
    targets = [
        f"{g['gatewayId']}/{t['targetId']}"
        for g in gateways
        for t in control.list_gateway_targets(gatewayIdentifier=g["gatewayId"])["items"]
    ]
    cognito = aws.client("cognito-idp")
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    clients, domains, servers = [], [], []
    for pool in pools:
        clients += [
            c["ClientId"] for c in cognito.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]
        ]
        servers += [
            s["Identifier"]
            for s in cognito.list_resource_servers(UserPoolId=pool["Id"], MaxResults=50)["ResourceServers"]
        ]
        described = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
        if described.get("Domain"):
            domains.append(described["Domain"])
    secrets = [s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]]
    parameters = [p["Name"] for p in aws.client("ssm").describe_parameters()["Parameters"]]
    role_policies: list[str] = []
    if role_name:
        role_policies = aws.client("iam").list_role_policies(RoleName=role_name)["PolicyNames"]
    return {
        "gateways": [g["gatewayId"] for g in gateways],
        "targets": targets,
        "user_pools": [p["Id"] for p in pools],
        "app_clients": clients,
        "resource_servers": servers,
        "domains": domains,
        "secrets": secrets,
        "parameters": parameters,
        "role_policies": role_policies,
    }


def empty(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """The non-empty entries (so a failing assert shows what was left behind)."""
    return {kind: items for kind, items in found.items() if items}


@dataclass
class CfnEndpoint:
    """A loopback HTTP server standing in for CloudFormation's presigned ResponseURL."""

    url: str
    responses: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int = 1, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """Block until `count` responses arrived (or fail)."""
        import time

        deadline = time.monotonic() + timeout_s
        while len(self.responses) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"CloudFormation got {len(self.responses)} responses, expected {count}")
            self.received.wait(0.05)
            self.received.clear()
        return self.responses


@contextmanager
def cfn_endpoint() -> Iterator[CfnEndpoint]:
    endpoint = CfnEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            endpoint.headers.append(dict(self.headers))
            endpoint.responses.append(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            endpoint.received.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/cfn-response?X-Amz-Signature=test"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


def cfn_event(
    request_type: str, endpoint: CfnEndpoint, properties: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A CloudFormation custom resource request as the trigger function receives it."""
    import uuid

    return {
        "RequestType": request_type,
        "ServiceToken": properties.get("ServiceToken", ""),
        "ResponseURL": endpoint.url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "Gateway",
        "ResourceType": "Custom::AgentCoreGateway",
        # CloudFormation passes every property value as a string.
        "ResourceProperties": json.loads(json.dumps(properties), parse_int=str),
        **extra,
    }
