"""The published gateway configuration: what provisioning writes and every client reads.

Provisioning's PublishConfig step stores `GatewayConfig.to_json()` in the SSM parameter
named by the stack; the OAuth client secret lives only in Secrets Manager, as
`{"client_id": …, "client_secret": …}` in the secret at `client_secret_arn`.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """The published configuration is missing or malformed (says which field)."""


@dataclass(frozen=True)
class GatewayConfig:
    gateway_id: str
    gateway_url: str  # the MCP endpoint, ending in /mcp
    region: str
    token_url: str
    discovery_url: str
    client_id: str
    scope: str
    client_secret_arn: str
    search_type: str = "SEMANTIC"  # "" when the gateway has no semantic search
    version: int = SCHEMA_VERSION
    # The declared targets and their tools' names: what the health check expects listed.
    targets: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GatewayConfig:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"gateway configuration is not JSON: {exc.msg}") from exc
        if not isinstance(data, dict):
            raise ConfigError("gateway configuration must be a JSON object")
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(name for name in required if not data.get(name))
        if missing:
            raise ConfigError(f"gateway configuration lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"ClientCredentials(client_id={self.client_id!r}, client_secret='***')"

    @classmethod
    def from_secret_string(cls, text: str) -> ClientCredentials:
        try:
            data = json.loads(text)
            return cls(client_id=str(data["client_id"]), client_secret=str(data["client_secret"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError("client secret must be JSON with client_id and client_secret") from exc

    def to_secret_string(self) -> str:
        return json.dumps({"client_id": self.client_id, "client_secret": self.client_secret})
