"""outbound_auth: a target's credential applied to real HTTP calls on loopback.

The providers are created with boto3 in the emulated control plane and read back through the
local stack's `ProviderLookup`; the API and its OAuth 2.0 authorization server are a loopback
server (`oauth2_loopback`) that records what arrived where.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from oauth2_loopback import Loopback

from agentgw_local.credential_provider_lookup import ProviderLookup
from agentgw_local.gateway import oauth2_tokens
from agentgw_local.gateway.outbound_auth import OutboundAuthError, mcp_outbound_auth, outbound_auth

API_KEY = "k3y-d0-not-leak-91c2"


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    oauth2_tokens.forget_all()
    yield
    oauth2_tokens.forget_all()


@pytest.fixture
def control(aws: Any) -> Any:
    return aws.client("bedrock-agentcore-control")


def api_key_config(arn: str, **extra: str) -> list[dict[str, Any]]:
    return [
        {
            "credentialProviderType": "API_KEY",
            "credentialProvider": {"apiKeyCredentialProvider": {"providerArn": arn, **extra}},
        }
    ]


def oauth_config(arn: str, scopes: list[str] | None = None, **extra: Any) -> list[dict[str, Any]]:
    provider = {"providerArn": arn, "scopes": scopes or [], "grantType": "CLIENT_CREDENTIALS", **extra}
    return [{"credentialProviderType": "OAUTH", "credentialProvider": {"oauthCredentialProvider": provider}}]


def api_key_provider(control: Any, name: str = "key", key: str = API_KEY) -> str:
    return str(control.create_api_key_credential_provider(name=name, apiKey=key)["credentialProviderArn"])


def oauth_provider(control: Any, loopback: Loopback, name: str = "oauth", **config: Any) -> str:
    custom = {
        "oauthDiscovery": {"discoveryUrl": loopback.discovery_url},
        "clientId": loopback.client_id,
        "clientSecret": loopback.client_secret,
        **config,
    }
    return str(
        control.create_oauth2_credential_provider(
            name=name,
            credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput={"customOauth2ProviderConfig": custom},
        )["credentialProviderArn"]
    )


def get(auth: httpx.Auth, url: str) -> httpx.Response:
    with httpx.Client(auth=auth) as client:
        return client.get(url)


async def aget(auth: httpx.Auth, url: str, times: int = 1) -> list[httpx.Response]:
    async with httpx.AsyncClient(auth=auth) as client:
        return [await client.get(url) for _ in range(times)]


# -- API keys ---------------------------------------------------------------------------------


def test_api_key_defaults_to_authorization_bearer_header(control: Any, loopback: Loopback) -> None:
    auth = outbound_auth(api_key_config(api_key_provider(control)), ProviderLookup())
    assert get(auth, f"{loopback.base}/v1/items?q=1").status_code == 200
    (seen,) = loopback.requests_to("/v1/items")
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.query == {"q": ["1"]}


def test_api_key_in_a_named_header_has_no_default_prefix(control: Any, loopback: Loopback) -> None:
    arn = api_key_provider(control)
    auth = outbound_auth(api_key_config(arn, credentialParameterName="X-API-Key"), ProviderLookup())
    asyncio.run(aget(auth, f"{loopback.base}/a"))
    (seen,) = loopback.requests_to("/a")
    assert seen.headers["X-API-Key"] == API_KEY
    assert "Authorization" not in seen.headers


def test_api_key_in_the_query_with_name_and_prefix(control: Any, loopback: Loopback) -> None:
    arn = api_key_provider(control)
    default = outbound_auth(api_key_config(arn, credentialLocation="QUERY_PARAMETER"), ProviderLookup())
    named = outbound_auth(
        api_key_config(
            arn, credentialLocation="QUERY_PARAMETER", credentialParameterName="key", credentialPrefix="Token"
        ),
        ProviderLookup(),
    )
    get(default, f"{loopback.base}/d?x=1")
    get(named, f"{loopback.base}/n")
    (d,) = loopback.requests_to("/d")
    (n,) = loopback.requests_to("/n")
    assert d.query == {"x": ["1"], "api_key": [API_KEY]}
    assert n.query == {"key": [f"Token {API_KEY}"]}
    assert "Authorization" not in d.headers and "Authorization" not in n.headers


def test_a_prefix_ending_in_a_space_is_used_as_is(control: Any, loopback: Loopback) -> None:
    arn = api_key_provider(control)
    get(outbound_auth(api_key_config(arn, credentialPrefix="Key "), ProviderLookup()), f"{loopback.base}/p")
    assert loopback.requests_to("/p")[0].headers["Authorization"] == f"Key {API_KEY}"


def test_the_key_is_read_at_each_call(aws: Any, control: Any, loopback: Loopback) -> None:
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="team/api", SecretString='{"key": "first-value"}')
    arn = control.create_api_key_credential_provider(
        name="ext",
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": "team/api", "jsonKey": "key"},
    )["credentialProviderArn"]
    auth = outbound_auth(api_key_config(arn, credentialParameterName="X-Key"), ProviderLookup())
    get(auth, f"{loopback.base}/1")
    secrets.put_secret_value(SecretId="team/api", SecretString='{"key": "second-value"}')
    get(auth, f"{loopback.base}/2")
    control.update_api_key_credential_provider(name="ext", apiKey="third-value")
    get(auth, f"{loopback.base}/3")
    values = [loopback.requests_to(f"/{n}")[0].headers["X-Key"] for n in (1, 2, 3)]
    assert values == ["first-value", "second-value", "third-value"]


def test_an_external_secret_may_appear_after_the_provider(aws: Any, control: Any, loopback: Loopback) -> None:
    arn = control.create_api_key_credential_provider(
        name="later",
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": "team/my-secret", "jsonKey": "v"},
    )["credentialProviderArn"]
    auth = outbound_auth(api_key_config(arn, credentialParameterName="X-Key"), ProviderLookup())
    with pytest.raises(OutboundAuthError, match="cannot be read"):
        get(auth, f"{loopback.base}/early")
    aws.client("secretsmanager").create_secret(Name="team/my-secret", SecretString='{"v": "late-value"}')
    get(auth, f"{loopback.base}/late")
    assert loopback.requests_to("/late")[0].headers["X-Key"] == "late-value"
    assert loopback.requests_to("/early") == []


def test_unknown_provider_or_unreadable_secret_is_a_clear_error(
    aws: Any, control: Any, loopback: Loopback
) -> None:
    missing = (
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/apikeycredentialprovider/nope"
    )
    with pytest.raises(OutboundAuthError, match="nope does not exist"):
        get(outbound_auth(api_key_config(missing), ProviderLookup()), f"{loopback.base}/x")
    arn = control.create_api_key_credential_provider(
        name="gone", apiKeySecretSource="EXTERNAL", apiKeySecretConfig={"secretId": "absent", "jsonKey": "k"}
    )["credentialProviderArn"]
    with pytest.raises(OutboundAuthError, match=r"'gone'.*cannot be read"):
        get(outbound_auth(api_key_config(arn), ProviderLookup()), f"{loopback.base}/x")
    assert loopback.requests_to("/x") == []


def test_configurations_it_cannot_apply_are_refused() -> None:
    lookup = ProviderLookup()
    assert outbound_auth([], lookup) is None and outbound_auth(None, lookup) is None
    with pytest.raises(OutboundAuthError, match="exactly one"):
        outbound_auth(api_key_config("arn:a") * 2, lookup)
    with pytest.raises(OutboundAuthError, match="providerArn"):
        outbound_auth([{"credentialProviderType": "API_KEY"}], lookup)
    with pytest.raises(OutboundAuthError, match="AUTHORIZATION_CODE is not emulated"):
        outbound_auth(oauth_config("arn:a", grantType="AUTHORIZATION_CODE"), lookup)
    with pytest.raises(OutboundAuthError, match="JWT_PASSTHROUGH"):
        outbound_auth([{"credentialProviderType": "JWT_PASSTHROUGH"}], lookup)


# -- GATEWAY_IAM_ROLE (SigV4) -----------------------------------------------------------------


def iam_config(**provider: str) -> list[dict[str, Any]]:
    return [
        {
            "credentialProviderType": "GATEWAY_IAM_ROLE",
            "credentialProvider": {"iamCredentialProvider": provider},
        }
    ]


def sigv4_signature_ok(loopback: Loopback, seen: Any, service: str, region: str) -> bool:
    """Recompute the signature from what arrived, as the receiving service does."""
    scheme, _, rest = seen.headers["Authorization"].partition(" ")
    assert scheme == "AWS4-HMAC-SHA256"
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    assert parts["Credential"].endswith(f"/{region}/{service}/aws4_request")
    received = {k.lower(): v for k, v in seen.headers.items()}
    headers = {name: received[name] for name in parts["SignedHeaders"].split(";")}
    request = AWSRequest(method=seen.method, url=loopback.base + seen.target, data=seen.body, headers=headers)
    request.context["timestamp"] = received["x-amz-date"]
    signer = SigV4Auth(Credentials("testing", "testing", "testing"), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return bool(expected == parts["Signature"])


def test_gateway_iam_role_signs_with_sigv4(aws: Any, loopback: Loopback) -> None:
    auth = outbound_auth(iam_config(service="execute-api", region="us-west-2"), ProviderLookup())
    with httpx.Client(auth=auth) as client:
        client.post(f"{loopback.base}/prod/items?b=2&a=1", json={"name": "x"}, headers={"X-Amz-Meta": "m"})
    (seen,) = loopback.requests_to("/prod/items")
    assert seen.headers["X-Amz-Security-Token"] == "testing"
    assert sigv4_signature_ok(loopback, seen, "execute-api", "us-west-2")
    seen.body = b'{"name": "y"}'  # the check can fail: another body, another signature
    assert not sigv4_signature_ok(loopback, seen, "execute-api", "us-west-2")


def test_gateway_iam_role_region_defaults_and_httpx2(aws: Any, loopback: Loopback) -> None:
    auth = mcp_outbound_auth(iam_config(service="bedrock-agentcore"), ProviderLookup())

    async def call() -> None:
        async with httpx2.AsyncClient(auth=auth) as client:
            await client.post(f"{loopback.base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})

    asyncio.run(call())
    (seen,) = loopback.requests_to("/mcp")
    assert sigv4_signature_ok(loopback, seen, "bedrock-agentcore", aws.region)


def test_gateway_iam_role_needs_a_signing_name() -> None:
    with pytest.raises(OutboundAuthError, match=r"iamCredentialProvider\.service"):
        outbound_auth([{"credentialProviderType": "GATEWAY_IAM_ROLE"}], ProviderLookup())
    with pytest.raises(OutboundAuthError, match="region must match"):
        outbound_auth(iam_config(service="execute-api", region="us west"), ProviderLookup())


# -- OAuth2 client credentials ----------------------------------------------------------------


def test_token_is_fetched_once_and_cached(control: Any, loopback: Loopback) -> None:
    loopback.require_token = True
    arn = oauth_provider(control, loopback)
    config = oauth_config(arn, scopes=["read", "write"], customParameters={"audience": "https://api.example"})
    responses = asyncio.run(aget(outbound_auth(config, ProviderLookup()), f"{loopback.base}/api", times=3))
    # Another auth object for the same provider, scopes and parameters shares the token.
    get(outbound_auth(config, ProviderLookup()), f"{loopback.base}/api")
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len(loopback.requests_to("/.well-known/openid-configuration")) == 1
    (token_request,) = loopback.requests_to("/token")
    assert token_request.form == {
        "grant_type": ["client_credentials"],
        "scope": ["read write"],
        "audience": ["https://api.example"],
    }
    assert token_request.headers["Authorization"].startswith("Basic ")  # the RFC's default, offered first
    assert {s.headers["Authorization"] for s in loopback.requests_to("/api")} == {"Bearer tok-1"}


def test_concurrent_calls_wait_for_one_token(control: Any, loopback: Loopback) -> None:
    auth = outbound_auth(oauth_config(oauth_provider(control, loopback)), ProviderLookup())

    async def many() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            replies = await asyncio.gather(*(client.get(f"{loopback.base}/c") for _ in range(20)))
        return [r.status_code for r in replies]

    assert asyncio.run(many()) == [200] * 20
    assert len(loopback.requests_to("/token")) == 1


def test_client_secret_post_when_the_server_offers_only_that(control: Any, loopback: Loopback) -> None:
    loopback.auth_methods = ("client_secret_post",)
    loopback.require_token = True
    auth = outbound_auth(oauth_config(oauth_provider(control, loopback)), ProviderLookup())
    assert get(auth, f"{loopback.base}/api").status_code == 200
    (token_request,) = loopback.requests_to("/token")
    assert "Authorization" not in token_request.headers
    assert token_request.form["client_id"] == [loopback.client_id]


def test_authorization_server_metadata_and_a_chosen_method(control: Any, loopback: Loopback) -> None:
    loopback.require_token = True
    metadata = {
        "issuer": loopback.base,
        "authorizationEndpoint": f"{loopback.base}/authorize",
        "tokenEndpoint": f"{loopback.base}/token",
    }
    arn = oauth_provider(
        control,
        loopback,
        oauthDiscovery={"authorizationServerMetadata": metadata},
        clientAuthenticationMethod="CLIENT_SECRET_POST",
    )
    assert get(outbound_auth(oauth_config(arn), ProviderLookup()), f"{loopback.base}/api").status_code == 200
    assert loopback.requests_to("/.well-known/openid-configuration") == []
    assert loopback.requests_to("/token")[0].form["client_secret"] == [loopback.client_secret]


def test_a_401_refreshes_the_token_and_retries_once(control: Any, loopback: Loopback) -> None:
    loopback.require_token = True
    auth = outbound_auth(oauth_config(oauth_provider(control, loopback)), ProviderLookup())
    get(auth, f"{loopback.base}/api")
    loopback.revoke_all()  # the API no longer takes tok-1
    response = asyncio.run(aget(auth, f"{loopback.base}/api"))[0]
    assert response.status_code == 200
    assert [s.headers["Authorization"] for s in loopback.requests_to("/api")] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert len(loopback.requests_to("/token")) == 2

    # An API that refuses every token gets exactly one retry, and its 401 comes back.
    loopback.issued.clear()
    response = get(auth, f"{loopback.base}/api")
    assert response.status_code == 401
    assert len(loopback.requests_to("/token")) == 3
    assert len(loopback.requests_to("/api")) == 5


def test_an_expired_token_is_replaced(control: Any, loopback: Loopback) -> None:
    loopback.expires_in = 0  # stale at once: every call needs a new one
    auth = outbound_auth(oauth_config(oauth_provider(control, loopback)), ProviderLookup())
    asyncio.run(aget(auth, f"{loopback.base}/api", times=2))
    assert [s.headers["Authorization"] for s in loopback.requests_to("/api")] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_updating_the_provider_drops_its_tokens(control: Any, loopback: Loopback) -> None:
    arn = oauth_provider(control, loopback)
    auth = outbound_auth(oauth_config(arn), ProviderLookup())
    get(auth, f"{loopback.base}/api")
    loopback.client_secret = "rotated-secret-77"
    control.update_oauth2_credential_provider(
        name="oauth",
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": loopback.discovery_url},
                "clientId": loopback.client_id,
                "clientSecret": "rotated-secret-77",
            }
        },
    )
    get(auth, f"{loopback.base}/api")
    assert [s.headers["Authorization"] for s in loopback.requests_to("/api")] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_httpx2_auth_for_the_mcp_client(control: Any, loopback: Loopback) -> None:
    loopback.require_token = True
    auth = mcp_outbound_auth(oauth_config(oauth_provider(control, loopback)), ProviderLookup())
    assert isinstance(auth, httpx2.Auth)

    async def call() -> int:
        async with httpx2.AsyncClient(auth=auth) as client:
            return (await client.post(f"{loopback.base}/mcp", json={"jsonrpc": "2.0"})).status_code

    assert asyncio.run(call()) == 200
    assert loopback.requests_to("/mcp")[0].headers["Authorization"] == "Bearer tok-1"


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            (401, {"error": "invalid_client", "error_description": "bad secret loop-secret-5f8e2a"}),
            "HTTP 401: invalid_client - bad secret \\*\\*\\*",
        ),
        ((500, {"oops": True}), "answered HTTP 500$"),
        ((200, {"token_type": "Bearer"}), "without an access_token"),
        ((200, {"access_token": "t", "token_type": "mac"}), "'mac' token"),
    ],
)
def test_token_endpoint_failures_are_clear_and_hold_no_secret(
    control: Any, loopback: Loopback, caplog: pytest.LogCaptureFixture, failure: Any, expected: str
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback.token_failure = failure
    auth = outbound_auth(oauth_config(oauth_provider(control, loopback)), ProviderLookup())
    with pytest.raises(OutboundAuthError, match=expected) as caught:
        asyncio.run(aget(auth, f"{loopback.base}/api"))
    message = str(caught.value)
    assert "credential provider 'oauth'" in message and f"{loopback.base}/token" in message
    assert loopback.client_secret not in message
    assert loopback.requests_to("/api") == []
    _no_secret_logged(caplog, loopback.client_secret)


def test_unreachable_or_slow_token_endpoints(control: Any, loopback: Loopback) -> None:
    arn = oauth_provider(control, loopback)
    loopback.token_delay_s = 2.0
    with pytest.raises(OutboundAuthError, match="did not answer in time"):
        get(outbound_auth(oauth_config(arn), ProviderLookup(), token_timeout_s=0.3), f"{loopback.base}/api")
    loopback.token_delay_s = 0.0
    loopback.close()
    oauth2_tokens.forget_all()
    with pytest.raises(OutboundAuthError, match="could not reach the discovery URL"):
        asyncio.run(aget(outbound_auth(oauth_config(arn), ProviderLookup()), f"{loopback.base}/api"))


def test_a_wrong_client_secret_is_invalid_client(
    control: Any, loopback: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    arn = oauth_provider(control, loopback, clientSecret="not-the-right-one-0d1")
    with pytest.raises(OutboundAuthError, match="HTTP 401: invalid_client") as caught:
        get(outbound_auth(oauth_config(arn), ProviderLookup()), f"{loopback.base}/api")
    assert "not-the-right-one-0d1" not in str(caught.value)
    _no_secret_logged(caplog, "not-the-right-one-0d1")


def _no_secret_logged(caplog: pytest.LogCaptureFixture, secret: str) -> None:
    # botocore's own DEBUG lines are the test's boto3 client (it sends the secret on purpose).
    for record in caplog.records:
        if not record.name.startswith(("botocore", "boto3", "urllib3")):
            assert secret not in record.getMessage(), record.name
