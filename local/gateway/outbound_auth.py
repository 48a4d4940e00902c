"""Outbound credentials for a gateway target's HTTP calls, as AgentCore Gateway applies them.

A target's `credentialProviderConfigurations` (botocore's shape, exactly one entry) becomes an
auth object for the HTTP client that calls the target:

- `API_KEY` (`apiKeyCredentialProvider{providerArn, credentialParameterName, credentialPrefix,
  credentialLocation}`): the provider's key in a header (default `Authorization`, with the
  prefix `Bearer` when neither name nor prefix is given) or a query parameter (default
  `api_key`, no prefix). A prefix is joined to the key with one space unless it ends in
  whitespace already. The key is read from the provider at each request, so an update or an
  external secret's new value takes effect at once.
- `OAUTH` with `grantType` `CLIENT_CREDENTIALS` (`oauthCredentialProvider{providerArn, scopes,
  customParameters}`): a token from the provider's token endpoint (its discovery document is
  fetched once per URL), sent as `Authorization: Bearer <token>`, cached until shortly before
  `expires_in` (an hour when the server gives none) and shared by every auth object for the
  same provider, scopes and parameters. A 401 from the API drops the token, fetches a new one
  and retries the request once.
- `GATEWAY_IAM_ROLE` with `iamCredentialProvider{service, region}` (what AgentCore requires for
  HTTP targets): the request signed with SigV4 for that signing name and region (default: the
  process's), with the process's AWS credentials (`sigv4`).

Use it with either HTTP library the gateway's target kinds use:

    auth = outbound_auth(target["credentialProviderConfigurations"], providers)   # httpx
    async with httpx.AsyncClient(auth=auth) as client: ...

    auth = mcp_outbound_auth(configurations, providers)   # httpx2, the mcp SDK's client
    async with httpx2.AsyncClient(auth=auth) as client:
        async with streamable_http_client(url, http_client=client) as streams: ...

`providers` is anything with the two lookups of `CredentialProviderLookup` (the local stack's
is `agentgw_local.credential_provider_lookup.ProviderLookup`). Token and discovery requests use their
own short-lived httpx client with bounded timeouts, never the caller's. Every failure to obtain
a credential raises `OutboundAuthError`, whose message names the provider and what failed and
never holds a secret: the caller turns it into an `isError` tool result.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import httpx2

from agentgw_local.gateway import oauth2_tokens, sigv4
from agentgw_local.gateway.oauth2_tokens import OAuth2Client, OutboundAuthError

__all__ = [
    "ApiKey",
    "CredentialProviderLookup",
    "OAuth2Client",
    "OutboundAuthError",
    "mcp_outbound_auth",
    "outbound_auth",
]

_SIGNING_NAME = re.compile(r"[a-zA-Z0-9._-]{1,64}")
_REGION = re.compile(r"[a-zA-Z0-9-]{1,32}")
# How long a token or discovery request may take, in all (seconds).
TOKEN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ApiKey:
    """An API key credential provider's key, as the gateway needs it (the value never in repr)."""

    provider_arn: str
    name: str
    value: str = field(repr=False)


class CredentialProviderLookup(Protocol):
    """Where the gateway reads credential providers from. Both raise `OutboundAuthError` for a
    provider that does not exist (or whose secret cannot be read), saying which and why."""

    def api_key(self, provider_arn: str) -> ApiKey: ...

    def oauth2_client(self, provider_arn: str) -> OAuth2Client: ...


def outbound_auth(
    configurations: Sequence[Mapping[str, Any]] | None,
    providers: CredentialProviderLookup,
    *,
    token_timeout_s: float = TOKEN_TIMEOUT_S,
) -> httpx.Auth | None:
    """The `httpx.Auth` that applies a target's outbound credential, or None when the target
    has none. Raises `OutboundAuthError` for a configuration the gateway cannot apply."""
    core = _core(configurations, providers, token_timeout_s)
    return None if core is None else _HttpxAuth(core)


def mcp_outbound_auth(
    configurations: Sequence[Mapping[str, Any]] | None,
    providers: CredentialProviderLookup,
    *,
    token_timeout_s: float = TOKEN_TIMEOUT_S,
) -> httpx2.Auth | None:
    """`outbound_auth` for `httpx2` clients, which the mcp SDK's streamable HTTP client uses."""
    core = _core(configurations, providers, token_timeout_s)
    return None if core is None else _Httpx2Auth(core)


# -- configuration ---------------------------------------------------------------------------


def _core(
    configurations: Sequence[Mapping[str, Any]] | None,
    providers: CredentialProviderLookup,
    timeout_s: float,
) -> _ApiKeyCore | _SigV4Core | _OAuthCore | None:
    if not configurations:
        return None
    if not isinstance(configurations, Sequence) or len(configurations) != 1:
        raise OutboundAuthError("credentialProviderConfigurations must hold exactly one configuration")
    configuration = configurations[0]
    kind = configuration.get("credentialProviderType") if isinstance(configuration, Mapping) else None
    provider = (configuration.get("credentialProvider") or {}) if isinstance(configuration, Mapping) else {}
    if kind == "API_KEY":
        return _ApiKeyCore(_member(provider, "apiKeyCredentialProvider", kind), providers)
    if kind == "OAUTH":
        return _OAuthCore(_member(provider, "oauthCredentialProvider", kind), providers, timeout_s)
    if kind == "GATEWAY_IAM_ROLE":
        return _SigV4Core(provider.get("iamCredentialProvider") if isinstance(provider, Mapping) else None)
    raise OutboundAuthError(f"credentialProviderType {kind!r} is not supported for outbound calls")


