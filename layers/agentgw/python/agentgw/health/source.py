"""Where the health check gets the gateway and the client credentials in AWS.

The published configuration (SSM parameter, JSON `GatewayConfig`) and the client secret
(Secrets Manager) are read fresh on every run: a canary must notice a rotated or revoked
secret, and it runs only every few minutes, so caching would buy nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities import parameters

from agentgw.config import ClientCredentials, ConfigError, GatewayConfig
from agentgw.health.probe import HealthTarget
from agentgw.oauth import fetch_token

CONFIG_PARAMETER_ENV = "AGENTGW_CONFIG_PARAMETER"
STAGE_TIMEOUT_ENV = "AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS"


def config_parameter_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    name = env.get(CONFIG_PARAMETER_ENV, "").strip()
    if not name:
        raise ConfigError(
            f"{CONFIG_PARAMETER_ENV} is not set: it names the SSM parameter with the gateway config"
        )
    return name


def stage_timeout_s(default: float, environ: dict[str, str] | None = None) -> float:
    """Per-stage timeout: `AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS` when set, else `default`."""
    env = os.environ if environ is None else environ
    text = env.get(STAGE_TIMEOUT_ENV, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{STAGE_TIMEOUT_ENV} must be a number of seconds, not {text!r}") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{STAGE_TIMEOUT_ENV} must be between 0 and 300 seconds, not {value:g}")
    return value


def load_config(parameter_name: str, *, ssm_client: Any = None) -> GatewayConfig:
    # A provider per call, not Powertools' module-level default: its boto3 client would keep
    # the endpoint of the first call (the local stack restarts on new ports).
    provider = parameters.SSMProvider(boto3_client=ssm_client)
    try:
        text = provider.get(parameter_name, force_fetch=True)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigError(f"cannot read the gateway configuration {parameter_name}: {exc}") from exc
    return GatewayConfig.from_json(str(text))


def load_credentials(secret_arn: str, *, secrets_client: Any = None) -> ClientCredentials:
    provider = parameters.SecretsProvider(boto3_client=secrets_client)
    try:
        text = provider.get(secret_arn, force_fetch=True)
    except parameters.exceptions.GetParameterError as exc:
        # The message names the secret, never its value.
        reason = type(exc.__cause__ or exc).__name__
        raise ConfigError(f"cannot read the client secret {secret_arn}: {reason}") from exc
    return ClientCredentials.from_secret_string(str(text))


def token_source(config: GatewayConfig, *, secrets_client: Any = None) -> Callable[[], str]:
    """A fresh token each call, with the secret read from Secrets Manager at that moment."""

    def token() -> str:
        credentials = load_credentials(config.client_secret_arn, secrets_client=secrets_client)
        return fetch_token(config.token_url, credentials, config.scope).value

    return token


def published_target(parameter_name: str, *, ssm_client: Any = None) -> tuple[HealthTarget, GatewayConfig]:
    config = load_config(parameter_name, ssm_client=ssm_client)
    return HealthTarget.from_config(config), config
