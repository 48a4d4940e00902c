"""The local gateway's view of the emulated credential providers (`CredentialProviderLookup`).

The gateway runs in the same process as the emulated control plane, so it reads providers and
their secrets from moto's memory directly, at the moment a call needs them: a provider updated,
or an external secret given a new value, applies to the next call, as in AgentCore.
"""

from __future__ import annotations

import re

from agentgw_local.credential_providers import Provider, ProviderStore, backend_of, store_for
from agentgw_local.gateway.outbound_auth import ApiKey, OAuth2Client, OutboundAuthError

_ARN = re.compile(
    r"arn:[^:]+:bedrock-agentcore:(?P<region>[^:]+):(?P<account>\d{12}):token-vault/[^/]+/"
    r"(?P<kind>apikey|oauth2)credentialprovider/(?P<name>.+)"
)


class ProviderLookup:
    """Credential providers of the emulated control plane, by ARN."""

    def api_key(self, provider_arn: str) -> ApiKey:
        store, provider = _find(provider_arn, "apikey")
        return ApiKey(provider.arn, provider.name, _secret(store, provider))

    def oauth2_client(self, provider_arn: str) -> OAuth2Client:
        store, provider = _find(provider_arn, "oauth2")
        ((_, output),) = provider.config_output.items()
        discovery = output.get("oauthDiscovery") or {}
        metadata = discovery.get("authorizationServerMetadata") or {}
        client_id = output.get("clientId")
        if not client_id:
            raise OutboundAuthError(f"credential provider {provider.name!r} ({provider.arn}) has no clientId")
        return OAuth2Client(
            provider_arn=provider.arn,
            name=provider.name,
            client_id=client_id,
            client_secret=_secret(store, provider),
            discovery_url=discovery.get("discoveryUrl"),
            token_endpoint=metadata.get("tokenEndpoint"),
            token_endpoint_auth_methods=tuple(metadata.get("tokenEndpointAuthMethods") or ()),
            client_authentication_method=output.get("clientAuthenticationMethod"),
            version=provider.version(),
        )


def _find(arn: str, kind: str) -> tuple[ProviderStore, Provider]:
    from moto.bedrockagentcorecontrol.models import bedrockagentcorecontrol_backends

    match = _ARN.fullmatch(arn)
    label = "API key" if kind == "apikey" else "OAuth2"
    if match is None or match["kind"] != kind:
        raise OutboundAuthError(f"{arn} is not an {label} credential provider ARN")
    store = store_for(backend_of(bedrockagentcorecontrol_backends, match["account"], match["region"]))
    provider = store.by_arn(arn)
    if provider is None:
        raise OutboundAuthError(f"{label} credential provider {arn} does not exist")
    return store, provider


def _secret(store: ProviderStore, provider: Provider) -> str:
    try:
        return store.read_secret(provider)
    except ValueError as exc:
        raise OutboundAuthError(f"credential provider {provider.name!r} ({provider.arn}): {exc}") from None
