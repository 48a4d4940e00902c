"""The agent's model in the local stack: `offline`, an OpenAI-compatible endpoint, or real Bedrock.

`agentgw local up --model-provider …` makes one `AgentModel`. When the stack has provisioned,
`start` prepares the emulated account the way a deployment is prepared and returns the model
variables of the agent function's environment (names and ARNs, never a secret):

- `offline`: no language model, nothing to prepare.
- `openai`: the API key, read once from the environment variable the user names, becomes a
  secret in the emulated Secrets Manager; the agent gets its ARN and reads the key from there,
  as it does deployed. The key is never written to disk, logged, printed or copied into
  another environment variable, and its own variable is removed from the process (the agent's
  emulated environment) while the stack runs. No key (local servers such as Ollama, llama.cpp,
  vLLM): no secret.
- `bedrock`: see `agentgw_local.real_bedrock` (the user's own AWS account, for Bedrock only).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from agentgw.agent.settings import Settings

PROVIDERS = ("offline", "openai", "bedrock")
DEFAULT_OPENAI_API_KEY_ENV = "OPENAI_API_KEY"


class ModelChoiceError(ValueError):
    """Options that do not make a usable model (one line for the user; the CLI exits 2)."""


class Emulator(Protocol):
    def client(self, service: str) -> Any: ...


class AgentModel(Protocol):
    provider: str

    def start(self, aws: Emulator, stack_name: str) -> dict[str, str | None]:
        """Prepare the emulated account; return the agent's model variables (no secrets; None:
        remove the variable while the stack runs)."""
        ...

    def stop(self) -> None: ...

    def describe(self) -> str:
        """One line for the console (no secrets)."""
        ...


@dataclass(frozen=True)
class Offline:
    provider: str = "offline"

    def start(self, aws: Emulator, stack_name: str) -> dict[str, str | None]:
        return {"AGENTGW_MODEL_PROVIDER": self.provider}

    def stop(self) -> None:
        pass

    def describe(self) -> str:
        return "offline (no language model: the gateway's search picks the tool)"


def openai_secret_name(stack_name: str) -> str:
    return f"agentgw/{stack_name}/openai-api-key"


@dataclass(frozen=True)
class OpenAICompatible:
    base_url: str
    model_id: str
    api_key: str | None = field(default=None, repr=False)  # None: the endpoint takes no key
    key_source: str = ""  # where the key came from, for the console: an environment variable's name
    provider: str = "openai"

    def start(self, aws: Emulator, stack_name: str) -> dict[str, str | None]:
        variables: dict[str, str | None] = {
            "AGENTGW_MODEL_PROVIDER": self.provider,
            "AGENTGW_MODEL_ID": self.model_id,
            "AGENTGW_OPENAI_BASE_URL": self.base_url,
            # Empty is "not set" to the agent's settings, and replaces a value from the user's shell.
            "AGENTGW_OPENAI_API_KEY_SECRET_ARN": self._seed(aws, stack_name) if self.api_key else "",
        }
        if self.key_source:
            # A deployed function has no such variable: the agent must find the key where it would.
            variables[self.key_source] = None
        return variables

    def _seed(self, aws: Emulator, stack_name: str) -> str:
        secrets = aws.client("secretsmanager")
        name = openai_secret_name(stack_name)
        try:
            created = secrets.create_secret(
                Name=name,
                Description="API key of the agent's OpenAI-compatible endpoint (agentgw local up)",
                SecretString=self.api_key,
            )
            return str(created["ARN"])
        except secrets.exceptions.ResourceExistsException:  # a stack of this name ran in this emulator
            return str(secrets.put_secret_value(SecretId=name, SecretString=self.api_key)["ARN"])

    def stop(self) -> None:
        pass

    def describe(self) -> str:
        where = f"openai {self.model_id} at {self.base_url}"
        if not self.api_key:
            return f"{where} (no API key)"
        return f"{where} (API key from ${self.key_source}, kept in the emulated Secrets Manager)"


# -- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The model options of `agentgw local up`."""
    group = parser.add_argument_group("the agent's model (everything else stays emulated)")
    group.add_argument(
        "--model-provider",
        choices=PROVIDERS,
        default="offline",
        help="offline (no language model), openai (any OpenAI-compatible endpoint) or bedrock "
        "(your AWS account, for Bedrock only) (default %(default)s)",
    )
    group.add_argument(
        "--model-id",
        help="the model: the name the OpenAI-compatible endpoint serves (required for openai), or "
        f"the Bedrock model or inference profile id (default {Settings.model_id})",
    )
    group.add_argument(
        "--openai-base-url", metavar="URL", help="openai: the endpoint, e.g. http://127.0.0.1:11434/v1"
    )
    keys = group.add_mutually_exclusive_group()
    keys.add_argument(
        "--openai-api-key-env",
        metavar="NAME",
        help=f"openai: the environment variable holding the API key (default {DEFAULT_OPENAI_API_KEY_ENV}, "
        "when it is set; a variable named here must be set)",
    )
    keys.add_argument(
        "--openai-no-api-key",
        action="store_true",
        help=f"openai: send no API key, even when {DEFAULT_OPENAI_API_KEY_ENV} is set (local servers)",
    )
    group.add_argument(
        "--aws-profile", metavar="NAME", help="bedrock: the AWS profile (default: as the AWS CLI finds it)"
    )
    group.add_argument(
        "--aws-region",
        metavar="REGION",
        help="bedrock: the Bedrock region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)",
    )


