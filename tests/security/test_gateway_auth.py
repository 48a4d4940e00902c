"""Authentication at the local gateway over real HTTP: every request without a valid token
is refused (401, or 403 for a missing scope) and never reaches a tool — each case calls a
probe tool that counts its invocations, and a valid token proves the probe does count.

The JWKS tests use a loopback identity provider the test controls: keys are cached, an
outage keeps cached keys working (an unknown kid is then 401, not 5xx), rotation is picked up.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from integration.stackkit import ACCEPT, Authz, Kit

from agentgw_local.cognito import SigningKey
from agentgw_local.gateway import auth as gateway_auth
from agentgw_local.stack import LocalStack
from security.idp import LoopbackIdp, new_key
from security.support import Guarded, guarded_gateway


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def send(g: Guarded, authorization: str | None) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Accept": ACCEPT, "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization.encode("latin-1")  # httpx would insist on ASCII
    return httpx.post(g.url, json=g.call_body(), headers=headers, timeout=30)


def assert_refused(response: httpx.Response, status: int = 401) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == -32001
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge
    return str(body["error"]["message"])


@pytest.fixture(scope="module")
def authz(kit: Kit) -> Authz:
    return kit.cognito()


@pytest.fixture(scope="module")
def guarded(kit: Kit, authz: Authz) -> Guarded:
    return guarded_gateway(kit, authz, "sec-probe-auth")


@pytest.fixture(scope="module")
def claims(authz: Authz) -> dict[str, Any]:
    """The claims of a real token from the pool (a template for forged ones)."""
    return dict(jwt.decode(authz.token(), options={"verify_signature": False}))


# Each case: (id, build the Authorization header value from (stack, authz, claims)).
Maker = Callable[[LocalStack, Authz, dict[str, Any]], str | None]


def _signed(stack: LocalStack, authz: Authz, claims: dict[str, Any], **changes: Any) -> str:
    assert stack.cognito is not None
    body = {k: v for k, v in {**claims, **changes}.items() if v is not None}
    return "Bearer " + stack.cognito.sign(authz.pool_id, body)


def _pool_key(stack: LocalStack, authz: Authz) -> SigningKey:
    assert stack.cognito is not None
    return stack.cognito.signing_key(authz.pool_id)


def _alg_none(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": _pool_key(stack, authz).kid}
    return f"Bearer {b64(header)}.{b64(claims)}."


def _hs256_with_public_key(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    # The classic key-confusion attack: HMAC keyed with the (public) RSA key's PEM.
    key = _pool_key(stack, authz)
    pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{b64(header)}.{b64(claims)}".encode()
    import hashlib
    import hmac

    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    return f"Bearer {signing_input.decode()}.{b64(signature)}"


def _other_alg_same_key(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    key = _pool_key(stack, authz)
    return "Bearer " + jwt.encode(claims, key.private_key, algorithm="RS512", headers={"kid": key.kid})


def _wrong_key_same_kid(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = _pool_key(stack, authz).kid
    return "Bearer " + jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid})


def _unknown_kid(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    key = new_key()
    return "Bearer " + jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def _no_kid(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    return "Bearer " + jwt.encode(claims, _pool_key(stack, authz).private_key, algorithm="RS256")


def _tampered(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    header, _, signature = authz.token().split(".")
    return f"Bearer {header}.{b64({**claims, 'scope': 'admin/everything'})}.{signature}"


def _truncated(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    return "Bearer " + authz.token()[:-12]


def _header_not_object(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    return f"Bearer {b64(b'[1,2]')}.{b64(claims)}.c2ln"


def _garbage_unicode(stack: LocalStack, authz: Authz, claims: dict[str, Any]) -> str:
    # HTTP headers are latin-1 on the wire; this is what a confused client sends.
    return "Bearer ÿþ.é.ñ"


now = int(time.time())
CASES: list[tuple[str, Maker]] = [
    ("no-header", lambda s, a, c: None),
    ("empty-bearer", lambda s, a, c: "Bearer"),
    ("basic-scheme", lambda s, a, c: "Basic " + base64.b64encode(b"id:secret").decode()),
    ("token-without-scheme", lambda s, a, c: a.token()),
    ("alg-none", _alg_none),
    ("hs256-signed-with-public-key", _hs256_with_public_key),
    ("rs512-not-allowed", _other_alg_same_key),
    ("wrong-key-same-kid", _wrong_key_same_kid),
    ("unknown-kid", _unknown_kid),
    ("no-kid", _no_kid),
    ("expired", lambda s, a, c: _signed(s, a, c, exp=int(time.time()) - 5)),
    ("no-exp", lambda s, a, c: _signed(s, a, c, exp=None)),
    ("not-yet-valid-nbf", lambda s, a, c: _signed(s, a, c, nbf=int(time.time()) + 600)),
    ("issued-in-the-future", lambda s, a, c: _signed(s, a, c, iat=int(time.time()) + 600)),
    ("wrong-issuer", lambda s, a, c: _signed(s, a, c, iss="https://evil.example.com/us-east-1_X")),
    ("no-issuer", lambda s, a, c: _signed(s, a, c, iss=None)),
    ("client-not-allowed", lambda s, a, c: _signed(s, a, c, client_id="someone-else")),
    ("no-client-id", lambda s, a, c: _signed(s, a, c, client_id=None)),
    ("tampered-payload", _tampered),
    ("truncated", _truncated),
    ("two-segments", lambda s, a, c: "Bearer " + ".".join(a.token().split(".")[:2])),
    ("four-segments", lambda s, a, c: "Bearer " + a.token() + ".AAAA"),
    ("not-base64", lambda s, a, c: "Bearer !!!.@@@.###"),
    ("header-not-an-object", _header_not_object),
    ("latin1-garbage", _garbage_unicode),
    ("oversized-8k-token", lambda s, a, c: "Bearer " + "A" * 8000 + "." + "B" * 100 + ".C"),
]


@pytest.mark.parametrize(("case", "make"), CASES, ids=[c[0] for c in CASES])
def test_invalid_tokens_are_401_and_reach_no_tool(
    local_stack: LocalStack, guarded: Guarded, claims: dict[str, Any], case: str, make: Maker
) -> None:
    before = guarded.probe.count()
    header = make(local_stack, guarded.authz, claims)
    assert_refused(send(guarded, header))
    assert guarded.probe.count() == before


def test_header_beyond_the_server_limit_is_refused_before_the_gateway(guarded: Guarded) -> None:
    # Past the server's 16 KiB head limit the request is refused before any app code runs
    # (431, agentgw_local.http_limits); nothing reaches a tool.
    before = guarded.probe.count()
    response = send(guarded, "Bearer " + guarded.authz.token() + "x" * 64_000)
    assert response.status_code == 431
    assert guarded.probe.count() == before
    assert send(guarded, "Bearer " + guarded.authz.token()).status_code == 200  # still serving


def test_a_valid_token_reaches_the_tool(guarded: Guarded) -> None:
    """The control: the probe does count, so the zero counts above mean something."""
    before = guarded.probe.count()
    response = send(guarded, "Bearer " + guarded.authz.token())
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is False and json.loads(result["content"][0]["text"]) == {"echo": {"text": "hi"}}
    assert guarded.probe.count() == before + 1


def test_a_verified_token_stops_working_when_it_expires(local_stack: LocalStack, guarded: Guarded) -> None:
    # Verified signatures are cached per token; the cache must not outlive `exp`.
    claims = dict(jwt.decode(guarded.authz.token(), options={"verify_signature": False}))
    expires = int(time.time()) + 4  # room for a slow machine to make the first call in time
    soon = _signed(local_stack, guarded.authz, claims, exp=expires)
    assert send(guarded, soon).status_code == 200
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    before = guarded.probe.count()
    assert "expired" in assert_refused(send(guarded, soon))
    assert guarded.probe.count() == before


def test_audience_when_configured(kit: Kit, authz: Authz, local_stack: LocalStack) -> None:
    g = guarded_gateway(kit, authz, "sec-probe-aud", allowedAudience=["my-api"])
    base = dict(jwt.decode(authz.token(), options={"verify_signature": False}))
    for aud in (None, "other-api", ["x", "y"]):
        assert "audience" in assert_refused(send(g, _signed(local_stack, authz, base, aud=aud)))
    assert g.probe.count() == 0
    assert send(g, _signed(local_stack, authz, base, aud=["x", "my-api"])).status_code == 200
    assert g.probe.count() == 1


# Signed by the pool's own key, so only the claims' types are wrong (RFC 7519: NumericDate
# claims are numbers, `aud` a string or an array of strings).
WRONG_TYPES: list[tuple[str, dict[str, Any]]] = [
    ("exp-numeric-string", {"exp": "NOW+3600"}),
    ("exp-bool", {"exp": True}),
    ("exp-object", {"exp": {"n": 1}}),
    ("exp-infinity", {"exp": float("inf")}),
    ("iat-string", {"iat": "0"}),
    ("nbf-list", {"nbf": [0]}),
    ("aud-number", {"aud": 7}),
    ("aud-nested-list", {"aud": [["my-api"]]}),
    ("aud-object-with-the-right-key", {"aud": {"my-api": 1}}),
    ("aud-list-with-a-number", {"aud": ["my-api", 3]}),
    ("client-id-list", {"client_id": ["CLIENT"]}),
    ("scope-list", {"scope": ["SCOPE"]}),
]


@pytest.mark.parametrize(("case", "changes"), WRONG_TYPES, ids=[c for c, _ in WRONG_TYPES])
def test_claims_of_the_wrong_type_are_401_and_never_cached(
    kit: Kit, authz: Authz, local_stack: LocalStack, case: str, changes: dict[str, Any]
) -> None:
    g = _audience_gateway(kit, authz)
    base = dict(jwt.decode(authz.token(), options={"verify_signature": False}))
    base["aud"] = "my-api"
    placeholders = {"NOW+3600": str(int(time.time()) + 3600), "CLIENT": authz.client_id, "SCOPE": authz.scope}
    changed = {k: _fill(v, placeholders) for k, v in changes.items()}
    token = _signed(local_stack, authz, base, **changed)
    assert local_stack.gateway is not None
    for _ in range(2):  # the second time would hit a cached verification, if one were kept
        assert_refused(send(g, token))
    assert all(key[1] != token.removeprefix("Bearer ") for key in local_stack.gateway.authorizer._verified)
    assert g.probe.count() == 0
    assert send(g, _signed(local_stack, authz, base)).status_code == 200  # the control: right types pass
    assert g.probe.count() == 1


_AUDIENCE_GATEWAYS: dict[str, Guarded] = {}


def _audience_gateway(kit: Kit, authz: Authz) -> Guarded:
    if "g" not in _AUDIENCE_GATEWAYS:
        _AUDIENCE_GATEWAYS["g"] = guarded_gateway(kit, authz, "sec-probe-types", allowedAudience=["my-api"])
    g = _AUDIENCE_GATEWAYS["g"]
    g.probe.calls.clear()
    return g


def _fill(value: Any, placeholders: dict[str, str]) -> Any:
    if isinstance(value, str):
        return placeholders.get(value, value)
    if isinstance(value, list):
        return [_fill(v, placeholders) for v in value]
    return value


def test_scope_when_configured_is_403_insufficient_scope(kit: Kit, authz: Authz) -> None:
    # RFC 6750 §3.1: a valid token without the required scope is 403 insufficient_scope.
    g = guarded_gateway(kit, authz, "sec-probe-scope", allowedScopes=["other/scope"])
    response = send(g, "Bearer " + authz.token())
    assert_refused(response, status=403)
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert g.probe.count() == 0
    ok = guarded_gateway(kit, authz, "sec-probe-scope-ok", allowedScopes=[authz.scope])
    assert send(ok, "Bearer " + authz.token()).status_code == 200
    assert ok.probe.count() == 1


def test_custom_claim_rule_when_configured(kit: Kit, authz: Authz, local_stack: LocalStack) -> None:
    rule = {
        "inboundTokenClaimName": "department",
        "inboundTokenClaimValueType": "STRING",
        "authorizingClaimMatchValue": {
            "claimMatchValue": {"matchValueString": "ops"},
            "claimMatchOperator": "EQUALS",
        },
    }
    g = guarded_gateway(kit, authz, "sec-probe-claims", customClaims=[rule])
    base = dict(jwt.decode(authz.token(), options={"verify_signature": False}))
    for value in (None, "sales", ["ops"]):
        assert_refused(send(g, _signed(local_stack, authz, base, department=value)))
    assert g.probe.count() == 0
    assert send(g, _signed(local_stack, authz, base, department="ops")).status_code == 200


# -- JWKS: cache, outage, rotation ---------------------------------------------------------------
@pytest.fixture
def idp_gateway(kit: Kit, authz: Authz, idp: LoopbackIdp) -> Guarded:
    import uuid

    return guarded_gateway(
        kit,
        authz,
        f"sec-probe-idp-{uuid.uuid4().hex[:6]}",
        discoveryUrl=idp.discovery_url,
        allowedClients=["client-1"],
    )


def test_keys_are_fetched_once_and_cached(idp: LoopbackIdp, idp_gateway: Guarded) -> None:
    for i in range(20):
        assert send(idp_gateway, "Bearer " + idp.token(jti=str(i))).status_code == 200
    assert idp.fetches() == {"discovery": 1, "jwks": 1}
    assert idp_gateway.probe.count() == 20


def test_unknown_kids_do_not_hammer_the_key_endpoint(
    idp: LoopbackIdp, idp_gateway: Guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert send(idp_gateway, "Bearer " + idp.token()).status_code == 200
    monkeypatch.setattr(gateway_auth, "JWKS_REFRESH_MIN_INTERVAL_S", 3600.0)
    for _ in range(25):
        assert_refused(send(idp_gateway, "Bearer " + idp.token(key=new_key())))
    assert idp.fetches()["jwks"] == 1  # no refetch per bad kid within the refresh interval


def test_key_endpoint_down_cached_keys_work_and_unknown_kid_is_401(
    idp: LoopbackIdp, idp_gateway: Guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert send(idp_gateway, "Bearer " + idp.token()).status_code == 200
    # Every unknown kid may now trigger a refetch, and the discovery document has expired:
    # the outage is hit on every path that would refetch.
    monkeypatch.setattr(gateway_auth, "JWKS_REFRESH_MIN_INTERVAL_S", 0.0)
    monkeypatch.setattr(gateway_auth, "DISCOVERY_TTL_S", 0.0)
    idp.down = True
    before = idp.fetches()
    assert send(idp_gateway, "Bearer " + idp.token(jti="new-token")).status_code == 200
    assert "unknown key" in assert_refused(send(idp_gateway, "Bearer " + idp.token(key=new_key())))
    assert sum(idp.fetches().values()) > sum(before.values())  # it did try the endpoint
    idp.stop()  # connection refused, not just 503
    assert send(idp_gateway, "Bearer " + idp.token(jti="newer-token")).status_code == 200
    assert_refused(send(idp_gateway, "Bearer " + idp.token(key=new_key())))
    assert idp_gateway.probe.count() == 3


def test_key_rotation_is_picked_up(
    idp: LoopbackIdp, idp_gateway: Guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert send(idp_gateway, "Bearer " + idp.token()).status_code == 200
    monkeypatch.setattr(gateway_auth, "JWKS_REFRESH_MIN_INTERVAL_S", 0.0)
    rotated = idp.rotate()
    assert send(idp_gateway, "Bearer " + idp.token(key=rotated)).status_code == 200
    assert idp.fetches()["jwks"] == 2
    # Old key retired at the IdP: once the keys are refetched, tokens it signs are refused.
    retired = idp.keys[0]
    idp.keys = [rotated]
    monkeypatch.setattr(gateway_auth, "DISCOVERY_TTL_S", 0.0)
    assert_refused(send(idp_gateway, "Bearer " + idp.token(key=retired, jti="after-retirement")))
    assert send(idp_gateway, "Bearer " + idp.token(key=rotated, jti="still-good")).status_code == 200
    assert idp_gateway.probe.count() == 3
