"""What the emulated control plane checks in credential provider requests, as AgentCore does.

botocore checks types and (some) lengths before sending; the service checks the rest: name
pattern and lengths, which members go together (a secret passed in or a reference to one), and
the OAuth2 vendor's configuration. Each failure is a ValidationException; no message holds a
value from a secret member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agentgw_local.agentcore_emulation import ValidationException

MANAGED_SECRET_PREFIX = "bedrock-agentcore-identity!default/"
NAME = re.compile(r"[a-zA-Z0-9\-_]+")
DISCOVERY_URL = re.compile(
    r"[^\s?#]+/\.well-known/(openid-configuration|oauth-authorization-server)(/[^\s?#]+)?"
)
TOKEN_AUTH_METHOD = re.compile(r"(client_secret_post|client_secret_basic)")

# botocore's CredentialProviderVendorType and the config member each vendor takes.
DEDICATED = {
    "CustomOauth2": "customOauth2ProviderConfig",
    "GoogleOauth2": "googleOauth2ProviderConfig",
    "GithubOauth2": "githubOauth2ProviderConfig",
    "SlackOauth2": "slackOauth2ProviderConfig",
    "SalesforceOauth2": "salesforceOauth2ProviderConfig",
    "MicrosoftOauth2": "microsoftOauth2ProviderConfig",
    "AtlassianOauth2": "atlassianOauth2ProviderConfig",
    "LinkedinOauth2": "linkedinOauth2ProviderConfig",
}
INCLUDED = (
    *("XOauth2", "OktaOauth2", "OneLoginOauth2", "PingOneOauth2", "FacebookOauth2", "YandexOauth2"),
    *("RedditOauth2", "ZoomOauth2", "TwitchOauth2", "SpotifyOauth2", "DropboxOauth2", "NotionOauth2"),
    *("HubspotOauth2", "CyberArkOauth2", "FusionAuthOauth2", "Auth0Oauth2", "CognitoOauth2"),
)
# Custom members the emulation keeps and reports but does not act on.
_CUSTOM_ECHOED = (
    "clientAuthenticationMethod",
    "onBehalfOfTokenExchangeConfig",
    "privateKeyJwtConfig",
    "privateEndpoint",
    "privateEndpointOverrides",
    "certificateConfigurations",
)


def invalid(message: str) -> ValidationException:
    return ValidationException("ValidationException", message)


def _constraint(member: str, constraint: str) -> ValidationException:
    return invalid(
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: {constraint}"
    )


def _string(value: Any, member: str, low: int, high: int, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise invalid(f"{member} is required")
        return None
    if not isinstance(value, str):
        raise _constraint(member, "Member must be a string")
    if not low <= len(value) <= high:
        raise _constraint(member, f"Member must have length between {low} and {high}, inclusive")
    return value


def check_name(name: Any) -> str:
    checked = _string(name, "name", 1, 128)
    assert checked is not None
    if not NAME.fullmatch(checked):
        raise _constraint("name", f"Member must satisfy regular expression pattern: {NAME.pattern}")
    return checked


TAG = re.compile(r"[a-zA-Z0-9\s._:/=+@-]*")


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or len(tags) > 50:
        raise _constraint("tags", "Member must be a map of at most 50 entries")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not TAG.fullmatch(key):
            raise _constraint("tags", f"Member keys must be 1-128 characters matching {TAG.pattern}")
        if not isinstance(value, str) or len(value) > 256 or not TAG.fullmatch(value):
            raise _constraint("tags", f"Member values must be 0-256 characters matching {TAG.pattern}")
    return dict(tags)


def max_results(value: Any, maximum: int) -> int:
    if value is None:
        return maximum
    if not isinstance(value, int) or not 1 <= value <= maximum:
        raise _constraint("maxResults", f"Member must have value between 1 and {maximum}, inclusive")
    return value


def check_secret_ref(ref: Any, member: str) -> dict[str, str]:
    if not isinstance(ref, dict):
        raise invalid(f"{member} must be an object with secretId and jsonKey")
    secret_id = _string(ref.get("secretId"), f"{member}.secretId", 1, 2048)
    json_key = _string(ref.get("jsonKey"), f"{member}.jsonKey", 1, 128)
    assert secret_id is not None and json_key is not None
    return {"secretId": secret_id, "jsonKey": json_key}


def check_secret_source(
    value: Any, ref: Any, source: Any, *, value_member: str, ref_member: str, source_member: str, max_len: int
) -> tuple[str, str | None, dict[str, str] | None]:
    """A secret passed in (MANAGED) or a reference to the user's (EXTERNAL): exactly one.
    A reference without a source means EXTERNAL."""
    if source is not None and source not in ("MANAGED", "EXTERNAL"):
        raise _constraint(source_member, "Member must satisfy enum value set: [MANAGED, EXTERNAL]")
    external = source == "EXTERNAL" or (source is None and ref is not None)
    if external:
        if value is not None:
            raise invalid(
                f"{value_member} cannot be set with {source_member} EXTERNAL (the secret is in {ref_member})"
            )
        if ref is None:
            raise invalid(f"{ref_member} is required when {source_member} is EXTERNAL")
        return "EXTERNAL", None, check_secret_ref(ref, ref_member)
    if ref is not None:
        raise invalid(f"{ref_member} can only be set with {source_member} EXTERNAL")
    if value is None or value == "":
        raise invalid(f"{value_member} is required (or {ref_member} with {source_member} EXTERNAL)")
    if not isinstance(value, str) or len(value) > max_len:
        raise _constraint(value_member, f"Member must be a string of at most {max_len} characters")
    return "MANAGED", value, None


def check_api_key_source(params: dict[str, Any]) -> tuple[str, str | None, dict[str, str] | None]:
    """Create and Update take the same members."""
    return check_secret_source(
        params.get("apiKey"),
        params.get("apiKeySecretConfig"),
        params.get("apiKeySecretSource"),
        value_member="apiKey",
        ref_member="apiKeySecretConfig",
        source_member="apiKeySecretSource",
        max_len=65536,
    )


@dataclass(frozen=True)
class CheckedOAuth2:
    vendor: str
    output: dict[str, Any]  # oauth2ProviderConfigOutput
    secret_source: str
    secret_value: str | None
    secret_ref: dict[str, str] | None


def check_oauth2_input(vendor: Any, config: Any) -> CheckedOAuth2:
    if vendor is None:
        raise invalid("credentialProviderVendor is required")
    if vendor not in DEDICATED and vendor not in INCLUDED:
        allowed = ", ".join([*DEDICATED, *INCLUDED])
        raise _constraint("credentialProviderVendor", f"Member must satisfy enum value set: [{allowed}]")
    if not isinstance(config, dict) or len(config) != 1:
        raise invalid("oauth2ProviderConfigInput must set exactly one provider configuration")
    ((member, body),) = config.items()
    expected = DEDICATED.get(vendor, "includedOauth2ProviderConfig")
    if member != expected:
        raise invalid(
            f"credentialProviderVendor {vendor} takes oauth2ProviderConfigInput.{expected}, not {member}"
        )
    if not isinstance(body, dict):
        raise invalid(f"oauth2ProviderConfigInput.{member} must be an object")
    path = f"oauth2ProviderConfigInput.{member}"
    source, value, ref = check_secret_source(
        body.get("clientSecret"),
        body.get("clientSecretConfig"),
        body.get("clientSecretSource"),
        value_member=f"{path}.clientSecret",
        ref_member=f"{path}.clientSecretConfig",
        source_member=f"{path}.clientSecretSource",
        max_len=2048,
    )
    if member == "customOauth2ProviderConfig":
        output = _custom_output(body, path)
    elif member == "includedOauth2ProviderConfig":
        output = _included_output(body, path)
    else:
        raise invalid(
            f"{vendor} providers are not emulated locally (AgentCore has their metadata built in); "
            "use CustomOauth2 with the provider's discovery URL or token endpoint"
        )
    return CheckedOAuth2(vendor, {member: output}, source, value, ref)


def _custom_output(body: dict[str, Any], path: str) -> dict[str, Any]:
    output: dict[str, Any] = {
        "oauthDiscovery": _discovery(body.get("oauthDiscovery"), f"{path}.oauthDiscovery")
    }
    client_id = _string(body.get("clientId"), f"{path}.clientId", 0, 256, required=False)
    if client_id is not None:
        output["clientId"] = client_id
    method = body.get("clientAuthenticationMethod")
    allowed = ("CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST", "AWS_IAM_ID_TOKEN_JWT", "PRIVATE_KEY_JWT")
    if method is not None and method not in allowed:
        raise _constraint(
            f"{path}.clientAuthenticationMethod", f"Member must satisfy enum value set: {list(allowed)}"
        )
    output.update({k: body[k] for k in _CUSTOM_ECHOED if body.get(k) is not None})
    return output


def _discovery(discovery: Any, path: str) -> dict[str, Any]:
    if not isinstance(discovery, dict) or len(discovery) != 1:
        raise invalid(f"{path} must set exactly one of discoveryUrl, authorizationServerMetadata")
    url = discovery.get("discoveryUrl")
    if url is not None:
        if not isinstance(url, str) or not DISCOVERY_URL.fullmatch(url):
            raise _constraint(
                f"{path}.discoveryUrl",
                f"Member must satisfy regular expression pattern: {DISCOVERY_URL.pattern}",
            )
        return {"discoveryUrl": url}
    metadata = discovery.get("authorizationServerMetadata")
    if not isinstance(metadata, dict):
        raise invalid(f"{path} must set exactly one of discoveryUrl, authorizationServerMetadata")
    meta_path = f"{path}.authorizationServerMetadata"
    checked: dict[str, Any] = {}
    for key in ("issuer", "authorizationEndpoint", "tokenEndpoint"):
        value = metadata.get(key)
        if not isinstance(value, str) or not value:
            raise invalid(f"{meta_path}.{key} is required")
        checked[key] = value
    response_types = metadata.get("responseTypes")
    if response_types is not None:
        if not isinstance(response_types, list) or not all(isinstance(t, str) for t in response_types):
            raise _constraint(f"{meta_path}.responseTypes", "Member must be a list of strings")
        checked["responseTypes"] = response_types
    methods = metadata.get("tokenEndpointAuthMethods")
    if methods is not None:
        if not isinstance(methods, list) or not 1 <= len(methods) <= 2:
            raise _constraint(
                f"{meta_path}.tokenEndpointAuthMethods", "Member must have length between 1 and 2"
            )
        for method in methods:
            if not isinstance(method, str) or not TOKEN_AUTH_METHOD.fullmatch(method):
                raise _constraint(
                    f"{meta_path}.tokenEndpointAuthMethods",
                    f"Member must satisfy regular expression pattern: {TOKEN_AUTH_METHOD.pattern}",
                )
        checked["tokenEndpointAuthMethods"] = methods
    return {"authorizationServerMetadata": checked}


def _included_output(body: dict[str, Any], path: str) -> dict[str, Any]:
    client_id = _string(body.get("clientId"), f"{path}.clientId", 1, 256)
    endpoints = {k: body.get(k) for k in ("issuer", "authorizationEndpoint", "tokenEndpoint")}
    for key, value in endpoints.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise _constraint(f"{path}.{key}", "Member must be a non-empty string")
    if all(endpoints.values()):
        discovery: dict[str, Any] = {"authorizationServerMetadata": endpoints}
    elif endpoints["issuer"]:
        discovery = {"discoveryUrl": endpoints["issuer"].rstrip("/") + "/.well-known/openid-configuration"}
    else:
        raise invalid(
            f"{path}: the local stack needs the issuer (or issuer, authorizationEndpoint and tokenEndpoint)"
        )
    return {"oauthDiscovery": discovery, "clientId": client_id}
