"""The gateway's CUSTOM_JWT authorizer, as AgentCore applies it.

For each request: a `Bearer` token, signed (RS256) by a key in the JWKS that the
authorizer's `discoveryUrl` names, not expired, issued by the discovery document's
`issuer`; then the configured checks: `client_id` ∈ `allowedClients`, `aud` ∩
`allowedAudience`, a scope in `allowedScopes`, and `customClaims`. Cognito access tokens
carry no `aud`, which is why `allowedClients` exists.

Discovery documents and JWKS are fetched over HTTP once and cached (refetched, at most every
few seconds, when a token names an unknown `kid`); verified signatures are cached per token
until the token expires, so a steady client costs one dict lookup per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

JWKS_REFRESH_MIN_INTERVAL_S = 5.0
DISCOVERY_TTL_S = 300.0
VERIFIED_CACHE_SIZE = 10_000


class AuthError(Exception):
    """The request is not authorized: `status` 401 (bad/missing token) or 403 (insufficient scope)."""

    def __init__(self, message: str, status: int = 401, error: str = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error


@dataclass
class _KeySet:
    issuer: str
    jwks_uri: str
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = 0.0
    # Last failed refetch: while the IdP is down, keep the cached keys and retry only every
    # JWKS_REFRESH_MIN_INTERVAL_S (a hanging IdP must not queue every request behind a lock).
    failed_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwtAuthorizer:
    """Verifies bearer tokens against CUSTOM_JWT authorizer configurations."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._http = http
        self._keysets: dict[str, _KeySet] = {}
        self._discovery_lock = asyncio.Lock()
        # (discovery_url, token) -> claims; bounded, oldest evicted first.
        self._verified: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            # RuntimeError: its connections belonged to an event loop that is gone.
            with contextlib.suppress(RuntimeError):
                await http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0)
        return self._http

    async def authorize(self, authorization: str | None, config: dict[str, Any]) -> dict[str, Any]:
        """Return the token's claims, or raise AuthError saying what is wrong."""
        if not authorization:
            raise AuthError("Missing Bearer token")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization header must be 'Bearer <token>'")
        discovery_url = config.get("discoveryUrl")
        if not discovery_url:
            raise AuthError("gateway authorizer has no discoveryUrl", status=500, error="server_error")
        claims = self._verified.get((discovery_url, token))
        if claims is None:
            claims = await self._verify_signature(discovery_url, token)
            self._verified[(discovery_url, token)] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        if claims["exp"] <= time.time():
            self._verified.pop((discovery_url, token), None)
            raise AuthError("Token has expired")
        _check_claims(claims, config)
        return claims

    async def _verify_signature(self, discovery_url: str, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"Malformed token: {exc}") from exc
        if header.get("alg") != "RS256":
            raise AuthError("Token must be signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("Token header has no kid")
        keyset = await self._keyset(discovery_url)
        key = keyset.keys.get(kid)
        if key is None:
            await self._refresh_keys(keyset)
            key = keyset.keys.get(kid)
        if key is None:
            raise AuthError("Token signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=keyset.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("Token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("Token issuer does not match the authorizer's discovery document") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("Token signature is invalid") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"Invalid token: {exc}") from exc
        except (OverflowError, ValueError, TypeError) as exc:  # e.g. `"exp": Infinity` in PyJWT's int()
            raise AuthError("Invalid token: a time claim is not a usable number") from exc
        _check_claim_types(claims)
        return claims

    async def _keyset(self, discovery_url: str) -> _KeySet:
        keyset = self._keysets.get(discovery_url)
        if keyset is not None and not _stale(keyset):
            return keyset
        async with self._discovery_lock:
            keyset = self._keysets.get(discovery_url)
            if keyset is not None and not _stale(keyset):
                return keyset
            try:
                return await self._fetch_keyset(discovery_url)
            except AuthError as exc:
                if keyset is None:
                    raise
                # The IdP is unreachable: the keys we have still verify the tokens they signed.
                log.warning("keeping cached keys for %s: %s", discovery_url, exc.message)
                keyset.failed_at = time.monotonic()
                return keyset

    async def _fetch_keyset(self, discovery_url: str) -> _KeySet:
        document = await self._get_json(discovery_url, "discovery document")
        issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise AuthError("Discovery document lacks issuer or jwks_uri", status=500, error="server_error")
        fresh = _KeySet(issuer=issuer, jwks_uri=jwks_uri)
        await self._load_keys(fresh)
        self._keysets[discovery_url] = fresh
        return fresh

    async def _refresh_keys(self, keyset: _KeySet) -> None:
        # A new kid may mean the IdP rotated its keys; refetch, but not on every bad token.
        async with keyset.lock:
            if time.monotonic() - max(keyset.fetched_at, keyset.failed_at) < JWKS_REFRESH_MIN_INTERVAL_S:
                return
            try:
                await self._load_keys(keyset)
            except AuthError as exc:
                # Unknown kid + IdP down: the token is still unverifiable (401), not a server error.
                log.warning("could not refresh the JWKS at %s: %s", keyset.jwks_uri, exc.message)
                keyset.failed_at = time.monotonic()

    async def _load_keys(self, keyset: _KeySet) -> None:
        jwks = await self._get_json(keyset.jwks_uri, "JWKS")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks.get("keys") or []:
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str):
                try:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue  # a key we cannot use (other algorithm) verifies nothing
        keyset.keys = keys
        keyset.fetched_at = time.monotonic()

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._client().get(url)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthError(
                f"Could not fetch the {what} at {url}: {exc}", status=500, error="server_error"
            ) from exc
        if not isinstance(data, dict):
            raise AuthError(f"The {what} at {url} is not a JSON object", status=500, error="server_error")
        return data


