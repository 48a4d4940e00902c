"""OAuth 2.0 client-credentials tokens for outbound calls (RFC 6749 §4.4), cached per provider.

`outbound_auth` uses this: an `OAuth2Client` (what a credential provider holds) is turned into
a token request to its token endpoint, found from `authorizationServerMetadata` or from the
discovery document (RFC 8414 / OpenID Connect Discovery, fetched once per URL). The client
authenticates as the provider says (`clientAuthenticationMethod`) or, failing that, as the
server's metadata allows, `client_secret_basic` first (the RFC's default). Tokens are cached
process-wide until shortly before `expires_in`, so every target using the same provider, scopes
and parameters shares one token, as AgentCore's token vault does.

No message built here holds the client secret or a token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx

# A token without `expires_in` is used this long (seconds), or until the API answers 401.
DEFAULT_LIFETIME_S = 3600.0
# Refresh this long before expiry: a tenth of the lifetime, at most a minute.
MAX_REFRESH_MARGIN_S = 60.0
_EXCERPT = 200


class OutboundAuthError(Exception):
    """The gateway could not obtain or apply a target's outbound credential. The message names
    the provider and what failed, and holds no secret: it is meant for the tool result."""


@dataclass(frozen=True)
class OAuth2Client:
    """An OAuth2 credential provider's client, as the gateway needs it (the secret never in repr).

    `discovery_url` or `token_endpoint` is set (`authorizationServerMetadata` gives the latter,
    with `token_endpoint_auth_methods`). `version` changes whenever the provider is updated, so
    a token obtained with the previous client is not reused."""

    provider_arn: str
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    discovery_url: str | None = None
    token_endpoint: str | None = None
    token_endpoint_auth_methods: tuple[str, ...] = ()
    client_authentication_method: str | None = None
    version: str = ""


class TokenCache:
    """Access tokens by (provider, version, scopes, parameters), with per-key fetch locks so
    concurrent calls wait for one token request instead of each sending their own."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[Any, ...], tuple[str, float]] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[tuple[Any, ...], threading.Lock] = {}
        # asyncio locks belong to one event loop: one per loop and key.
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, key: tuple[Any, ...]) -> str | None:
        entry = self._tokens.get(key)
        if entry is None or time.monotonic() >= entry[1]:
            return None
        return entry[0]

    def put(self, key: tuple[Any, ...], token: str, expires_in: float) -> None:
        margin = min(MAX_REFRESH_MARGIN_S, expires_in / 10)
        self._tokens[key] = (token, time.monotonic() + expires_in - margin)

    def clear(self) -> None:
        self._tokens.clear()

    @contextlib.contextmanager
    def thread_lock(self, key: tuple[Any, ...]) -> Iterator[None]:
        with self._guard:
            lock = self._thread_locks.setdefault(key, threading.Lock())
        with lock:
            yield

    @contextlib.asynccontextmanager
    async def async_lock(self, key: tuple[Any, ...]) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._async_locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())
        async with lock:
            yield


TOKENS = TokenCache()
# Discovery URL → (token endpoint, token_endpoint_auth_methods_supported).
_DISCOVERED: dict[str, tuple[str, tuple[str, ...]]] = {}


def forget_all() -> None:
    """Drop every cached token and discovery document (the local stack's reset)."""
    TOKENS.clear()
    _DISCOVERED.clear()


def fetch_sync(
    http: httpx.Client,
    client: OAuth2Client,
    scopes: tuple[str, ...],
    params: tuple[tuple[str, str], ...],
    key: tuple[Any, ...],
) -> str:
    """Fetch a token (and the discovery document when not known yet), cache it, return it."""
    endpoint, methods = client.token_endpoint, client.token_endpoint_auth_methods
    if endpoint is None:
        url = _discovery(client)
        found = _DISCOVERED.get(url)
        if found is None:
            found = _discovered(client, url, _send(client, "discovery URL", lambda: http.get(url)))
        endpoint, methods = found
    request = _token_request(client, endpoint, methods, scopes, params)
    response = _send(client, "token endpoint", lambda: http.post(endpoint, **request))
    return _cache_token(client, endpoint, response, key)


async def fetch_async(
    http: httpx.AsyncClient,
    client: OAuth2Client,
    scopes: tuple[str, ...],
    params: tuple[tuple[str, str], ...],
    key: tuple[Any, ...],
) -> str:
    """`fetch_sync` for async clients."""
    endpoint, methods = client.token_endpoint, client.token_endpoint_auth_methods
    if endpoint is None:
        url = _discovery(client)
        found = _DISCOVERED.get(url)
        if found is None:
            found = _discovered(client, url, await _asend(client, "discovery URL", http.get(url)))
        endpoint, methods = found
    request = _token_request(client, endpoint, methods, scopes, params)
    response = await _asend(client, "token endpoint", http.post(endpoint, **request))
    return _cache_token(client, endpoint, response, key)


