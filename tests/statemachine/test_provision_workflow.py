"""The real statemachine/provision.asl.json, run by moto's ASL interpreter with the real
handlers from template.yaml, against emulated AWS (see tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from moto.bedrockagentcorecontrol.exceptions import BedrockAgentCoreControlClientError
from moto.bedrockagentcorecontrol.models import BedrockAgentCoreControlBackend, Gateway
from sm_inventory import empty, inventory

from agentgw import tools
from agentgw.config import ClientCredentials, GatewayConfig
from agentgw.provisioning.names import INLINE_POLICY_NAME, ResourceNames
from agentgw_local.aws import ACCOUNT_ID, EmulatedAws
from agentgw_local.cloudformation import deploy
from agentgw_local.execution import StateEvent
from agentgw_local.provision import ProvisionResult, provision, teardown
from agentgw_local.settings import local_stack_urls

STACK = "agentgw-test"
ROLE = f"{STACK}-GatewayRole"
GATEWAY_MODEL = "bedrock-agentcore-control::gateway"


class ThrottlingException(BedrockAgentCoreControlClientError):
    code = "ThrottlingException"


class ValidationException(BedrockAgentCoreControlClientError):
    code = "ValidationException"


def names(aws: EmulatedAws) -> ResourceNames:
    return ResourceNames(STACK, ACCOUNT_ID, aws.region)


def run(aws: EmulatedAws, **kwargs: Any) -> ProvisionResult:
    return provision(aws, stack_name=STACK, wait_seconds=0, **kwargs)


def history(aws: EmulatedAws, result: ProvisionResult) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=result.execution_arn):
        events += page["events"]
    return events


def failed_tasks(events: list[dict[str, Any]]) -> list[str]:
    return [
        str((e.get("taskFailedEventDetails") or e.get("lambdaFunctionFailedEventDetails") or {}).get("error"))
        for e in events
        if e["type"] in ("TaskFailed", "LambdaFunctionFailed")
    ]


@pytest.fixture
def local_urls(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    urls = local_stack_urls("http://127.0.0.1:18080")
    for key, value in urls.items():
        monkeypatch.setenv(key, value)
    return urls


def test_happy_path_provisions_a_working_configuration(aws: EmulatedAws, local_urls: dict[str, str]) -> None:
    seen: list[StateEvent] = []
    result = run(aws, on_state=seen.append, exception_level="DEBUG")

    assert result.status == "SUCCEEDED", result.error
    assert result.states == [
        "ChooseAction",
        "CreateAuthorizer",
        "CreateGateway",
        "FixIamPermissions",
        "InitGatewayPoll",
        "CheckGateway",
        "GatewayReady",
        "CreateTargets",
        "CreateTarget",
        "InitTargetPoll",
        "CheckTargets",
        "TargetsReady",
        "PruneTargets",
        "PublishConfig",
        "ReportSuccess",
        "Done",
    ]
    # Each state entered was reported, and left, as it happened.
    assert [e.state for e in seen if e.phase == "entered"] == result.states
    assert sorted(e.state for e in seen if e.phase == "exited") == sorted(result.states)

    control = aws.client("bedrock-agentcore-control")
    assert result.gateway is not None and result.gateway["status"] == "READY"
    gateway = control.get_gateway(gatewayIdentifier=result.gateway["id"])
    n = names(aws)
    assert gateway["name"] == n.gateway
    assert gateway["protocolType"] == "MCP"
    assert gateway["protocolConfiguration"]["mcp"]["searchType"] == "SEMANTIC"
    assert gateway["protocolConfiguration"]["mcp"]["supportedVersions"] == [
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        "2026-07-28",
    ]
    assert gateway["authorizerType"] == "CUSTOM_JWT"
    assert gateway["exceptionLevel"] == "DEBUG"
    jwt = gateway["authorizerConfiguration"]["customJWTAuthorizer"]
    assert result.config is not None
    assert jwt["allowedClients"] == [result.config.client_id]
    assert jwt["discoveryUrl"] == result.config.discovery_url
    assert jwt["discoveryUrl"].endswith("/.well-known/openid-configuration")

    # Published URLs point at the local stack (agentgw.endpoints honours its variables).
    assert result.config.gateway_url == f"http://127.0.0.1:18080/gateways/{result.gateway['id']}/mcp"
    assert result.config.discovery_url.startswith("http://127.0.0.1:18080/cognito-idp/")
    assert result.config.token_url == f"http://127.0.0.1:18080/cognito/{n.cognito_domain}/oauth2/token"
    assert result.config.scope == n.scope
    stored = aws.client("ssm").get_parameter(Name=result.parameter_name)["Parameter"]
    assert stored["Type"] == "String"
    assert GatewayConfig.from_json(stored["Value"]) == result.config

    # The target carries the tool schemas from the single source of truth.
    (target,) = control.list_gateway_targets(gatewayIdentifier=result.gateway["id"])["items"]
    detail = control.get_gateway_target(gatewayIdentifier=result.gateway["id"], targetId=target["targetId"])
    assert detail["name"] == tools.target_name()
    lambda_config = detail["targetConfiguration"]["mcp"]["lambda"]
    assert lambda_config["toolSchema"]["inlinePayload"] == tools.tool_definitions()
    tools_arn = aws.client("lambda").get_function(FunctionName=f"{STACK}-ToolsFunction")["Configuration"][
        "FunctionArn"
    ]
    assert lambda_config["lambdaArn"] == tools_arn
    assert result.targets == [{"name": tools.target_name(), "id": target["targetId"], "status": "READY"}]

    # Cognito: client_credentials only, the invoke scope, and the secret in Secrets Manager only.
    cognito = aws.client("cognito-idp")
    pool_id = result.config.discovery_url.split("/")[-3]
    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=result.config.client_id)[
        "UserPoolClient"
    ]
    assert client["AllowedOAuthFlows"] == ["client_credentials"]
    assert client["AllowedOAuthScopes"] == [n.scope]
    secret = aws.client("secretsmanager").get_secret_value(SecretId=result.config.client_secret_arn)
    assert ClientCredentials.from_secret_string(secret["SecretString"]) == ClientCredentials(
        result.config.client_id, client["ClientSecret"]
    )

    # IAM: trust only this gateway; invoke only the target function.
    iam = aws.client("iam")
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": gateway["gatewayArn"]}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    policy = iam.get_role_policy(RoleName=ROLE, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
    assert policy["Statement"] == [
        {
            "Sid": "InvokeTargetFunctions",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [tools_arn],
        }
    ]


def test_second_run_converges_on_the_same_resources(aws: EmulatedAws) -> None:
    first = run(aws)
    before = inventory(aws, ROLE)
    second = run(aws)

    assert first.status == second.status == "SUCCEEDED", second.error
    assert second.gateway is not None and first.gateway is not None
    assert second.gateway["id"] == first.gateway["id"]
    assert second.config == first.config
    assert inventory(aws, ROLE) == before
    assert {kind: len(items) for kind, items in before.items()} == {
        "gateways": 1,
        "targets": 1,
        "user_pools": 1,
        "app_clients": 1,
        "resource_servers": 1,
        "domains": 1,
        "secrets": 1,
        "parameters": 1,
        "role_policies": 1,
    }
    # Nothing was created (or needlessly updated) the second time.
    out = second.output
    assert out["authorizer"]["created"] == []
    assert out["gateway"]["created"] is False and out["gateway"]["updated"] is False
    assert [t["created"] for t in out["targetResults"]] == [False]
    assert out["iam"]["created"] is False
    assert out["published"]["created"] is False


def test_gateway_creating_for_several_polls_then_ready(aws: EmulatedAws, hold_transitions: Any) -> None:
    hold_transitions(GATEWAY_MODEL, 3)  # CREATING for 3 GetGateway calls, then READY
    result = run(aws)

    assert result.status == "SUCCEEDED", result.error
    assert result.states.count("CheckGateway") == 3
    assert result.states.count("WaitForGateway") == 2
    assert result.gateway is not None and result.gateway["status"] == "READY"


def test_gateway_that_never_gets_ready_fails_after_bounded_polls(
    aws: EmulatedAws, hold_transitions: Any
) -> None:
    hold_transitions(GATEWAY_MODEL, 1000)
    result = run(aws, max_polls=4)

    assert result.status == "FAILED"
    assert result.states.count("CheckGateway") == 4
    assert "NotReadyInTime" in (result.error or "")
    assert empty(inventory(aws, ROLE)) == {}


def test_gateway_failed_rolls_back_everything(
    aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch, created_failed: Callable[..., None]
) -> None:
    # Emulate the service: the new gateway ends FAILED, with reasons GetGateway reports.
    original_to_dict = Gateway.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        data = original_to_dict(self)
        if getattr(self, "status_reasons", None):
            data["statusReasons"] = self.status_reasons
        return data

    created_failed(
        "create_gateway", status_reasons=["Role cannot be assumed by bedrock-agentcore.amazonaws.com"]
    )
    monkeypatch.setattr(Gateway, "to_dict", to_dict)
    result = run(aws)

    assert result.status == "FAILED"
    assert "CheckGateway" in result.states
    assert result.states[-3:] == ["Rollback", "ReportFailure", "Failed"]
    assert "GatewayFailed" in (result.error or "")
    assert "Role cannot be assumed" in (result.error or "")
    assert empty(inventory(aws, ROLE)) == {}
    events = history(aws, result)
    rollback_exit = next(
        e
        for e in events
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Rollback"
    )
    deleted = json.loads(rollback_exit["stateExitedEventDetails"]["output"])["rollback"]["deleted"]
    assert {item.split(":")[0] for item in deleted} >= {"gateway", "rolePolicy", "secret", "userPool"}


def test_throttled_create_gateway_is_retried(aws: EmulatedAws) -> None:
    # botocore's own retries (3 attempts) absorb the first three; the state machine retries the rest.
    with aws.inject_errors(
        BedrockAgentCoreControlBackend,
        "create_gateway",
        lambda: ThrottlingException("ThrottlingException", "Rate exceeded"),
        times=4,
    ) as raised:
        result = run(aws)

    assert raised == [4]
    assert result.status == "SUCCEEDED", result.error
    assert "ThrottlingException" in failed_tasks(history(aws, result))
    assert len(inventory(aws, ROLE)["gateways"]) == 1


def test_validation_error_is_not_retried(aws: EmulatedAws) -> None:
    with aws.inject_errors(
        BedrockAgentCoreControlBackend,
        "create_gateway",
        lambda: ValidationException("ValidationException", "1 validation error detected"),
        times=5,
    ) as raised:
        result = run(aws)

    assert raised == [1]
    assert result.status == "FAILED"
    assert failed_tasks(history(aws, result)) == ["ValidationException"]
    assert empty(inventory(aws, ROLE)) == {}


def test_teardown_leaves_nothing_behind(aws: EmulatedAws) -> None:
    provisioned = run(aws)
    assert provisioned.status == "SUCCEEDED", provisioned.error
    assert all(inventory(aws, ROLE).values())

    removed = teardown(aws, stack_name=STACK)

    assert removed.status == "SUCCEEDED", removed.error
    assert removed.states == ["ChooseAction", "Teardown", "ReportSuccess", "Done"]
    assert empty(inventory(aws, ROLE)) == {}
    # The role itself belongs to CloudFormation; only our inline policy is removed.
    assert aws.client("iam").get_role(RoleName=ROLE)["Role"]["RoleName"] == ROLE
    # Teardown of nothing is fine too (sam delete after a failed create).
    again = teardown(aws, stack_name=STACK)
    assert again.status == "SUCCEEDED", again.error
    assert again.output["teardown"]["deleted"] == []


def test_client_secret_never_appears_in_history_or_logs(
    aws: EmulatedAws, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record) + repr(record.__dict__))

    deploy(aws, stack_name=STACK)  # import the handlers (and set up their loggers) first
    collector = Collect(level=logging.DEBUG)
    # Our loggers at DEBUG; everything else at INFO. (botocore's DEBUG wire log prints every
    # response body, secrets included — it is off unless someone turns it on deliberately.)
    loggers = [logging.getLogger(n) for n in ("agentgw-provisioning", "agentgw")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(collector)
        lg.setLevel(logging.DEBUG)
    caplog.set_level(logging.INFO)
    try:
        result = run(aws)
        removed = teardown(aws, stack_name="agentgw-other")  # a second execution's history too
    finally:
        for lg, level in saved:
            lg.removeHandler(collector)
            lg.setLevel(level)

    assert result.status == "SUCCEEDED", result.error
    assert result.config is not None
    secret = ClientCredentials.from_secret_string(
        aws.client("secretsmanager").get_secret_value(SecretId=result.config.client_secret_arn)[
            "SecretString"
        ]
    ).client_secret
    assert len(secret) >= 20
    events = history(aws, result) + history(aws, removed)
    assert any("output" in json.dumps(e, default=str) for e in events)  # the history does hold data
    assert secret not in json.dumps(events, default=str)
    assert secret not in json.dumps(result.output)
    assert secret not in json.dumps(result.to_json())
    captured = capfd.readouterr()
    logs = "\n".join(records) + caplog.text + captured.out + captured.err
    assert "agentgw-provisioning" in logs or records  # the handlers did log
    leaks = [line[:300] for line in logs.splitlines() if secret in line]
    assert leaks == []


def test_target_waits_out_iam_propagation(aws: EmulatedAws) -> None:
    # The service test-invokes the function with the role's new policy; IAM may not have spread
    # it yet. That one validation error is retried (bounded); others are not (see above).
    lag = "Gateway execution role lacks permission to invoke Lambda function. Update the permission and retry"
    with aws.inject_errors(
        BedrockAgentCoreControlBackend,
        "create_gateway_target",
        lambda: ValidationException("ValidationException", lag),
        times=1,
    ) as raised:
        result = run(aws)

    assert raised == [1]
    assert result.status == "SUCCEEDED", result.error
    assert failed_tasks(history(aws, result)) == ["PermissionsNotPropagated"]
    assert len(inventory(aws, ROLE)["targets"]) == 1


def test_failed_update_removes_only_what_it_created(
    aws: EmulatedAws, created_failed: Callable[..., None]
) -> None:
    first = run(aws)
    assert first.status == "SUCCEEDED" and first.gateway is not None, first.error
    control = aws.client("bedrock-agentcore-control")
    (target,) = first.targets
    control.delete_gateway_target(gatewayIdentifier=first.gateway["id"], targetId=target["id"])
    before = inventory(aws, ROLE)

    # The update re-creates the missing target, which the service then reports FAILED.
    created_failed("create_gateway_target")
    second = run(aws, action="Update")

    assert second.status == "FAILED"
    assert "TargetFailed" in (second.error or "")
    # The new target is gone; the gateway, authorizer, secret, parameter and policy stay.
    assert inventory(aws, ROLE) == before
    assert before["gateways"] == [first.gateway["id"]] and before["targets"] == []


def session_objects(aws: EmulatedAws, bucket: str) -> list[str]:
    """Every object version and delete marker left in `bucket`."""
    left: list[str] = []
    for page in aws.client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket):
        left += [f"{v['Key']}@{v['VersionId']}" for v in page.get("Versions", [])]
        left += [f"{m['Key']}@{m['VersionId']} (marker)" for m in page.get("DeleteMarkers", [])]
    return left


def test_teardown_empties_the_session_bucket_so_cloudformation_can_delete_it(aws: EmulatedAws) -> None:
    """sam delete: the custom resource's Delete empties the agent's session bucket (every object,
    version and delete marker), then CloudFormation deletes the empty bucket."""
    from agentgw.provisioning import request
    from agentgw_local.execution import run_execution

    assert run(aws).status == "SUCCEEDED"
    deployment = deploy(aws, stack_name=STACK)
    bucket = str(deployment.properties["SessionBucketName"])
    s3 = aws.client("s3")
    # Sessions as Strands' S3SessionManager lays them out, more than one DeleteObjects batch
    # (1000) and list page; then versioning on: an overwritten object and a deleted one.
    keys = [f"sessions/session_s{i}/session.json" for i in range(1001)]
    keys += [f"sessions/session_s0/agents/agent_agentgw/messages/message_{i}.json" for i in range(3)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=keys[0], Body=b'{"v": 2}')
    s3.delete_object(Bucket=bucket, Key=keys[1])
    before = session_objects(aws, bucket)
    assert len(before) == len(keys) + 2
    assert any(entry.endswith("(marker)") for entry in before)

    removed = teardown(aws, stack_name=STACK)

    assert removed.status == "SUCCEEDED", removed.error
    assert f"sessionObjects:{bucket}:{len(before)}" in removed.output["teardown"]["deleted"]
    assert session_objects(aws, bucket) == []
    assert empty(inventory(aws, ROLE)) == {}
    # Teardown again (sam delete retried): nothing left to delete, still SUCCEEDED.
    again = teardown(aws, stack_name=STACK)
    assert again.status == "SUCCEEDED", again.error
    assert again.output["teardown"]["deleted"] == []
    # What CloudFormation does next succeeds only on an empty bucket.
    s3.delete_bucket(Bucket=bucket)
    # And a teardown after the bucket is gone (a Delete retried after CloudFormation got further).
    described, _, _ = run_execution(
        aws, deployment.state_machine_arn, request.from_properties("Delete", deployment.properties)
    )
    assert described["status"] == "SUCCEEDED", described
