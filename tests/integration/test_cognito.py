"""The emulated Cognito token endpoint, discovery document and JWKS, over HTTP on loopback."""

from __future__ import annotations

import httpx
import jwt
import pytest

from agentgw_local.stack import LocalStack
from integration.stackkit import Authz, Kit


@pytest.fixture(scope="module")
def authz(kit: Kit) -> Authz:
    return kit.cognito()


def grant(authz: Authz, **form: str) -> httpx.Response:
    return httpx.post(authz.token_url, data={"grant_type": "client_credentials", **form})


def test_provisioned_client_gets_a_token(local_stack: LocalStack) -> None:
    info = local_stack.info
    assert info is not None
    response = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == info.client_id
    assert claims["scope"] == info.scope


def test_token_claims_are_cognito_shaped_and_verify_against_the_jwks(authz: Authz) -> None:
    response = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials"},
        auth=(authz.client_id, authz.client_secret),
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = response.json()["access_token"]

    discovery = httpx.get(authz.discovery_url).json()
    assert discovery["issuer"] == authz.discovery_url.removesuffix("/.well-known/openid-configuration")
    assert discovery["token_endpoint"] == authz.token_url
    jwks = httpx.get(discovery["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in jwks["keys"] if k["kid"] == kid]
    assert key["alg"] == "RS256" and key["kty"] == "RSA" and key["use"] == "sig"

    claims = jwt.decode(token, jwt.PyJWK(key), algorithms=["RS256"], issuer=discovery["issuer"])
    assert claims["token_use"] == "access"
    assert claims["sub"] == claims["client_id"] == authz.client_id
    assert claims["scope"] == authz.scope  # every allowed scope when none is requested
    assert "aud" not in claims
    assert claims["version"] == 2
    assert claims["exp"] - claims["iat"] == 3600
    assert {"auth_time", "jti"} <= claims.keys()


def test_credentials_in_the_form_work_too(authz: Authz) -> None:
    response = grant(authz, client_id=authz.client_id, client_secret=authz.client_secret, scope=authz.scope)
    assert response.status_code == 200, response.text


# Cognito's documented answer to a failed client authentication: 400 {"error": "invalid_client"}.
# The same for an unknown client and a wrong secret (ASCII or not, Basic or form), so the
# endpoint is no oracle for which client ids exist.
WRONG_SECRETS = ["not-the-secret", "sécret-ñ-東京", "\u00ff" * 64, ""]


@pytest.mark.parametrize("secret", WRONG_SECRETS)
def test_bad_secret_is_invalid_client(authz: Authz, secret: str) -> None:
    basic = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials"},
        auth=(authz.client_id.encode(), secret.encode("utf-8")),
    )
    form = grant(authz, client_id=authz.client_id, client_secret=secret)
    for response in (basic, form):
        assert response.status_code == 400, response.text
        assert response.json() == {"error": "invalid_client"}


@pytest.mark.parametrize("secret", WRONG_SECRETS)
def test_unknown_client_answers_as_a_wrong_secret_does(authz: Authz, secret: str) -> None:
    unknown = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials"},
        auth=(b"no-such-client", secret.encode("utf-8")),
    )
    known = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials"},
        auth=(authz.client_id.encode(), secret.encode("utf-8")),
    )
    assert (
        (unknown.status_code, unknown.content)
        == (known.status_code, known.content)
        == (
            400,
            b'{"error":"invalid_client"}',
        )
    )
    assert unknown.headers.get("www-authenticate") == known.headers.get("www-authenticate")


def test_missing_credentials_is_invalid_client(authz: Authz) -> None:
    response = grant(authz)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


@pytest.mark.parametrize("grant_type", ["authorization_code", "password", "refresh_token"])
def test_other_grants_are_unsupported(authz: Authz, grant_type: str) -> None:
    response = httpx.post(
        authz.token_url, data={"grant_type": grant_type}, auth=(authz.client_id, authz.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_invalid_request(authz: Authz) -> None:
    response = httpx.post(authz.token_url, data={}, auth=(authz.client_id, authz.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_json_body_is_invalid_request(authz: Authz) -> None:
    response = httpx.post(
        authz.token_url,
        json={"grant_type": "client_credentials"},
        auth=(authz.client_id, authz.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("scope", ["kit999/invoke", "openid", "{scope} other/scope"])
def test_scope_outside_the_client_is_invalid_scope(authz: Authz, scope: str) -> None:
    response = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials", "scope": scope.format(scope=authz.scope)},
        auth=(authz.client_id, authz.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_client_without_the_client_credentials_flow_is_unauthorized(kit: Kit, authz: Authz) -> None:
    client = kit.client(authz.pool_id, [authz.scope], flows=["code"])
    response = httpx.post(
        authz.token_url,
        data={"grant_type": "client_credentials"},
        auth=(client["ClientId"], client["ClientSecret"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_unknown_pool_has_no_discovery_document(local_stack: LocalStack) -> None:
    base = local_stack.base_url
    assert (
        httpx.get(f"{base}/cognito-idp/us-east-1_nothere/.well-known/openid-configuration").status_code == 404
    )
    assert httpx.get(f"{base}/cognito-idp/us-east-1_nothere/.well-known/jwks.json").status_code == 404


def test_each_pool_signs_with_its_own_key(kit: Kit, authz: Authz) -> None:
    other = kit.cognito()
    assert jwt.get_unverified_header(other.token())["kid"] != jwt.get_unverified_header(authz.token())["kid"]
