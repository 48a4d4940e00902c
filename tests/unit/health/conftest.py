"""Fixtures for the health library: an MCP gateway double and its token endpoint on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from health_gateway_double import CLIENT_ID, CLIENT_SECRET, Behaviour, GatewayDouble

from agentgw.config import ClientCredentials, GatewayConfig
from agentgw.oauth import fetch_token
from agentgw_local import aws as local_aws
from agentgw_local.aws import EmulatedAws


@pytest.fixture(scope="module")
def _gateway_server() -> Iterator[GatewayDouble]:
    server = GatewayDouble().start()
    yield server
    server.stop()


@pytest.fixture
def gateway(_gateway_server: GatewayDouble) -> GatewayDouble:
    _gateway_server.behaviour = Behaviour()  # each test starts from a healthy gateway
    return _gateway_server


@pytest.fixture
def token(gateway: GatewayDouble) -> Callable[[], str]:
    credentials = ClientCredentials(CLIENT_ID, CLIENT_SECRET)
    return lambda: fetch_token(gateway.token_url, credentials, "agentgw/invoke").value


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatedAws]:
    # One emulator per process: reuse the local stack's when one is already running.
    if local_aws._active is not None:
        yield local_aws._active
        return
    with EmulatedAws() as emulated:
        yield emulated


@pytest.fixture
def published(
    emulator: EmulatedAws, gateway: GatewayDouble, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    secret_arn = emulator.client("secretsmanager").create_secret(
        Name=f"agentgw-health-test-{suffix}",
        SecretString=ClientCredentials(CLIENT_ID, CLIENT_SECRET).to_secret_string(),
    )["ARN"]
    config = GatewayConfig(
        gateway_id=f"gw-{suffix}",
        gateway_url=gateway.url,
        region=emulator.region,
        token_url=gateway.token_url,
        discovery_url="http://127.0.0.1:1/.well-known/openid-configuration",
        client_id=CLIENT_ID,
        scope="agentgw/invoke",
        client_secret_arn=secret_arn,
    )
    name = f"/agentgw-health-test/{suffix}/gateway"
    emulator.client("ssm").put_parameter(Name=name, Value=config.to_json(), Type="String")
    monkeypatch.setenv("AGENTGW_CONFIG_PARAMETER", name)
    return {"parameter": name, "secret_arn": secret_arn, "config": config}