def from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> AgentModel:
    """The model the options ask for, or ModelChoiceError naming what is wrong."""
    env = os.environ if environ is None else environ
    provider = args.model_provider
    _only_for(args, provider)
    if provider == "offline":
        return Offline()
    if provider == "openai":
        return _openai(args, env)
    from agentgw_local.real_bedrock import RealBedrock

    return RealBedrock.from_user_environment(
        model_id=args.model_id or Settings.model_id, profile=args.aws_profile, region=args.aws_region
    )


_OPTIONS_OF = {
    "model_id": ("--model-id", ("openai", "bedrock")),
    "openai_base_url": ("--openai-base-url", ("openai",)),
    "openai_api_key_env": ("--openai-api-key-env", ("openai",)),
    "openai_no_api_key": ("--openai-no-api-key", ("openai",)),
    "aws_profile": ("--aws-profile", ("bedrock",)),
    "aws_region": ("--aws-region", ("bedrock",)),
}


def _only_for(args: argparse.Namespace, provider: str) -> None:
    # An option of another provider is a mistake worth saying, not something to ignore silently.
    for attribute, (option, providers) in _OPTIONS_OF.items():
        if getattr(args, attribute, None) and provider not in providers:
            raise ModelChoiceError(
                f"{option} is for --model-provider {' or '.join(providers)}, not {provider}"
            )


def _openai(args: argparse.Namespace, env: Mapping[str, str]) -> OpenAICompatible:
    base_url = (args.openai_base_url or "").strip()
    if not base_url:
        raise ModelChoiceError(
            "--model-provider openai needs --openai-base-url (e.g. http://127.0.0.1:11434/v1)"
        )
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelChoiceError(f"--openai-base-url {base_url!r} is not an http(s) URL")
    model_id = (args.model_id or "").strip()
    if not model_id:
        raise ModelChoiceError(
            "--model-provider openai needs --model-id (the model name the endpoint serves)"
        )
    if args.openai_no_api_key:
        return OpenAICompatible(base_url=base_url, model_id=model_id)
    name = args.openai_api_key_env
    if name is not None:
        if not env.get(name, "").strip():
            raise ModelChoiceError(f"--openai-api-key-env {name}: the environment variable {name} is not set")
    elif env.get(DEFAULT_OPENAI_API_KEY_ENV, "").strip():
        name = DEFAULT_OPENAI_API_KEY_ENV
    else:  # the endpoint takes no key (Ollama, llama.cpp, vLLM without --api-key)
        return OpenAICompatible(base_url=base_url, model_id=model_id)
    return OpenAICompatible(base_url=base_url, model_id=model_id, api_key=env[name].strip(), key_source=name)
