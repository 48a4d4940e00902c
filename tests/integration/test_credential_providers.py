"""AgentCore Identity credential providers on the running local stack, through a plain boto3
client pointed at its emulated AWS endpoint (what a user's own code does).

Every response body, the stack's log records and the Secrets Manager listings are scanned for
the key and client secret the tests pass in: the service keeps them, never answers them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from agentgw_local.stack import LocalStack
from integration.stackkit import Kit

API_KEY = "ak-0b3c-never-echoed"
CLIENT_SECRET = "cs-77e1-never-echoed"
EXTERNAL_VALUE = "ext-91aa-never-echoed"
SECRETS = (API_KEY, CLIENT_SECRET, EXTERNAL_VALUE)


class Bodies:
    """Raw response bodies of every call a client makes."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, http_response: Any, **_: Any) -> None:
        self.bodies.append(http_response.content)


@pytest.fixture
def bodies() -> Bodies:
    return Bodies()


def _client(stack: LocalStack, service: str, bodies: Bodies, *, validate: bool = True) -> Any:
    # What `agentgw local up` prints as aws_endpoint (and writes to its state file).
    assert stack.info is not None and stack.info.aws_endpoint_url
    client = boto3.client(
        service,
        endpoint_url=stack.info.aws_endpoint_url,
        region_name=stack.info.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )
    client.meta.events.register("after-call", bodies)
    return client


@pytest.fixture
def control(local_stack: LocalStack, bodies: Bodies) -> Any:
    return _client(local_stack, "bedrock-agentcore-control", bodies)


@pytest.fixture
def raw_control(local_stack: LocalStack, bodies: Bodies) -> Any:
    """Without botocore's own checks, to see what the service answers."""
    return _client(local_stack, "bedrock-agentcore-control", bodies, validate=False)


@pytest.fixture
def secrets(local_stack: LocalStack, bodies: Bodies) -> Any:
    return _client(local_stack, "secretsmanager", bodies)


@pytest.fixture
def stack_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog
    records = caplog.get_records("call")
    assert records  # the stack's own lines (and botocore's) were captured
    for record in records:
        # botocore's DEBUG lines belong to the test's client, which sends the secrets on purpose.
        if not record.name.startswith(("botocore", "boto3", "urllib3")):
            text = record.getMessage()
            assert not any(s in text for s in SECRETS), record.name


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def custom_oauth2(**config: Any) -> dict[str, Any]:
    return {"customOauth2ProviderConfig": config}


def _no_secrets(bodies: Bodies) -> None:
    assert bodies.bodies
    for body in bodies.bodies:
        assert not any(s.encode() in body for s in SECRETS), body[:200]


