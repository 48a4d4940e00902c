"""AgentCore Identity credential providers for the emulated control plane (moto has none).

`CreateApiKeyCredentialProvider` and `CreateOauth2CredentialProvider` with their Get, List,
Update and Delete, shaped as botocore's `bedrock-agentcore-control` model says, answered by the
same moto server as the rest of the control plane, so a user's boto3 client works unchanged.

As in AWS, a key or client secret passed in (`apiKey`, `clientSecret`: secret source MANAGED)
goes into a Secrets Manager secret the service creates, named
`bedrock-agentcore-identity!default/apikey/<name>` (`.../oauth2/<name>`), and responses carry
only that secret's ARN. With secret source EXTERNAL the provider references the user's secret
(`apiKeySecretConfig` / `clientSecretConfig {secretId, jsonKey}`), read when a call needs it.
Everything lives in moto's memory; nothing is written elsewhere and no value is ever logged.

The providers of an account and region hang off moto's AgentCore control backend, so moto's
reset forgets them with everything else. Installed by `agentcore_emulation.install()`.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.bedrockagentcorecontrol.exceptions import ConflictException, ResourceNotFoundException

from agentgw_local.credential_provider_validation import (
    MANAGED_SECRET_PREFIX,
    ValidationException,
    check_api_key_source,
    check_name,
    check_oauth2_input,
    check_tags,
    max_results,
)

_ATTRIBUTE = "_agentgw_credential_providers"
_creating = threading.Lock()


@dataclass
class Provider:
    """One credential provider (either kind); `secret_*` says where its secret is."""

    kind: str  # "apikey" or "oauth2"
    name: str
    arn: str
    created: datetime
    updated: datetime
    secret_source: str  # MANAGED or EXTERNAL
    secret_arn: str
    secret_json_key: str  # the key inside the secret's JSON string
    secret_id: str = ""  # what to read: the managed secret's name, or the secretId given
    vendor: str | None = None
    config_output: dict[str, Any] = field(default_factory=dict)  # oauth2ProviderConfigOutput
    callback_url: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def version(self) -> str:
        return self.updated.isoformat()


class ProviderStore:
    """The credential providers of one account and region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.providers: dict[tuple[str, str], Provider] = {}
        # Secret ARN → (the secret string, its JSON), so a call parses only a changed secret.
        self._parsed: dict[str, tuple[Any, Any]] = {}

    # -- lookups ---------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Provider:
        provider = self.providers.get((kind, name))
        if provider is None:
            label = "API key" if kind == "apikey" else "OAuth2"
            raise ResourceNotFoundException(f"{label} credential provider {name} does not exist")
        return provider

    def by_arn(self, arn: str) -> Provider | None:
        return next((p for p in self.providers.values() if p.arn == arn), None)

    def arn(self, kind: str, name: str) -> str:
        resource = "apikeycredentialprovider" if kind == "apikey" else "oauth2credentialprovider"
        return (
            f"arn:aws:bedrock-agentcore:{self.region}:{self.account_id}:token-vault/default/{resource}/{name}"
        )

    # -- secrets ---------------------------------------------------------------------------
    def _secrets(self) -> Any:
        from moto.secretsmanager.models import secretsmanager_backends

        return backend_of(secretsmanager_backends, self.account_id, self.region)

    def _store_managed(self, kind: str, name: str, json_key: str, value: str) -> str:
        """Create or overwrite the service-managed secret; return its ARN."""
        secrets = self._secrets()
        secret_name = f"{MANAGED_SECRET_PREFIX}{kind}/{name}"
        payload = json.dumps({json_key: value})
        if secret_name in secrets.secrets:
            secrets.put_secret_value(secret_name, payload, None, None, ["AWSCURRENT"])
        else:
            secrets.create_secret(secret_name, payload, None, None, None, None, None, [], False)
        return str(secrets.describe_secret(secret_name).arn)

    def _drop_managed(self, provider: Provider) -> None:
        if provider.secret_source != "MANAGED":
            return
        secrets = self._secrets()
        secret_name = f"{MANAGED_SECRET_PREFIX}{provider.kind}/{provider.name}"
        if secret_name in secrets.secrets:
            secrets.delete_secret(secret_name, None, True)

    def _secret_fields(
        self, kind: str, name: str, source: str, value: str | None, ref: Any
    ) -> tuple[str, str, str]:
        """(secret ARN, JSON key, secret id to read) for a provider's new secret source."""
        if source == "EXTERNAL":
            secret_id = ref["secretId"]
            # A name, an ARN or a partial ARN; the ARN reported is the referenced secret's.
            found = self._secrets().secrets.get(secret_id)
            if found is not None:
                arn = found.arn
            elif secret_id.startswith("arn:"):
                arn = secret_id
            else:
                arn = f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:{secret_id}"
            return arn, ref["jsonKey"], secret_id
        json_key = "api_key" if kind == "apikey" else "client_secret"
        arn = self._store_managed(kind, name, json_key, value or "")
        return arn, json_key, f"{MANAGED_SECRET_PREFIX}{kind}/{name}"

    def read_secret(self, provider: Provider) -> str:
        """The provider's key or client secret, read now (ValueError says what is missing)."""
        try:
            value = self._secrets().get_secret_value(provider.secret_id, None, None)
        except Exception as exc:  # moto's SecretNotFoundException and kin
            raise ValueError(
                f"its secret {provider.secret_arn} cannot be read ({type(exc).__name__})"
            ) from None
        text = value.get("SecretString")
        cached = self._parsed.get(provider.secret_arn)
        if cached is not None and cached[0] == text:
            document = cached[1]
        else:
            try:
                document = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                document = None
            self._parsed[provider.secret_arn] = (text, document)
        if not isinstance(document, dict):
            raise ValueError(f"its secret {provider.secret_arn} does not hold a JSON object")
        found = document.get(provider.secret_json_key)
        if not isinstance(found, str) or not found:
            raise ValueError(f"its secret {provider.secret_arn} has no string {provider.secret_json_key!r}")
        return found

    # -- API key providers -----------------------------------------------------------------
    def put_api_key(self, params: dict[str, Any], *, create: bool) -> Provider:
        name = check_name(params.get("name"))
        source, value, ref = check_api_key_source(params)
        now = datetime.now(UTC)
        if create:
            if ("apikey", name) in self.providers:
                raise ConflictException(f"API key credential provider {name} already exists")
            provider = Provider("apikey", name, self.arn("apikey", name), now, now, source, "", "")
            provider.tags = check_tags(params.get("tags"))
        else:
            provider = self.get("apikey", name)
            if provider.secret_source == "MANAGED" and source == "EXTERNAL":
                self._drop_managed(provider)
            provider.updated = now
        provider.secret_source = source
        provider.secret_arn, provider.secret_json_key, provider.secret_id = self._secret_fields(
            "apikey", name, provider.secret_source, value, ref
        )
        self.providers[("apikey", name)] = provider
        return provider

    def put_oauth2(self, params: dict[str, Any], *, create: bool) -> Provider:
        name = check_name(params.get("name"))
        checked = check_oauth2_input(
            params.get("credentialProviderVendor"), params.get("oauth2ProviderConfigInput")
        )
        now = datetime.now(UTC)
        if create:
            if ("oauth2", name) in self.providers:
                raise ConflictException(f"OAuth2 credential provider {name} already exists")
            provider = Provider("oauth2", name, self.arn("oauth2", name), now, now, "MANAGED", "", "")
            provider.tags = check_tags(params.get("tags"))
            provider.callback_url = f"https://bedrock-agentcore.{self.region}.amazonaws.com/identities/oauth2/callback/{uuid.uuid4()}"
        else:
            provider = self.get("oauth2", name)
            if provider.secret_source == "MANAGED" and checked.secret_source == "EXTERNAL":
                self._drop_managed(provider)
            provider.updated = now
        provider.vendor = checked.vendor
        provider.config_output = checked.output
        provider.secret_source = checked.secret_source
        provider.secret_arn, provider.secret_json_key, provider.secret_id = self._secret_fields(
            "oauth2", name, checked.secret_source, checked.secret_value, checked.secret_ref
        )
        self.providers[("oauth2", name)] = provider
        return provider

    def delete(self, kind: str, name: str) -> None:
        provider = self.get(kind, name)
        self._drop_managed(provider)
        del self.providers[(kind, name)]

    def listing(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        limit = max_results(params.get("maxResults"), 100 if kind == "apikey" else 20)
        names = sorted(n for k, n in self.providers if k == kind)
        token = params.get("nextToken")
        start = 0
        if token is not None:
            if not isinstance(token, str) or not token.isdigit() or int(token) > len(names):
                raise ValidationException("ValidationException", "Invalid nextToken")
            start = int(token)
        page = names[start : start + limit]
        items = [summary(self.providers[(kind, n)]) for n in page]
        result: dict[str, Any] = {"credentialProviders": items}
        if start + limit < len(names):
            result["nextToken"] = str(start + limit)
        return result


def summary(provider: Provider) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": provider.name,
        "credentialProviderArn": provider.arn,
        "createdTime": provider.created,
        "lastUpdatedTime": provider.updated,
    }
    if provider.vendor is not None:
        item["credentialProviderVendor"] = provider.vendor
    return item


