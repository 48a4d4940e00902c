"""What a deployment configures for the agent: environment variables, never secrets.

Secrets (the gateway's OAuth client secret, an OpenAI-compatible endpoint's API key) live in
Secrets Manager; the environment only names them (ARNs). Every variable has a default that
suits the deployed API, except the SSM parameter name, which the template always sets.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields

PROVIDERS = ("bedrock", "openai", "offline")

# API Gateway HTTP APIs cut a request at 30 s; answer before that with what we have.
DEFAULT_DEADLINE_S = 25.0
# Limits of a request (documented in the README's "Agent API" section).
MAX_BODY_BYTES = 32 * 1024
MAX_PROMPT_CHARS = 8000
MAX_SESSION_ID_CHARS = 128


class SettingsError(ValueError):
    """An environment variable has a value the agent cannot use (says which)."""


@dataclass(frozen=True)
class Settings:
    config_parameter: str = ""  # SSM parameter holding the published GatewayConfig JSON
    provider: str = "bedrock"
    model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    openai_base_url: str = ""
    openai_api_key_secret_arn: str = ""  # secret string: the key, or {"api_key": "..."}; none: no key
    session_bucket: str = ""  # S3SessionManager when set
    session_prefix: str = "sessions/"
    session_dir: str = ""  # FileSessionManager when no bucket (the local stack)
    deadline_s: float = DEFAULT_DEADLINE_S
    max_turns: int = 8
    tool_list_ttl_s: float = 300.0
    search_threshold: int = 20  # more tools than this: search-first
    search_top_k: int = 5  # tools given to the model in search-first mode (the gateway returns ≤10)
    config_max_age_s: int = 300  # Powertools parameters cache for the SSM parameter and the secret
    mcp_timeout_s: float = 10.0  # opening the MCP session (connect, initialize); reads: the deadline
    system_prompt: str = (
        "You answer questions using the tools you are given. Call a tool whenever it can answer the "
        "question; answer briefly and state tool results plainly. If no tool fits, say so."
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, extra_providers: Collection[str] = ()
    ) -> Settings:
        """The settings in `environ` (default: the process's); `extra_providers` are valid too."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_NAMES[f.name])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, f.type)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate(extra_providers)
        return settings

    def validate(self, extra_providers: Collection[str] = ()) -> None:
        if self.provider not in PROVIDERS and self.provider not in extra_providers:
            known = ", ".join((*PROVIDERS, *sorted(extra_providers)))
            raise SettingsError(f"{ENV_NAMES['provider']}={self.provider!r} is not one of: {known}")
        if self.provider == "openai" and not self.openai_base_url:
            raise SettingsError(
                f"the openai provider needs {ENV_NAMES['openai_base_url']} (and, for an endpoint "
                f"that takes a key, {ENV_NAMES['openai_api_key_secret_arn']}: the key stays in "
                "Secrets Manager)"
            )
        if not 0 < self.deadline_s < 30:
            raise SettingsError(f"{ENV_NAMES['deadline_s']} must be between 0 and 30 seconds")
        if not 1 <= self.search_top_k <= 10:
            raise SettingsError(f"{ENV_NAMES['search_top_k']} must be 1..10 (the gateway returns ≤10)")
        for name in ("max_turns", "search_threshold"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{ENV_NAMES[name]} must be at least 1")


ENV_NAMES: dict[str, str] = {
    "config_parameter": "AGENTGW_CONFIG_PARAMETER",
    "provider": "AGENTGW_MODEL_PROVIDER",
    "model_id": "AGENTGW_MODEL_ID",
    "openai_base_url": "AGENTGW_OPENAI_BASE_URL",
    "openai_api_key_secret_arn": "AGENTGW_OPENAI_API_KEY_SECRET_ARN",
    "session_bucket": "AGENTGW_SESSION_BUCKET",
    "session_prefix": "AGENTGW_SESSION_PREFIX",
    "session_dir": "AGENTGW_SESSION_DIR",
    "deadline_s": "AGENTGW_DEADLINE_SECONDS",
    "max_turns": "AGENTGW_MAX_TURNS",
    "tool_list_ttl_s": "AGENTGW_TOOL_LIST_TTL_SECONDS",
    "search_threshold": "AGENTGW_SEARCH_THRESHOLD",
    "search_top_k": "AGENTGW_SEARCH_TOP_K",
    "config_max_age_s": "AGENTGW_CONFIG_MAX_AGE_SECONDS",
    "mcp_timeout_s": "AGENTGW_MCP_TIMEOUT_SECONDS",
    "system_prompt": "AGENTGW_SYSTEM_PROMPT",
}


def _convert(name: str, raw: str, type_name: object) -> object:
    kind = str(type_name)
    if kind == "bool":
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{ENV_NAMES[name]}={raw!r} is not true or false")
    try:
        if kind == "float":
            return float(raw)
        if kind == "int":
            return int(raw)
    except ValueError:
        raise SettingsError(f"{ENV_NAMES[name]}={raw!r} is not a {kind}") from None
    return raw.strip()