def test_api_key_provider_lifecycle(control: Any, secrets: Any, bodies: Bodies, stack_logs: Any) -> None:
    name = unique("key")
    created = control.create_api_key_credential_provider(name=name, apiKey=API_KEY, tags={"team": "a"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = created["credentialProviderArn"]
    vault = "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default"
    assert arn == f"{vault}/apikeycredentialprovider/{name}"
    secret_arn = created["apiKeySecretArn"]["secretArn"]
    assert f":secret:bedrock-agentcore-identity!default/apikey/{name}-" in secret_arn
    assert created["apiKeySecretSource"] == "MANAGED"

    got = control.get_api_key_credential_provider(name=name)
    assert got["credentialProviderArn"] == arn and got["apiKeySecretArn"]["secretArn"] == secret_arn
    listed = control.list_api_key_credential_providers()["credentialProviders"]
    assert {"name": name, "credentialProviderArn": arn} in [
        {k: p[k] for k in ("name", "credentialProviderArn")} for p in listed
    ]

    updated = control.update_api_key_credential_provider(name=name, apiKey="ak-rotated-never-echoed")
    assert updated["lastUpdatedTime"] >= got["lastUpdatedTime"]
    assert updated["createdTime"] == got["createdTime"]

    # The managed secret exists in Secrets Manager; its listing holds no value.
    described = secrets.describe_secret(SecretId=secret_arn)
    assert described["Name"] == f"bedrock-agentcore-identity!default/apikey/{name}"
    secrets.list_secrets()

    assert control.delete_api_key_credential_provider(name=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as missing:
        control.get_api_key_credential_provider(name=name)
    assert error(missing)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as again:
        control.delete_api_key_credential_provider(name=name)
    assert error(again)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as gone:
        secrets.describe_secret(SecretId=secret_arn)
    assert error(gone)[0] == "ResourceNotFoundException"
    _no_secrets(bodies)


def test_external_secrets_are_referenced_not_copied(
    control: Any, secrets: Any, bodies: Bodies, stack_logs: Any
) -> None:
    secret_name = unique("team/partner-api")
    secret_arn = secrets.create_secret(Name=secret_name, SecretString=f'{{"key": "{EXTERNAL_VALUE}"}}')["ARN"]
    name = unique("ext")
    created = control.create_api_key_credential_provider(
        name=name,
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": secret_name, "jsonKey": "key"},
    )
    assert created["apiKeySecretArn"]["secretArn"] == secret_arn
    assert (created["apiKeySecretSource"], created["apiKeySecretJsonKey"]) == ("EXTERNAL", "key")
    before = {s["Name"] for s in secrets.list_secrets()["SecretList"]}
    assert f"bedrock-agentcore-identity!default/apikey/{name}" not in before

    oauth = unique("oauth")
    made = control.create_oauth2_credential_provider(
        name=oauth,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput=custom_oauth2(
            oauthDiscovery={
                "authorizationServerMetadata": {
                    "issuer": "https://idp.example.com",
                    "authorizationEndpoint": "https://idp.example.com/authorize",
                    "tokenEndpoint": "https://idp.example.com/token",
                    "tokenEndpointAuthMethods": ["client_secret_post"],
                }
            },
            clientId="partner-client",
            clientSecretSource="EXTERNAL",
            clientSecretConfig={"secretId": secret_arn, "jsonKey": "key"},
        ),
    )
    assert made["clientSecretArn"]["secretArn"] == secret_arn
    assert made["clientSecretSource"] == "EXTERNAL"
    got = control.get_oauth2_credential_provider(name=oauth)
    assert got["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]["clientId"] == "partner-client"
    control.delete_oauth2_credential_provider(name=oauth)
    control.delete_api_key_credential_provider(name=name)
    # Deleting a provider leaves the user's own secret alone.
    assert secrets.describe_secret(SecretId=secret_arn)["Name"] == secret_name
    _no_secrets(bodies)


def test_oauth2_provider_lifecycle(control: Any, secrets: Any, bodies: Bodies, stack_logs: Any) -> None:
    names = [unique("idp") for _ in range(3)]
    config = custom_oauth2(
        oauthDiscovery={"discoveryUrl": "https://idp.example.com/.well-known/openid-configuration"},
        clientId="client-1",
        clientSecret=CLIENT_SECRET,
    )
    for name in names:
        made = control.create_oauth2_credential_provider(
            name=name, credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=config
        )
        assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert made["status"] == "READY"
        assert made["credentialProviderArn"].endswith(f":token-vault/default/oauth2credentialprovider/{name}")
        assert (
            f":secret:bedrock-agentcore-identity!default/oauth2/{name}-"
            in made["clientSecretArn"]["secretArn"]
        )
        assert made["oauth2ProviderConfigOutput"] == {
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {
                    "discoveryUrl": "https://idp.example.com/.well-known/openid-configuration"
                },
                "clientId": "client-1",
            }
        }
        assert made["callbackUrl"].startswith(
            "https://bedrock-agentcore.us-east-1.amazonaws.com/identities/oauth2/callback/"
        )

    got = control.get_oauth2_credential_provider(name=names[0])
    assert got["credentialProviderVendor"] == "CustomOauth2" and got["status"] == "READY"

    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = control.list_oauth2_credential_providers(maxResults=1, **token)
        assert len(page["credentialProviders"]) <= 1
        seen += [p["name"] for p in page["credentialProviders"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert set(names) <= set(seen) and len(seen) == len(set(seen))

    updated = control.update_oauth2_credential_provider(
        name=names[0],
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput=custom_oauth2(
            oauthDiscovery={
                "discoveryUrl": "https://idp2.example.com/.well-known/oauth-authorization-server"
            },
            clientId="client-2",
            clientSecret=CLIENT_SECRET + "-2",
        ),
    )
    assert updated["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]["clientId"] == "client-2"
    for name in names:
        control.delete_oauth2_credential_provider(name=name)
    with pytest.raises(ClientError) as missing:
        control.update_oauth2_credential_provider(
            name=names[0], credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=config
        )
    assert error(missing)[0] == "ResourceNotFoundException"
    _no_secrets(bodies)


def test_switching_between_managed_and_external(
    control: Any, secrets: Any, bodies: Bodies, stack_logs: Any
) -> None:
    secret_name = unique("team/switch")
    external_arn = secrets.create_secret(Name=secret_name, SecretString=f'{{"k": "{EXTERNAL_VALUE}"}}')["ARN"]
    name = unique("switch")
    managed_arn = control.create_api_key_credential_provider(name=name, apiKey=API_KEY)["apiKeySecretArn"][
        "secretArn"
    ]
    switched = control.update_api_key_credential_provider(
        name=name,
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": external_arn, "jsonKey": "k"},
    )
    assert (
        switched["apiKeySecretArn"]["secretArn"] == external_arn
        and switched["apiKeySecretSource"] == "EXTERNAL"
    )
    with pytest.raises(ClientError) as dropped:  # the service's own secret goes with the MANAGED source
        secrets.describe_secret(SecretId=managed_arn)
    assert error(dropped)[0] == "ResourceNotFoundException"
    back = control.update_api_key_credential_provider(name=name, apiKey=API_KEY)
    assert back["apiKeySecretSource"] == "MANAGED" and "apiKeySecretJsonKey" not in back
    assert (
        f":secret:bedrock-agentcore-identity!default/apikey/{name}-" in back["apiKeySecretArn"]["secretArn"]
    )
    control.delete_api_key_credential_provider(name=name)
    assert secrets.describe_secret(SecretId=external_arn)["Name"] == secret_name
    _no_secrets(bodies)


def test_a_name_is_taken_once(control: Any, bodies: Bodies) -> None:
    name = unique("dup")
    control.create_api_key_credential_provider(name=name, apiKey=API_KEY)
    with pytest.raises(ClientError) as conflict:
        control.create_api_key_credential_provider(name=name, apiKey=API_KEY)
    assert error(conflict) == ("ConflictException", f"API key credential provider {name} already exists")
    config = custom_oauth2(
        oauthDiscovery={"discoveryUrl": "https://idp.example.com/.well-known/openid-configuration"},
        clientId="c",
        clientSecret=CLIENT_SECRET,
    )
    # The kinds have their own names.
    control.create_oauth2_credential_provider(
        name=name, credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=config
    )
    with pytest.raises(ClientError) as conflict2:
        control.create_oauth2_credential_provider(
            name=name, credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=config
        )
    assert error(conflict2)[0] == "ConflictException"
    control.delete_oauth2_credential_provider(name=name)
    control.delete_api_key_credential_provider(name=name)
    _no_secrets(bodies)


DISCOVERY = {"discoveryUrl": "https://idp.example.com/.well-known/openid-configuration"}


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "create_api_key_credential_provider",
            {"name": "has space", "apiKey": API_KEY},
            "regular expression pattern",
        ),
        (
            "create_api_key_credential_provider",
            {"name": "x" * 129, "apiKey": API_KEY},
            "length between 1 and 128",
        ),
        ("create_api_key_credential_provider", {"name": "nokey"}, "apiKey is required"),
        (
            "create_api_key_credential_provider",
            {
                "name": "both",
                "apiKey": API_KEY,
                "apiKeySecretSource": "EXTERNAL",
                "apiKeySecretConfig": {"secretId": "s", "jsonKey": "k"},
            },
            "apiKey cannot be set with apiKeySecretSource EXTERNAL",
        ),
        (
            "create_api_key_credential_provider",
            {"name": "noref", "apiKeySecretSource": "EXTERNAL"},
            "apiKeySecretConfig is required",
        ),
        (
            "create_api_key_credential_provider",
            {"name": "badsrc", "apiKey": API_KEY, "apiKeySecretSource": "VAULT"},
            "enum value set",
        ),
        (
            "create_api_key_credential_provider",
            {"name": "badref", "apiKeySecretSource": "EXTERNAL", "apiKeySecretConfig": {"secretId": "s"}},
            "jsonKey is required",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "CustomOauth2",
                "oauth2ProviderConfigInput": {
                    "includedOauth2ProviderConfig": {"clientId": "c", "clientSecret": CLIENT_SECRET}
                },
            },
            "takes oauth2ProviderConfigInput.customOauth2ProviderConfig",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "CustomOauth2",
                "oauth2ProviderConfigInput": custom_oauth2(
                    oauthDiscovery={"discoveryUrl": "https://idp.example.com/openid"},
                    clientId="c",
                    clientSecret=CLIENT_SECRET,
                ),
            },
            "oauthDiscovery.discoveryUrl' failed to satisfy constraint",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "CustomOauth2",
                "oauth2ProviderConfigInput": custom_oauth2(
                    oauthDiscovery={**DISCOVERY, "authorizationServerMetadata": {}},
                    clientId="c",
                    clientSecret=CLIENT_SECRET,
                ),
            },
            "exactly one of discoveryUrl, authorizationServerMetadata",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "CustomOauth2",
                "oauth2ProviderConfigInput": custom_oauth2(
                    oauthDiscovery={
                        "authorizationServerMetadata": {
                            "issuer": "https://i",
                            "authorizationEndpoint": "https://i/a",
                        }
                    },
                    clientId="c",
                    clientSecret=CLIENT_SECRET,
                ),
            },
            "tokenEndpoint is required",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "CustomOauth2",
                "oauth2ProviderConfigInput": custom_oauth2(oauthDiscovery=DISCOVERY, clientId="c"),
            },
            "clientSecret is required",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "GoogleOauth2",
                "oauth2ProviderConfigInput": {
                    "googleOauth2ProviderConfig": {"clientId": "c", "clientSecret": CLIENT_SECRET}
                },
            },
            "GoogleOauth2 providers are not emulated",
        ),
        (
            "create_oauth2_credential_provider",
            {
                "name": "o",
                "credentialProviderVendor": "AcmeOauth2",
                "oauth2ProviderConfigInput": custom_oauth2(),
            },
            "enum value set",
        ),
        (
            "create_api_key_credential_provider",
            {"name": "tagged", "apiKey": API_KEY, "tags": {"bad<key>": "v"}},
            "Member keys must be 1-128 characters",
        ),
        ("list_oauth2_credential_providers", {"maxResults": 21}, "between 1 and 20"),
        ("list_api_key_credential_providers", {"nextToken": "garbage"}, "Invalid nextToken"),
    ],
)
def test_invalid_requests_are_refused(
    raw_control: Any, bodies: Bodies, operation: str, params: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ClientError) as refused:
        getattr(raw_control, operation)(**params)
    code, message = error(refused)
    assert code == "ValidationException"
    assert expected in message
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    _no_secrets(bodies)


