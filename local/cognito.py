"""The emulated Cognito endpoints moto does not serve: the token endpoint and OIDC + JWKS.

Users, clients, resource servers and domains live in moto's cognito-idp backend (created
through the ordinary API); this module reads them in-process and serves, at the URLs
`agentgw.endpoints` names:

- `POST {base}/cognito/{domain}/oauth2/token` — the `client_credentials` grant only, with
  the client id and secret checked against the pool (HTTP Basic or form fields; an unknown
  client and a wrong secret get the same 400 `invalid_client`), the
  requested scopes checked against the client's allowed scopes and the pool's resource
  servers, and Cognito's error bodies (`invalid_client`, `unauthorized_client`,
  `unsupported_grant_type`, `invalid_scope`, `invalid_request`).
- `GET {base}/cognito-idp/{pool_id}/.well-known/openid-configuration` and `…/jwks.json`.

Access tokens are RS256 JWTs with a `kid`, carrying the claims Cognito puts in a
client_credentials access token (`sub`, `token_use`, `scope`, `auth_time`, `iss`, `exp`,
`iat`, `version`, `jti`, `client_id`; no `aud`). Each pool gets its own key pair, made on
first use and kept for the life of the process.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from agentgw import endpoints
from agentgw_local.aws import ACCOUNT_ID

TOKEN_TTL_S = 3600  # Cognito's default access token validity for an app client
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "alg": "RS256",
            "e": _b64uint(numbers.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _b64uint(numbers.n),
            "use": "sig",
        }


def _b64uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class OAuthError(Exception):
    """An OAuth error response: `{"error": code}` with an HTTP status (Cognito's shape)."""

    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(description or error)
        self.error = error
        self.status = status
        self.description = description

    def response(self) -> JSONResponse:
        body: dict[str, str] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return JSONResponse(body, status_code=self.status)


def invalid_client() -> OAuthError:
    """Client authentication failed, whatever the reason: Cognito's documented answer is
    400 `{"error": "invalid_client"}` (token endpoint, "Examples of negative responses")."""
    return OAuthError("invalid_client", 400)


# Compared against when the client is unknown, so that case costs what a wrong secret costs.
_UNKNOWN_CLIENT_SECRET = uuid.uuid4().hex * 2


def _same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of UTF-8 bytes (compare_digest refuses non-ASCII str)."""
    given_bytes = (given or "").encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given_bytes, expected.encode("utf-8")) and given is not None


class EmulatedCognito:
    """Serves the token endpoint, discovery and JWKS for pools in moto's cognito-idp backend."""

    def __init__(self, *, region: str, account_id: str = ACCOUNT_ID, token_ttl_s: int = TOKEN_TTL_S) -> None:
        self.region = region
        self.account_id = account_id
        self.token_ttl_s = token_ttl_s
        self._keys: dict[str, SigningKey] = {}
        self._keys_lock = threading.Lock()
        # Server-side counts (benchmarks, tests): `tokens_issued`, `token_errors`.
        self.stats: Counter[str] = Counter()

    # -- moto's backend ------------------------------------------------------------------
    def _backend(self) -> Any:
        from moto.cognitoidp.models import cognitoidp_backends

        return cognitoidp_backends[self.account_id][self.region]

    def _pool(self, pool_id: str) -> Any | None:
        return self._backend().user_pools.get(pool_id)

    def _domain_pool_id(self, domain: str) -> str | None:
        found = self._backend().user_pool_domains.get(domain)
        return found.user_pool_id if found is not None else None

    def _pool_domain(self, pool_id: str) -> str | None:
        for domain in list(self._backend().user_pool_domains.values()):
            if domain.user_pool_id == pool_id:
                return str(domain.domain)
        return None

    # -- keys --------------------------------------------------------------------------------
    def signing_key(self, pool_id: str) -> SigningKey:
        """The pool's RS256 key (made on first use)."""
        with self._keys_lock:
            key = self._keys.get(pool_id)
            if key is None:
                key = SigningKey(
                    kid=uuid.uuid4().hex,
                    private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                )
                self._keys[pool_id] = key
            return key

    def issuer(self, pool_id: str) -> str:
        return endpoints.cognito_issuer(self.region, pool_id)

    def sign(self, pool_id: str, claims: dict[str, Any], *, key: SigningKey | None = None) -> str:
        """Sign `claims` with the pool's key (tests use this to mint expired or odd tokens)."""
        key = key or self.signing_key(pool_id)
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    # -- the grant ---------------------------------------------------------------------------
    def issue_token(
        self, domain: str, client_id: str, client_secret: str | None, scope: str | None
    ) -> dict[str, Any]:
        """Run the client_credentials grant; return the token response or raise OAuthError."""
        pool_id = self._domain_pool_id(domain)
        if pool_id is None:
            raise OAuthError("invalid_request", 400, f"unknown domain {domain}")
        pool = self._pool(pool_id)
        client = pool.clients.get(client_id) if pool is not None else None
        # An unknown client, a public one (no secret: it cannot use client_credentials) and a
        # wrong secret get the same answer after the same work: the endpoint must not tell
        # which client ids exist.
        known = client is not None and bool(client.generate_secret)
        expected = client.secret if known else _UNKNOWN_CLIENT_SECRET
        if not _same_secret(client_secret, expected) or not known:
            raise invalid_client()
        config = client.extended_config
        if not config.get("AllowedOAuthFlowsUserPoolClient") or "client_credentials" not in (
            config.get("AllowedOAuthFlows") or []
        ):
            raise OAuthError("unauthorized_client", 400)
        allowed = [s for s in (config.get("AllowedOAuthScopes") or []) if s in self._pool_scopes(pool)]
        if scope is None or not scope.strip():
            granted = allowed  # Cognito grants every allowed custom scope when none is asked for
        else:
            granted = scope.split()
            if any(s not in allowed for s in granted):
                raise OAuthError("invalid_scope", 400)
        if not granted:
            raise OAuthError("invalid_scope", 400)
        now = int(time.time())
        claims = {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(granted),
            "auth_time": now,
            "iss": self.issuer(pool_id),
            "exp": now + self.token_ttl_s,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        return {
            "access_token": self.sign(pool_id, claims),
            "expires_in": self.token_ttl_s,
            "token_type": "Bearer",
        }

    @staticmethod
    def _pool_scopes(pool: Any) -> set[str]:
        scopes: set[str] = set()
        for server in list(pool.resource_servers.values()):
            for item in server.scopes or []:
                scopes.add(f"{server.identifier}/{item['ScopeName']}")
        return scopes

    # -- HTTP --------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/cognito/{domain}/oauth2/token", self._token, methods=["POST"]),
            Route(
                "/cognito-idp/{pool_id}/.well-known/openid-configuration",
                self._discovery,
                methods=["GET"],
            ),
            Route("/cognito-idp/{pool_id}/.well-known/jwks.json", self._jwks, methods=["GET"]),
        ]

    async def _token(self, request: Request) -> Response:
        try:
            body = await _read_limited(request, MAX_FORM_BYTES)
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/x-www-form-urlencoded":
                raise OAuthError(
                    "invalid_request", 400, "Content-Type must be application/x-www-form-urlencoded"
                )
            form = _parse_form(body)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("invalid_request", 400, "grant_type is required")
            if grant_type != "client_credentials":
                raise OAuthError("unsupported_grant_type", 400)
            client_id, client_secret = _client_credentials(request.headers.get("authorization"), form)
            result = self.issue_token(
                request.path_params["domain"], client_id, client_secret, form.get("scope")
            )
        except OAuthError as exc:
            self.stats["token_errors"] += 1
            return exc.response()
        self.stats["tokens_issued"] += 1
        return JSONResponse(result, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def _discovery(self, request: Request) -> Response:
        pool_id = request.path_params["pool_id"]
        if self._pool(pool_id) is None:
            return JSONResponse({"message": f"User pool {pool_id} does not exist."}, status_code=404)
        issuer = self.issuer(pool_id)
        document: dict[str, Any] = {
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "response_types_supported": ["code", "token"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
        domain = self._pool_domain(pool_id)
        if domain is not None:
            base = endpoints.cognito_domain_url(self.region, domain)
            document |= {
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "token_endpoint": f"{base}/oauth2/token",
                "revocation_endpoint": f"{base}/oauth2/revoke",
                "userinfo_endpoint": f"{base}/oauth2/userInfo",
                "end_session_endpoint": f"{base}/logout",
                "grant_types_supported": ["client_credentials"],
            }
        return JSONResponse(document)

    async def _jwks(self, request: Request) -> Response:
        pool_id = request.path_params["pool_id"]
        if self._pool(pool_id) is None:
            return JSONResponse({"message": f"User pool {pool_id} does not exist."}, status_code=404)
        return JSONResponse({"keys": [self.signing_key(pool_id).public_jwk()]})


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OAuthError("invalid_request", 400, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise OAuthError("invalid_request", 400, "body is not UTF-8") from exc
    form: dict[str, str] = {}
    for key, values in parsed.items():
        if len(values) != 1:
            raise OAuthError("invalid_request", 400, f"{key} given more than once")
        form[key] = values[0]
    return form


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str | None]:
    """The client id and secret from HTTP Basic (preferred) or the form (client_secret_post)."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise invalid_client()
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise invalid_client() from exc
        client_id, sep, client_secret = decoded.partition(":")
        if not sep:
            raise invalid_client()
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        client_id, client_secret = (
            unquote(client_id.replace("+", " ")),
            unquote(client_secret.replace("+", " ")),
        )
        if form.get("client_id") not in (None, client_id):
            raise OAuthError("invalid_request", 400, "client_id in body and header differ")
        return client_id, client_secret
    client_id = form.get("client_id")
    if not client_id:
        raise invalid_client()
    return client_id, form.get("client_secret")
