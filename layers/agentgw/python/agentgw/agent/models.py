"""Model providers, chosen by configuration (`AGENTGW_MODEL_PROVIDER`).

- `bedrock`: Strands' BedrockModel with the model id from the template parameter.
- `openai`: any OpenAI-compatible endpoint (OpenAI, a local Ollama or vLLM): base URL from
  the environment, API key from Secrets Manager (never an environment variable).
- `offline`: no language model (`agentgw.agent.offline`).

`ModelFactory` builds the model for a request. It is created by whoever composes the service
(the Lambda handler, the Runtime app) with the credentials the providers read their keys
through; more providers, each a function `(Settings, ToolSelection) -> (Model, display name)`,
are passed to it by name (tests pass a scripted model; anyone may pass another Strands provider
without touching the service).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping

from strands.models.model import Model

from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.offline import MODEL_NAME as OFFLINE_MODEL_NAME
from agentgw.agent.offline import OfflineModel
from agentgw.agent.settings import Settings
from agentgw.agent.tool_selection import ToolSelection

ProviderFactory = Callable[[Settings, ToolSelection], tuple[Model, str]]

# Where each provider's model class lives. Imported at the first request that needs it, so a
# function configured for one provider never pays for another's (the OpenAI client alone is
# ~800 modules); `preload` imports it earlier, before a SnapStart snapshot.
PROVIDER_MODULES = {
    "bedrock": "strands.models.bedrock",
    "openai": "strands.models.openai",
    "offline": "agentgw.agent.offline",
}


class ModelFactory:
    """The model for each request, by the configured provider."""

    def __init__(
        self, credentials: GatewayCredentials, extra: Mapping[str, ProviderFactory] | None = None
    ) -> None:
        self._credentials = credentials
        self._extra = dict(extra or {})

    @property
    def extra_providers(self) -> tuple[str, ...]:
        """Providers beyond the built-in ones (valid `AGENTGW_MODEL_PROVIDER` values too)."""
        return tuple(self._extra)

    def build(self, settings: Settings, selection: ToolSelection) -> tuple[Model, str]:
        """The model for one request and the name the response reports in `model`."""
        if settings.provider in self._extra:
            return self._extra[settings.provider](settings, selection)
        if settings.provider == "offline":
            return OfflineModel(selection.ranking, selection.names, selection.catalog), OFFLINE_MODEL_NAME
        if settings.provider == "openai":
            return _openai(settings, self._credentials), f"openai:{settings.model_id}"
        return _bedrock(settings), f"bedrock:{settings.model_id}"


def preload(provider: str) -> None:
    """Import the provider's model module now; providers passed in at run time need nothing."""
    module = PROVIDER_MODULES.get(provider)
    if module is not None:
        importlib.import_module(module)


def uses_search_ranking(settings: Settings) -> bool:
    """Whether the provider needs the gateway's search ranking even for few tools."""
    return settings.provider == "offline"


def _bedrock(settings: Settings) -> Model:
    from strands.models.bedrock import BedrockModel

    return BedrockModel(model_id=settings.model_id, region_name=os.environ.get("AWS_REGION"))


def _openai(settings: Settings, credentials: GatewayCredentials) -> Model:
    from strands.models.openai import OpenAIModel

    key = credentials.api_key(settings.openai_api_key_secret_arn, settings.config_max_age_s)
    return OpenAIModel(
        client_args={"base_url": settings.openai_base_url, "api_key": key},
        model_id=settings.model_id,
    )