def test_gateway_targets_need_an_existing_provider(kit: Kit, control: Any) -> None:
    gateway_id = kit.gateway(kit.cognito())
    lambda_arn = kit.tools_function()
    key_arn = control.create_api_key_credential_provider(name=unique("tkey"), apiKey=API_KEY)[
        "credentialProviderArn"
    ]
    missing_key = key_arn.rsplit("/", 1)[0] + "/absent"
    missing_oauth = key_arn.replace("apikeycredentialprovider", "oauth2credentialprovider")

    def create(kind: str, member: str, arn: str, **extra: Any) -> Any:
        return control.create_gateway_target(
            gatewayIdentifier=gateway_id,
            name=unique("t"),
            targetConfiguration={
                "mcp": {"lambda": {"lambdaArn": lambda_arn, "toolSchema": {"inlinePayload": TOOLS}}}
            },
            credentialProviderConfigurations=[
                {
                    "credentialProviderType": kind,
                    "credentialProvider": {member: {"providerArn": arn, **extra}},
                }
            ],
        )

    for kind, member, arn, extra in [
        ("API_KEY", "apiKeyCredentialProvider", missing_key, {}),
        ("OAUTH", "oauthCredentialProvider", missing_oauth, {"scopes": []}),
        ("OAUTH", "oauthCredentialProvider", key_arn, {"scopes": []}),  # an API key provider is no OAuth2 one
    ]:
        with pytest.raises(ClientError) as refused:
            create(kind, member, arn, **extra)
        assert error(refused) == (
            "ValidationException",
            f"{'API key' if kind == 'API_KEY' else 'OAuth2'} credential provider {arn} does not exist",
        )

    target_id = create("API_KEY", "apiKeyCredentialProvider", key_arn)["targetId"]
    with pytest.raises(ClientError) as update_refused:
        control.update_gateway_target(
            gatewayIdentifier=gateway_id,
            targetId=target_id,
            name=unique("t"),
            targetConfiguration={
                "mcp": {"lambda": {"lambdaArn": lambda_arn, "toolSchema": {"inlinePayload": TOOLS}}}
            },
            credentialProviderConfigurations=[
                {
                    "credentialProviderType": "API_KEY",
                    "credentialProvider": {"apiKeyCredentialProvider": {"providerArn": missing_key}},
                }
            ],
        )
    assert error(update_refused)[0] == "ValidationException"
    control.delete_gateway_target(gatewayIdentifier=gateway_id, targetId=target_id)


TOOLS = [{"name": "echo", "description": "Echo", "inputSchema": {"type": "object", "properties": {}}}]