def _member(provider: Any, name: str, kind: str) -> Mapping[str, Any]:
    value = provider.get(name) if isinstance(provider, Mapping) else None
    if not isinstance(value, Mapping) or not isinstance(value.get("providerArn"), str):
        raise OutboundAuthError(f"credentialProviderType {kind} needs credentialProvider.{name}.providerArn")
    return value


# -- the two credential kinds, independent of the HTTP library -------------------------------


class _ApiKeyCore:
    def __init__(self, config: Mapping[str, Any], providers: CredentialProviderLookup) -> None:
        self.provider_arn: str = config["providerArn"]
        self.location = config.get("credentialLocation") or "HEADER"
        if self.location not in ("HEADER", "QUERY_PARAMETER"):
            raise OutboundAuthError(f"credentialLocation {self.location!r} is not HEADER or QUERY_PARAMETER")
        name = config.get("credentialParameterName")
        prefix = config.get("credentialPrefix")
        header = self.location == "HEADER"
        self.parameter: str = name or ("Authorization" if header else "api_key")
        if prefix is None and name is None and header:
            prefix = "Bearer"
        self.prefix: str | None = prefix
        self._providers = providers

    def value(self) -> str:
        key = self._providers.api_key(self.provider_arn).value
        if not self.prefix:
            return key
        return f"{self.prefix}{key}" if self.prefix[-1].isspace() else f"{self.prefix} {key}"

    def apply(self, request: Any) -> None:
        if self.location == "HEADER":
            request.headers[self.parameter] = self.value()
        else:
            request.url = request.url.copy_merge_params({self.parameter: self.value()})


class _SigV4Core:
    def __init__(self, config: Any) -> None:
        service = config.get("service") if isinstance(config, Mapping) else None
        region = config.get("region") if isinstance(config, Mapping) else None
        if not isinstance(service, str) or not _SIGNING_NAME.fullmatch(service):
            raise OutboundAuthError(
                "GATEWAY_IAM_ROLE for an HTTP target needs credentialProvider.iamCredentialProvider.service, "
                "the SigV4 signing name ([a-zA-Z0-9._-]{1,64})"
            )
        if region is not None and (not isinstance(region, str) or not _REGION.fullmatch(region)):
            raise OutboundAuthError("iamCredentialProvider.region must match [a-zA-Z0-9-]{1,32}")
        self.service: str = service
        self.region: str = region or sigv4.default_region()

    def apply(self, request: Any) -> None:
        sigv4.sign(request, self.service, self.region)


class _OAuthCore:
    def __init__(
        self, config: Mapping[str, Any], providers: CredentialProviderLookup, timeout_s: float
    ) -> None:
        self.provider_arn: str = config["providerArn"]
        grant = config.get("grantType") or "CLIENT_CREDENTIALS"
        if grant != "CLIENT_CREDENTIALS":
            raise OutboundAuthError(
                f"OAuth grantType {grant} is not emulated; the local gateway uses CLIENT_CREDENTIALS"
            )
        scopes = config.get("scopes") or []
        params = config.get("customParameters") or {}
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise OutboundAuthError("oauthCredentialProvider.scopes must be a list of strings")
        if not isinstance(params, Mapping) or not all(isinstance(v, str) for v in params.values()):
            raise OutboundAuthError("oauthCredentialProvider.customParameters must map strings to strings")
        self.scopes: tuple[str, ...] = tuple(scopes)
        self.params: tuple[tuple[str, str], ...] = tuple(sorted(params.items()))
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._providers = providers

    def _key(self, client: OAuth2Client) -> tuple[Any, ...]:
        return (client.provider_arn, client.version, self.scopes, self.params)

    def cached(self) -> tuple[OAuth2Client, str | None]:
        client = self._providers.oauth2_client(self.provider_arn)
        return client, oauth2_tokens.TOKENS.get(self._key(client))

    def sync_token(self, stale: str | None = None) -> str:
        client, token = self.cached()
        if token is not None and token != stale:
            return token
        with oauth2_tokens.TOKENS.thread_lock(self._key(client)):
            client, token = self.cached()
            if token is not None and token != stale:
                return token
            with httpx.Client(timeout=self.timeout, trust_env=False) as http:
                return oauth2_tokens.fetch_sync(http, client, self.scopes, self.params, self._key(client))

    async def async_token(self, stale: str | None = None) -> str:
        client, token = self.cached()
        if token is not None and token != stale:
            return token
        async with oauth2_tokens.TOKENS.async_lock(self._key(client)):
            client, token = self.cached()
            if token is not None and token != stale:
                return token
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as http:
                return await oauth2_tokens.fetch_async(
                    http, client, self.scopes, self.params, self._key(client)
                )


# -- the auth flows (httpx and httpx2 requests and responses have the same interface) -------


class _Flows:
    """The flows of both auth classes: the credential is obtained (and tokens fetched) with
    I/O of its own, so both the sync and the async flow are written out."""

    requires_request_body = True  # the retry after a 401 resends the body
    _core: _ApiKeyCore | _SigV4Core | _OAuthCore

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        request.read()
        core = self._core
        if not isinstance(core, _OAuthCore):
            core.apply(request)
            yield request
            return
        token = core.sync_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
            request.headers["Authorization"] = f"Bearer {core.sync_token(stale=token)}"
            yield request

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        await request.aread()
        core = self._core
        if not isinstance(core, _OAuthCore):
            core.apply(request)
            yield request
            return
        token = await core.async_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            request.headers["Authorization"] = f"Bearer {await core.async_token(stale=token)}"
            yield request


class _HttpxAuth(_Flows, httpx.Auth):
    def __init__(self, core: _ApiKeyCore | _SigV4Core | _OAuthCore) -> None:
        self._core = core


class _Httpx2Auth(_Flows, httpx2.Auth):
    def __init__(self, core: _ApiKeyCore | _SigV4Core | _OAuthCore) -> None:
        self._core = core
