"""Real Bedrock from the local stack: the user's own AWS account, for Bedrock alone.

The local stack points every boto3 client of its process at the emulator (`AWS_ENDPOINT_URL`
and the emulator's dummy credentials in the environment). `--model-provider bedrock` makes one
exception: before the emulator starts, the user's credentials, region and Bedrock runtime
endpoint are resolved from their own environment (profile, variables, SSO, …) into a boto3
session held in memory. While the stack runs, the agent's `bedrock` provider is given that
session and endpoint (`agentgw.agent.models.bedrock_model`), so its Bedrock runtime client goes
to the real regional endpoint with the user's credentials while SSM, Secrets Manager and
everything else go to the emulator. The credentials are never written anywhere and never
enter an environment variable.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound
from strands.models.model import Model

from agentgw.agent import models
from agentgw.agent.settings import Settings
from agentgw_local.agent_model import Emulator, ModelChoiceError
from agentgw_local.template import Template


def user_session(profile: str | None = None, region: str | None = None) -> tuple[boto3.Session, str]:
    """The user's AWS session for Bedrock, credentials loaded and region fixed, and the Bedrock
    runtime endpoint it resolves to. Call it before the emulator changes the environment."""
    core = botocore.session.Session(profile=profile)
    try:
        # The AWS CLI's order: the option, AWS_REGION, then AWS_DEFAULT_REGION or the profile's.
        region = region or os.environ.get("AWS_REGION") or core.get_config_variable("region")
    except ProfileNotFound as exc:
        raise ModelChoiceError(f"--aws-profile: {exc}") from None
    if not region:
        raise ModelChoiceError(
            "no AWS region for Bedrock: give --aws-region, or set AWS_REGION or the profile's region"
        )
    # Fixed on the session, so the emulator's AWS_DEFAULT_REGION cannot change it later.
    core.set_config_variable("region", region)
    try:
        credentials = core.get_credentials()  # resolved now, from the user's environment, and kept
        if credentials is None:
            raise ModelChoiceError(
                "--model-provider bedrock needs AWS credentials and none were found "
                "(give --aws-profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
            )
        credentials.get_frozen_credentials()  # an expired SSO login or a refused role says so now
        session = boto3.Session(botocore_session=core)
        endpoint = str(session.client("bedrock-runtime").meta.endpoint_url)
    except ProfileNotFound as exc:
        raise ModelChoiceError(f"--aws-profile: {exc}") from None
    except (BotoCoreError, ClientError) as exc:
        raise ModelChoiceError(f"the AWS credentials for Bedrock cannot be used: {exc}") from None
    # Clients this session makes later (STS or SSO refreshing the credentials) must not follow
    # the emulator's AWS_ENDPOINT_URL; Bedrock itself gets `endpoint` explicitly.
    core.set_config_variable("ignore_configured_endpoint_urls", True)
    return session, endpoint


@dataclass
class RealBedrock:
    """The agent's `bedrock` provider on the user's session while the stack runs."""

    session: boto3.Session = field(repr=False)
    endpoint_url: str
    model_id: str
    profile: str | None = None
    provider: str = "bedrock"
    # A boto3 Session is not thread-safe, and concurrent requests each build a model from it.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _deployed_service: Any = field(default=None, repr=False)

    @classmethod
    def from_user_environment(
        cls, *, model_id: str, profile: str | None = None, region: str | None = None
    ) -> RealBedrock:
        session, endpoint = user_session(profile, region)
        return cls(session=session, endpoint_url=endpoint, model_id=model_id, profile=profile)

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def build(self, settings: Settings, selection: object) -> tuple[Model, str]:
        """The agent's provider factory (`models.ProviderFactory`); Bedrock needs no tool selection."""
        with self._lock:
            return models.bedrock_model(settings, boto_session=self.session, endpoint_url=self.endpoint_url)

    def start(self, aws: Emulator, stack_name: str) -> dict[str, str | None]:
        # The agent function's service, composed as its handler composes it, with this provider
        # under the built-in name: a provider passed in takes the built-in one's place.
        app = _agent_function()
        self._deployed_service = app.service
        app.service = app.compose({self.provider: self.build})
        return {"AGENTGW_MODEL_PROVIDER": self.provider, "AGENTGW_MODEL_ID": self.model_id}

    def stop(self) -> None:
        if self._deployed_service is not None:
            _agent_function().service = self._deployed_service
            self._deployed_service = None

    def describe(self) -> str:
        account = f"AWS profile {self.profile}" if self.profile else "your AWS credentials"
        return f"bedrock {self.model_id} at {self.endpoint_url} ({account}; everything else emulated)"


def _agent_function() -> ModuleType:
    """The agent function's handler module, as the local stack runs it."""
    return Template().functions()["AgentFunction"].handler_module()
