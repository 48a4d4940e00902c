"""The gateway configuration, the client secret and the OAuth token, each cached.

- The published `GatewayConfig` (SSM parameter) and the `ClientCredentials` (Secrets Manager)
  come through Powertools parameters providers, which cache for `config_max_age_s`.
- The access token (client_credentials grant) is kept by `agentgw.oauth.TokenCache` until
  shortly before it expires, so a warm function fetches one token per hour, not per request.
- `GatewayBearerAuth` puts the token on every MCP request and, when the gateway answers 401
  (token revoked, keys rotated), fetches a new one and retries that request exactly once.

Nothing here logs or returns a secret or a token.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Generator

import httpx
from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
from botocore.config import Config

from agentgw.config import ClientCredentials, ConfigError, GatewayConfig
from agentgw.oauth import TokenCache


class _Providers:
    """Powertools providers per AWS endpoint (the local stack's moto port can change in tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, tuple[SSMProvider, SecretsProvider]] = {}

    def get(self) -> tuple[SSMProvider, SecretsProvider]:
        key = os.environ.get("AWS_ENDPOINT_URL", "")
        with self._lock:
            providers = self._by_endpoint.get(key)
            if providers is None:
                providers = (SSMProvider(boto_config=AWS_CONFIG), SecretsProvider(boto_config=AWS_CONFIG))
                self._by_endpoint[key] = providers
            return providers

    def clear(self) -> None:
        with self._lock:
            for ssm, secrets in self._by_endpoint.values():
                ssm.clear_cache()
                secrets.clear_cache()


# These reads run under the request's deadline: short timeouts, so a worker the request gave
# up on (agent `service._until`) ends soon too. Both APIs answer in milliseconds normally.
AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"})

_providers = _Providers()
_tokens: dict[tuple[str, str, str], TokenCache] = {}
_tokens_lock = threading.Lock()


def gateway_config(parameter_name: str, max_age_s: int) -> GatewayConfig:
    """The published configuration (cached for `max_age_s`)."""
    if not parameter_name:
        raise ConfigError("AGENTGW_CONFIG_PARAMETER is not set: no published gateway configuration to read")
    ssm, _ = _providers.get()
    value = ssm.get(parameter_name, max_age=max_age_s)
    if not isinstance(value, str):
        raise ConfigError(f"SSM parameter {parameter_name} is not a string")
    return GatewayConfig.from_json(value)


def secret_string(secret_id: str, max_age_s: int) -> str:
    """A Secrets Manager secret's string (cached for `max_age_s`)."""
    _, secrets = _providers.get()
    value = secrets.get(secret_id, max_age=max_age_s)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ConfigError(f"secret {secret_id} has no string value")
    return value


def client_credentials(config: GatewayConfig, max_age_s: int) -> ClientCredentials:
    return ClientCredentials.from_secret_string(secret_string(config.client_secret_arn, max_age_s))


def api_key(secret_id: str, max_age_s: int) -> str:
    """An API key kept in Secrets Manager: the plain string, or JSON `{"api_key": ...}`."""
    text = secret_string(secret_id, max_age_s).strip()
    if text.startswith("{"):
        try:
            key = json.loads(text).get("api_key")
        except (ValueError, AttributeError):
            key = None
        if not isinstance(key, str) or not key:
            raise ConfigError(f"secret {secret_id} is JSON without a string api_key")
        return key
    if not text:
        raise ConfigError(f"secret {secret_id} is empty")
    return text


def token_cache(config: GatewayConfig, max_age_s: int) -> TokenCache:
    """The process-wide token cache for this gateway client (one per token URL, client and scope)."""
    key = (config.token_url, config.client_id, config.scope)
    with _tokens_lock:
        cache = _tokens.get(key)
        if cache is None:
            cache = TokenCache(
                config.token_url,
                lambda: client_credentials(config, max_age_s),
                config.scope or None,
            )
            _tokens[key] = cache
        return cache


def reset_caches() -> None:
    """Forget cached parameters, secrets and tokens (tests; a rotated secret otherwise waits max_age)."""
    _providers.clear()
    with _tokens_lock:
        _tokens.clear()


class GatewayBearerAuth(httpx.Auth):
    """Bearer token on each request; on a 401, one fresh token per invocation and a retry.

    The token is fetched before the MCP client starts (`prime`), so the blocking token request
    normally never runs on the MCP client's event loop; only the rare refresh does. One auth
    object serves one invocation: after its single refresh, a 401 is the answer (a client the
    gateway does not accept must not turn into a token-fetching loop).
    """

    def __init__(self, tokens: TokenCache) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self.refreshes = 0

    def prime(self) -> None:
        self._tokens.get()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self._tokens.get()
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401:
            return
        with self._lock:
            current = self._tokens.get()
            if current == sent:
                if self.refreshes:
                    return  # already refreshed once in this invocation: the 401 stands
                self.refreshes += 1
                current = self._tokens.get(force_refresh=True)
        # Either our refresh or a concurrent request's: retry this request once with it.
        request.headers["Authorization"] = f"Bearer {current}"
        yield request

    def __repr__(self) -> str:  # never print the token
        return "GatewayBearerAuth(token='***')"
