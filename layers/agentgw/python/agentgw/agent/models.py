"""Model providers, chosen by configuration (`AGENTGW_MODEL_PROVIDER`).

- `bedrock`: Strands' BedrockModel with the model id from the template parameter.
- `openai`: any OpenAI-compatible endpoint (OpenAI, a local Ollama or vLLM): base URL from
  the environment, API key from Secrets Manager (never an environment variable); no secret
  configured: no key is sent (servers that take none).
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
from typing import TYPE_CHECKING

from strands.models.model import Model

from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.offline import MODEL_NAME as OFFLINE_MODEL_NAME
from agentgw.agent.offline import OfflineModel
from agentgw.agent.settings import Settings
from agentgw.agent.tool_selection import ToolSelection

if TYPE_CHECKING:
    from boto3 import Session

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
        return bedrock_model(settings)


def preload(provider: str) -> None:
    """Import the provider's model module now; providers passed in at run time need nothing."""
    module = PROVIDER_MODULES.get(provider)
    if module is not None:
        importlib.import_module(module)


def uses_search_ranking(settings: Settings) -> bool:
    """Whether the provider needs the gateway's search ranking even for few tools."""
    return settings.provider == "offline"


def bedrock_model(
    settings: Settings, *, boto_session: Session | None = None, endpoint_url: str | None = None
) -> tuple[Model, str]:
    """Strands' BedrockModel and its display name.

    Deployed, it uses the function's own credentials, region and endpoint. A caller may give
    the boto3 session (its credentials and region) and the endpoint instead: the local stack
    does, so that Bedrock alone reaches the user's real AWS account while every other client
    follows the process's emulator settings.
    """
    from strands.models.bedrock import BedrockModel

    if boto_session is None:
        model = BedrockModel(model_id=settings.model_id, region_name=os.environ.get("AWS_REGION"))
    else:
        model = BedrockModel(model_id=settings.model_id, boto_session=boto_session, endpoint_url=endpoint_url)
    return model, f"bedrock:{settings.model_id}"


async def _no_api_key() -> str:
    return ""


def _openai(settings: Settings, credentials: GatewayCredentials) -> Model:
    from strands.models.openai import OpenAIModel

    if settings.openai_api_key_secret_arn:
        key = credentials.api_key(settings.openai_api_key_secret_arn, settings.config_max_age_s)
        return OpenAIModel(
            client_args={"base_url": settings.openai_base_url, "api_key": key}, model_id=settings.model_id
        )
    from openai import omit

    # No key configured: send none. The OpenAI client insists on a key (given None, it takes
    # OPENAI_API_KEY from the environment): a key provider answering "" satisfies it without a
    # made-up key, and a request header explicitly omitted is its way to send no Authorization.
    return OpenAIModel(
        client_args={"base_url": settings.openai_base_url, "api_key": _no_api_key},
        model_id=settings.model_id,
        params={"extra_headers": {"Authorization": omit}},
    )