def describe(provider: Provider, *, times: bool = True) -> dict[str, Any]:
    """A Create/Get/Update response: never the secret, only where it is."""
    prefix = "apiKey" if provider.kind == "apikey" else "client"  # apiKeySecretArn, clientSecretArn
    result: dict[str, Any] = {
        "name": provider.name,
        "credentialProviderArn": provider.arn,
        f"{prefix}SecretArn": {"secretArn": provider.secret_arn},
        f"{prefix}SecretSource": provider.secret_source,
    }
    if provider.secret_source == "EXTERNAL":
        result[f"{prefix}SecretJsonKey"] = provider.secret_json_key
    if provider.kind == "oauth2":
        result.update(
            credentialProviderVendor=provider.vendor,
            oauth2ProviderConfigOutput=provider.config_output,
            callbackUrl=provider.callback_url,
            status="READY",
        )
    if times:
        result.update(createdTime=provider.created, lastUpdatedTime=provider.updated)
    return result


def backend_of(backends: Any, account_id: str, region: str) -> Any:
    """`backends[account_id][region]` without moto's per-lookup bookkeeping once both exist
    (plain dict reads: the gateway does this on every outbound call)."""
    account = dict.get(backends, account_id)
    found = dict.get(account, region) if account is not None else None
    return found if found is not None else backends[account_id][region]


def store_for(backend: Any) -> ProviderStore:
    """The providers kept with a moto AgentCore control backend (created on first use)."""
    store = backend.__dict__.get(_ATTRIBUTE)
    if store is None:
        with _creating:
            store = backend.__dict__.setdefault(
                _ATTRIBUTE, ProviderStore(backend.account_id, backend.region_name)
            )
    return store