# -- requests and replies --------------------------------------------------------------------


def _fail(client: OAuth2Client, message: str) -> OutboundAuthError:
    text = f"credential provider {client.name!r} ({client.provider_arn}): {message}"
    if client.client_secret:
        text = text.replace(client.client_secret, "***")
    return OutboundAuthError(text)


def _discovery(client: OAuth2Client) -> str:
    if not client.discovery_url:
        raise _fail(client, "has neither a discovery URL nor a token endpoint")
    return client.discovery_url


def _send(client: OAuth2Client, what: str, call: Any) -> httpx.Response:
    try:
        return call()
    except httpx.HTTPError as exc:
        raise _transport_error(client, what, exc) from None


async def _asend(client: OAuth2Client, what: str, call: Any) -> httpx.Response:
    try:
        return await call
    except httpx.HTTPError as exc:
        raise _transport_error(client, what, exc) from None


def _transport_error(client: OAuth2Client, what: str, exc: httpx.HTTPError) -> OutboundAuthError:
    url = exc.request.url.copy_with(query=None) if _has_request(exc) else "(unknown)"
    if isinstance(exc, httpx.TimeoutException):
        return _fail(client, f"the {what} {url} did not answer in time ({type(exc).__name__})")
    return _fail(client, f"could not reach the {what} {url}: {type(exc).__name__}: {exc}")


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error has no request
    except RuntimeError:
        return False
    return True


def _discovered(client: OAuth2Client, url: str, response: httpx.Response) -> tuple[str, tuple[str, ...]]:
    document = _json_object(client, "discovery URL", url, response)
    endpoint = document.get("token_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise _fail(client, f"the discovery document at {url} has no token_endpoint")
    methods = document.get("token_endpoint_auth_methods_supported") or ()
    result = endpoint, tuple(m for m in methods if isinstance(m, str))
    _DISCOVERED[url] = result
    return result


def _token_request(
    client: OAuth2Client,
    endpoint: str,
    methods: tuple[str, ...],
    scopes: tuple[str, ...],
    params: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    form = {"grant_type": "client_credentials", **dict(params)}
    if scopes:
        form["scope"] = " ".join(scopes)
    headers = {"Accept": "application/json"}
    if _auth_method(client, methods) == "client_secret_post":
        form["client_id"] = client.client_id
        form["client_secret"] = client.client_secret
    else:
        # RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return {"data": form, "headers": headers}


def _auth_method(client: OAuth2Client, methods: tuple[str, ...]) -> str:
    chosen = client.client_authentication_method
    if chosen in ("CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"):
        return chosen.lower()
    if chosen:
        raise _fail(client, f"clientAuthenticationMethod {chosen} is not emulated by the local gateway")
    if not methods or "client_secret_basic" in methods:
        return "client_secret_basic"
    if "client_secret_post" in methods:
        return "client_secret_post"
    raise _fail(
        client, f"the token endpoint supports none of client_secret_basic, client_secret_post ({methods})"
    )


def _cache_token(client: OAuth2Client, endpoint: str, response: httpx.Response, key: tuple[Any, ...]) -> str:
    reply = _json_object(client, "token endpoint", endpoint, response)
    token = reply.get("access_token")
    if not isinstance(token, str) or not token:
        raise _fail(client, f"the token endpoint {endpoint} answered without an access_token")
    token_type = reply.get("token_type")
    if isinstance(token_type, str) and token_type.lower() != "bearer":
        raise _fail(
            client, f"the token endpoint {endpoint} issued a {token_type!r} token, not a bearer token"
        )
    expires_in = reply.get("expires_in", DEFAULT_LIFETIME_S)
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        raise _fail(client, f"the token endpoint {endpoint} answered expires_in={expires_in!r}") from None
    TOKENS.put(key, token, max(lifetime, 0.0))
    return token


def _json_object(client: OAuth2Client, what: str, url: str, response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        detail = ""
        if isinstance(body, Mapping):
            parts = [str(body.get(k)) for k in ("error", "error_description") if body.get(k)]
            detail = ": " + " - ".join(parts)[:_EXCERPT] if parts else ""
        raise _fail(client, f"the {what} {url} answered HTTP {response.status_code}{detail}")
    if not isinstance(body, Mapping):
        raise _fail(client, f"the {what} {url} answered with something other than a JSON object")
    return body
