"""The credential provider operations on moto's AgentCore control plane server, and the check
CreateGatewayTarget / UpdateGatewayTarget make of a target's credential provider.

moto routes a request to the response method named after the operation (botocore's model
maps the URI `/identities/CreateApiKeyCredentialProvider` to `CreateApiKeyCredentialProvider`),
so adding the methods to moto's response class is all the routing there is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, EmptyResult

from agentgw_local.credential_provider_validation import check_name, invalid
from agentgw_local.credential_providers import ProviderStore, describe, store_for

_lock = threading.Lock()
_installed = False
# moto's server is threaded: a name is checked and taken under this lock.
_writes = threading.Lock()


def _store(response: Any) -> ProviderStore:
    return store_for(response.backend)


def _params(response: Any) -> dict[str, Any]:
    return dict(response._get_params())


def create_api_key_credential_provider(self: Any) -> ActionResult:
    with _writes:
        provider = _store(self).put_api_key(_params(self), create=True)
    return ActionResult(describe(provider, times=False))


def update_api_key_credential_provider(self: Any) -> ActionResult:
    with _writes:
        provider = _store(self).put_api_key(_params(self), create=False)
    return ActionResult(describe(provider))


def get_api_key_credential_provider(self: Any) -> ActionResult:
    return ActionResult(describe(_store(self).get("apikey", _name(self))))


def list_api_key_credential_providers(self: Any) -> ActionResult:
    return ActionResult(_store(self).listing("apikey", _params(self)))


def delete_api_key_credential_provider(self: Any) -> EmptyResult:
    with _writes:
        _store(self).delete("apikey", _name(self))
    return EmptyResult()


def create_oauth2_credential_provider(self: Any) -> ActionResult:
    with _writes:
        provider = _store(self).put_oauth2(_params(self), create=True)
    return ActionResult(describe(provider, times=False))


def update_oauth2_credential_provider(self: Any) -> ActionResult:
    with _writes:
        provider = _store(self).put_oauth2(_params(self), create=False)
    return ActionResult(describe(provider))


def get_oauth2_credential_provider(self: Any) -> ActionResult:
    return ActionResult(describe(_store(self).get("oauth2", _name(self))))


def list_oauth2_credential_providers(self: Any) -> ActionResult:
    return ActionResult(_store(self).listing("oauth2", _params(self)))


def delete_oauth2_credential_provider(self: Any) -> EmptyResult:
    with _writes:
        _store(self).delete("oauth2", _name(self))
    return EmptyResult()


def _name(response: Any) -> str:
    return check_name(_params(response).get("name"))


OPERATIONS: dict[str, Callable[[Any], Any]] = {
    fn.__name__: fn
    for fn in (
        create_api_key_credential_provider,
        get_api_key_credential_provider,
        list_api_key_credential_providers,
        update_api_key_credential_provider,
        delete_api_key_credential_provider,
        create_oauth2_credential_provider,
        get_oauth2_credential_provider,
        list_oauth2_credential_providers,
        update_oauth2_credential_provider,
        delete_oauth2_credential_provider,
    )
}


def install() -> None:
    """Add the operations to moto's AgentCore control plane (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.bedrockagentcorecontrol.responses import BedrockAgentCoreControlResponse

        for name, fn in OPERATIONS.items():
            setattr(BedrockAgentCoreControlResponse, name, fn)
        _installed = True


_KINDS = {
    "API_KEY": ("apiKeyCredentialProvider", "apikey", "API key"),
    "OAUTH": ("oauthCredentialProvider", "oauth2", "OAuth2"),
}


def check_target_credentials(backend: Any, configurations: Any) -> None:
    """Raise ValidationException when a target's API_KEY or OAUTH configuration names a
    credential provider that does not exist in the backend's account and region.

    `backend` is moto's AgentCore control backend the target is created in (the providers
    live with it); other credential provider types are not checked here."""
    if not configurations:
        return
    if not isinstance(configurations, list):
        raise invalid("credentialProviderConfigurations must be a list")
    store = store_for(backend)
    for configuration in configurations:
        kind = configuration.get("credentialProviderType") if isinstance(configuration, dict) else None
        if kind not in _KINDS:
            continue
        member, stored_kind, label = _KINDS[kind]
        provider = (configuration.get("credentialProvider") or {}).get(member)
        arn = provider.get("providerArn") if isinstance(provider, dict) else None
        if not isinstance(arn, str):
            raise invalid(f"credentialProviderType {kind} needs credentialProvider.{member}.providerArn")
        found = store.by_arn(arn)
        if found is None or found.kind != stored_kind:
            raise invalid(f"{label} credential provider {arn} does not exist")
