"""client_credentials token requests and the token cache, against a token endpoint on loopback."""

from __future__ import annotations

import pytest
from health_gateway_double import CLIENT_ID, CLIENT_SECRET, TOKEN, GatewayDouble

from agentgw.config import ClientCredentials
from agentgw.oauth import TokenCache, TokenError, fetch_token

GOOD = ClientCredentials(CLIENT_ID, CLIENT_SECRET)


def test_fetch_token(gateway: GatewayDouble) -> None:
    token = fetch_token(gateway.token_url, GOOD, "agentgw/invoke")
    assert token.value == TOKEN
    assert token.fresh()
    assert TOKEN not in repr(token)


def test_refused_client_names_the_oauth_error_but_not_the_secret(gateway: GatewayDouble) -> None:
    wrong = ClientCredentials(CLIENT_ID, "revoked-secret-value")
    with pytest.raises(TokenError) as info:
        fetch_token(gateway.token_url, wrong)
    assert info.value.error == "invalid_client"
    assert info.value.status == 400
    assert "invalid_client" in str(info.value)
    assert "revoked-secret-value" not in str(info.value)


def test_unreachable_token_endpoint() -> None:
    with pytest.raises(TokenError, match="unreachable"):
        fetch_token("http://127.0.0.1:1/oauth2/token", GOOD, timeout_s=2)


def test_cache_reuses_the_token_until_forced(gateway: GatewayDouble) -> None:
    reads: list[int] = []

    def credentials() -> ClientCredentials:
        reads.append(1)
        return GOOD

    cache = TokenCache(gateway.token_url, credentials, "agentgw/invoke")
    assert cache.get() == TOKEN
    assert cache.get() == TOKEN
    assert gateway.behaviour.token_requests == 1
    assert cache.get(force_refresh=True) == TOKEN
    assert gateway.behaviour.token_requests == 2
    cache.invalidate()
    cache.get()
    assert gateway.behaviour.token_requests == 3
    assert len(reads) == 3  # the secret is read again for each new token (rotation)


def test_cache_refreshes_a_token_near_expiry(gateway: GatewayDouble) -> None:
    # The double's tokens live 3600 s; a margin larger than that makes every token stale.
    cache = TokenCache(gateway.token_url, lambda: GOOD, refresh_margin_s=4000)
    cache.get()
    cache.get()
    assert gateway.behaviour.token_requests == 2
