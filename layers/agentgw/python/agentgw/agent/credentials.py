"""The gateway configuration, the client secret, API keys and the OAuth tokens, each cached.

One `GatewayCredentials` serves a process: the Lambda handler and the Runtime app create it
and pass it to the service and the model factory.

- The published `GatewayConfig` (SSM parameter) and the `ClientCredentials` (Secrets Manager)
  come through Powertools parameters providers, which cache for `config_max_age_s`.
- The access token (client_credentials grant) is kept by `agentgw.oauth.TokenCache` until
  shortly before it expires, so a warm function fetches one token per hour, not per request;
  `gateway_auth` puts it on the MCP requests (`agentgw.gateway.auth.BearerAuth`).

Nothing here logs or returns a secret or a token.
"""

from __future__ import annotations

import json
import os
import threading

from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
from botocore.config import Config

from agentgw.config import ClientCredentials, ConfigError, GatewayConfig
from agentgw.gateway.auth import BearerAuth
from agentgw.oauth import TokenCache

# These reads run under the request's deadline, in a worker the request stops waiting for at
# the deadline: short timeouts, so such a worker ends soon too. Both APIs answer in
# milliseconds normally.
AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"})


class GatewayCredentials:
    """Cached reads of the gateway configuration, secrets and tokens. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Providers per AWS endpoint: the process outlives a local stack, whose moto port differs
        # from the next one's (in AWS there is one endpoint).
        self._providers: dict[str, tuple[SSMProvider, SecretsProvider]] = {}
        self._tokens: dict[tuple[str, str, str], TokenCache] = {}

    def _clients(self) -> tuple[SSMProvider, SecretsProvider]:
        key = os.environ.get("AWS_ENDPOINT_URL", "")
        with self._lock:
            providers = self._providers.get(key)
            if providers is None:
                providers = (SSMProvider(boto_config=AWS_CONFIG), SecretsProvider(boto_config=AWS_CONFIG))
                self._providers[key] = providers
            return providers

    def gateway_config(self, parameter_name: str, max_age_s: int) -> GatewayConfig:
        """The published configuration (cached for `max_age_s`)."""
        if not parameter_name:
            raise ConfigError(
                "AGENTGW_CONFIG_PARAMETER is not set: no published gateway configuration to read"
            )
        ssm, _ = self._clients()
        value = ssm.get(parameter_name, max_age=max_age_s)
        if not isinstance(value, str):
            raise ConfigError(f"SSM parameter {parameter_name} is not a string")
        return GatewayConfig.from_json(value)

    def secret_string(self, secret_id: str, max_age_s: int) -> str:
        """A Secrets Manager secret's string (cached for `max_age_s`)."""
        _, secrets = self._clients()
        value = secrets.get(secret_id, max_age=max_age_s)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise ConfigError(f"secret {secret_id} has no string value")
        return value

    def client_credentials(self, config: GatewayConfig, max_age_s: int) -> ClientCredentials:
        return ClientCredentials.from_secret_string(self.secret_string(config.client_secret_arn, max_age_s))

    def api_key(self, secret_id: str, max_age_s: int) -> str:
        """An API key kept in Secrets Manager: the plain string, or JSON `{"api_key": ...}`."""
        return api_key_from_secret(secret_id, self.secret_string(secret_id, max_age_s))

    def token_cache(self, config: GatewayConfig, max_age_s: int) -> TokenCache:
        """The token cache for this gateway client (one per token URL, client and scope)."""
        key = (config.token_url, config.client_id, config.scope)
        with self._lock:
            cache = self._tokens.get(key)
            if cache is None:
                cache = TokenCache(
                    config.token_url,
                    lambda: self.client_credentials(config, max_age_s),
                    config.scope or None,
                )
                self._tokens[key] = cache
            return cache

    def gateway_auth(self, config: GatewayConfig, max_age_s: int) -> BearerAuth:
        """Bearer auth for one invocation, its token fetched already.

        Fetched here, before the MCP client starts, so the blocking token request normally never
        runs on the client's event loop; only the rare refresh after a 401 does. One auth object
        serves one invocation: one refresh at most.
        """
        auth = BearerAuth(self.token_cache(config, max_age_s))
        auth.prime()
        return auth

    def reset(self) -> None:
        """Forget cached parameters, secrets and tokens (a rotated secret otherwise waits max_age)."""
        with self._lock:
            for ssm, secrets in self._providers.values():
                ssm.clear_cache()
                secrets.clear_cache()
            self._tokens.clear()


def api_key_from_secret(secret_id: str, text: str) -> str:
    """The key in a secret string: the plain string, or JSON `{"api_key": ...}`."""
    text = text.strip()
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
