"""Fixtures for the health library: an MCP gateway double and its token endpoint on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from health_gateway_double import CLIENT_ID, CLIENT_SECRET, Behaviour, GatewayDouble

from agentgw.config import ClientCredentials
from agentgw.oauth import fetch_token


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
