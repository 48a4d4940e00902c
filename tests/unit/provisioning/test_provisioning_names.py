"""Deterministic names follow each service's rules, for any valid stack name."""

from __future__ import annotations

import re

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentgw.provisioning.errors import InvalidInput
from agentgw.provisioning.names import ResourceNames, check_target_name

CONTROL = botocore.session.get_session().get_service_model("bedrock-agentcore-control")
GATEWAY_NAME = CONTROL.shape_for("GatewayName").metadata["pattern"]
# Cognito prefix domains: lowercase letters, digits, inner hyphens, ≤ 63; no reserved words.
DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
STACK_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,127}", fullmatch=True)


@given(STACK_NAMES)
def test_names_are_valid_for_any_stack_name(stack: str) -> None:
    names = ResourceNames(stack, "123456789012", "us-east-1")
    assert re.fullmatch(GATEWAY_NAME, names.gateway)
    assert sum(c.isalnum() for c in names.gateway) <= 48
    assert DOMAIN.fullmatch(names.cognito_domain)
    assert not re.search("aws|amazon|cognito", names.cognito_domain)
    assert 1 <= len(names.user_pool) <= 128
    assert len(names.app_client) <= 128
    assert re.fullmatch(r"[\x21\x23-\x5B\x5D-\x7E]{1,256}", names.resource_server)
    assert len(names.client_token("gateway", "exec")) >= 33


def test_names_are_deterministic_and_unique_per_account_region_and_stack() -> None:
    a = ResourceNames("shop", "123456789012", "us-east-1")
    assert a == ResourceNames("shop", "123456789012", "us-east-1")
    assert a.cognito_domain == ResourceNames("shop", "123456789012", "us-east-1").cognito_domain
    assert a.cognito_domain != ResourceNames("shop", "210987654321", "us-east-1").cognito_domain
    assert a.cognito_domain != ResourceNames("shop", "123456789012", "eu-west-1").cognito_domain
    assert a.gateway == "agentgw-shop" and a.physical_resource_id == a.gateway
    assert a.scope == "agentgw-shop/invoke"
    assert a.client_token("gateway", "e1") != a.client_token("gateway", "e2")


@pytest.mark.parametrize("stack", ["", "1abc", "has_underscore", "sp ace", "x" * 129])
def test_invalid_stack_names_are_rejected(stack: str) -> None:
    with pytest.raises(InvalidInput, match="stack name"):
        ResourceNames(stack, "123456789012", "us-east-1")


@pytest.mark.parametrize("name", ["time_weather", "", "a--b", "-a", "x" * 101 + "y"])
def test_target_names_without_underscores(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_target_name(name)


def test_good_target_name() -> None:
    assert check_target_name("timeweather") == "timeweather"
    assert check_target_name("time-weather2") == "time-weather2"