def _stale(keyset: _KeySet) -> bool:
    now = time.monotonic()
    if now - keyset.fetched_at < DISCOVERY_TTL_S:
        return False
    return now - keyset.failed_at >= JWKS_REFRESH_MIN_INTERVAL_S


# RFC 7519 §4.1: NumericDate claims are JSON numbers, `aud` a string or an array of strings.
# PyJWT accepts a numeric string as `exp` and does not look at `aud` here (verify_aud is off),
# so a signed token could otherwise carry any JSON value into the checks below.
_NUMERIC_CLAIMS = ("exp", "nbf", "iat", "auth_time")
_STRING_CLAIMS = ("iss", "sub", "client_id", "scope", "token_use", "jti")


def _check_claim_types(claims: dict[str, Any]) -> None:
    for name in _NUMERIC_CLAIMS:
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise AuthError(f"Token claim {name} must be a number")
    for name in _STRING_CLAIMS:
        if name in claims and not isinstance(claims[name], str):
            raise AuthError(f"Token claim {name} must be a string")
    aud = claims.get("aud")
    if "aud" in claims and not (
        isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
    ):
        raise AuthError("Token claim aud must be a string or an array of strings")


def _check_claims(claims: dict[str, Any], config: dict[str, Any]) -> None:
    allowed_clients = config.get("allowedClients")
    if allowed_clients and claims.get("client_id") not in allowed_clients:
        raise AuthError("Token client_id is not allowed by this gateway")
    allowed_audience = config.get("allowedAudience")
    if allowed_audience:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])  # types checked on decode
        if not set(audiences) & set(allowed_audience):
            raise AuthError("Token audience is not allowed by this gateway")
    allowed_scopes = config.get("allowedScopes")
    if allowed_scopes:
        scopes = str(claims.get("scope") or "").split()
        if not set(scopes) & set(allowed_scopes):
            raise AuthError(
                "Token lacks a scope this gateway requires", status=403, error="insufficient_scope"
            )
    for rule in config.get("customClaims") or []:
        _check_custom_claim(claims, rule)


def _check_custom_claim(claims: dict[str, Any], rule: dict[str, Any]) -> None:
    name = rule.get("inboundTokenClaimName")
    match = (rule.get("authorizingClaimMatchValue") or {}).get("claimMatchValue") or {}
    operator = (rule.get("authorizingClaimMatchValue") or {}).get("claimMatchOperator", "EQUALS")
    value = claims.get(name) if isinstance(name, str) else None
    expected_one = match.get("matchValueString")
    expected_many = match.get("matchValueStringList") or []
    actual = value if isinstance(value, list) else [value] if value is not None else []
    ok = {
        "EQUALS": value == expected_one,
        "CONTAINS": expected_one in actual,
        "CONTAINS_ANY": bool(set(map(str, actual)) & set(expected_many)),
    }.get(operator, False)
    if not ok:
        raise AuthError(f"Token claim {name} does not satisfy the gateway's custom claim rule")
