"""Deterministic resource names derived from the stack name.

Re-running the workflow finds its resources by these names instead of creating new ones,
so every name is a pure function of (stack name, account, region). Each follows the
service's own rules: gateway names `([0-9a-zA-Z][-]?){1,48}`, target names without
underscores, Cognito domain prefixes lowercase and globally unique (hence a hash).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from agentgw.provisioning.errors import InvalidInput

PREFIX = "agentgw"
SCOPE_NAME = "invoke"
INLINE_POLICY_NAME = "agentgw-invoke-targets"
TAG_KEY = "agentgw:stack"

_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_TARGET_NAME = re.compile(r"^([0-9a-zA-Z][-]?){1,100}$")


def _slug(text: str, max_len: int) -> str:
    """Letters and digits separated by single hyphens, at most `max_len` characters."""
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^0-9A-Za-z]+", "-", text)).strip("-")
    return slug[:max_len].rstrip("-")


def check_target_name(name: str) -> str:
    if not _TARGET_NAME.fullmatch(name) or "--" in name:
        raise InvalidInput(
            f"target name {name!r} must be letters/digits with single hyphens (no underscores)"
        )
    return name


@dataclass(frozen=True)
class ResourceNames:
    stack_name: str
    account_id: str
    region: str

    def __post_init__(self) -> None:
        if not _STACK_NAME.fullmatch(self.stack_name):
            raise InvalidInput(
                f"stack name {self.stack_name!r} must start with a letter"
                " and hold only letters, digits and hyphens"
            )

    @property
    def _hash(self) -> str:
        key = f"{self.account_id}:{self.region}:{self.stack_name}".encode()
        return hashlib.sha256(key).hexdigest()[:12]

    @property
    def gateway(self) -> str:
        # 48 alphanumeric groups at most; "agentgw-" leaves room for the stack slug.
        return f"{PREFIX}-{_slug(self.stack_name, 39)}"

    @property
    def user_pool(self) -> str:
        return f"{PREFIX}-{_slug(self.stack_name, 100)}"

    @property
    def cognito_domain(self) -> str:
        # Domain prefixes are global across all AWS accounts: make ours unique, keep it stable.
        return f"{PREFIX}-{self._hash}"

    @property
    def resource_server(self) -> str:
        return f"{PREFIX}-{_slug(self.stack_name, 100)}"

    @property
    def scope(self) -> str:
        return f"{self.resource_server}/{SCOPE_NAME}"

    @property
    def app_client(self) -> str:
        return f"{PREFIX}-{_slug(self.stack_name, 100)}-gateway-client"

    @property
    def physical_resource_id(self) -> str:
        """The custom resource's PhysicalResourceId: stable across updates, so CloudFormation never
        issues a Delete for a replaced id that would tear down the live gateway."""
        return self.gateway

    def client_token(self, purpose: str, execution_name: str) -> str:
        """An idempotency token (33+ chars) unique to this execution and request."""
        key = f"{self.account_id}:{self.region}:{self.stack_name}:{purpose}:{execution_name}".encode()
        return hashlib.sha256(key).hexdigest()[:48]
