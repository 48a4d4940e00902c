"""Faults during provisioning, on emulated AWS with the real state machine and handlers.

Already covered in tests/statemachine/test_provision_workflow.py (not repeated here):
throttled CreateGateway retried, ValidationException not retried, gateway FAILED → full
rollback, teardown leaves nothing and a second teardown succeeds, IAM propagation waited out.

Here: every service the workflow calls answers with *its own* transient error codes (they
differ per service: IAM says `Throttling`, SSM `TooManyUpdates`, Secrets Manager
`InternalServiceError`…) more often than botocore's in-process retries absorb, and the
workflow still succeeds; a target that ends FAILED on create rolls everything back; teardown
of a stack whose resources were partly deleted by hand succeeds, twice.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from moto.bedrockagentcorecontrol.exceptions import BedrockAgentCoreControlClientError
from moto.bedrockagentcorecontrol.models import BedrockAgentCoreControlBackend
from moto.cognitoidp.models import CognitoIdpBackend
from moto.core.exceptions import JsonRESTError, ServiceException
from moto.iam.exceptions import IAMException
from moto.iam.models import IAMBackend
from moto.secretsmanager.models import SecretsManagerBackend
from moto.ssm.models import SimpleSystemManagerBackend

from agentgw_local.aws import EmulatedAws
from agentgw_local.provision import ProvisionResult, provision, teardown

_spec = importlib.util.spec_from_file_location(
    "sm_inventory_for_reliability", Path(__file__).parents[1] / "statemachine" / "sm_inventory.py"
)
assert _spec is not None and _spec.loader is not None
sm_inventory = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sm_inventory  # its dataclasses look their module up
_spec.loader.exec_module(sm_inventory)  # one definition of "everything the workflow creates"

STACK = "agentgw-faults"
ROLE = f"{STACK}-GatewayRole"
# botocore (standard mode, 3 attempts) retries the throttling codes itself: inject one more than
# that so the state machine's Retry must act. Other codes reach the state machine at once: one
# injected error is enough to need its Retry (and keeps the run short: its back-off really sleeps).
BOTOCORE_RETRIES = {"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException"}


def times_for(error: Any) -> int:
    return 4 if error.aws_code in BOTOCORE_RETRIES else 1


def run(aws: EmulatedAws, **kwargs: Any) -> ProvisionResult:
    return provision(aws, stack_name=STACK, wait_seconds=0, **kwargs)


def transient(base: type[Exception], code: str) -> Any:
    """An error the emulator answers in the service's own protocol (each moto backend
    serialises its own exception family), with the given AWS error code."""

    def make() -> Exception:
        if issubclass(base, ServiceException):
            return type(code, (base,), {"code": code})("injected transient error")
        return base(code, "injected transient error")

    make.aws_code = code  # type: ignore[attr-defined]
    return make


TRANSIENT = [
    pytest.param(
        CognitoIdpBackend,
        "create_user_pool",
        transient(JsonRESTError, "TooManyRequestsException"),
        id="cognito-TooManyRequests",
    ),
    pytest.param(
        CognitoIdpBackend,
        "create_user_pool",
        transient(JsonRESTError, "InternalErrorException"),
        id="cognito-InternalError",
    ),
    pytest.param(
        SecretsManagerBackend,
        "create_secret",
        transient(JsonRESTError, "ThrottlingException"),
        id="secrets-Throttling",
    ),
    pytest.param(
        SecretsManagerBackend,
        "create_secret",
        transient(JsonRESTError, "InternalServiceError"),
        id="secrets-InternalServiceError",
    ),
    pytest.param(IAMBackend, "put_role_policy", transient(IAMException, "Throttling"), id="iam-Throttling"),
    pytest.param(
        IAMBackend,
        "put_role_policy",
        transient(IAMException, "ConcurrentModification"),
        id="iam-ConcurrentModification",
    ),
    pytest.param(
        IAMBackend, "put_role_policy", transient(IAMException, "ServiceFailure"), id="iam-ServiceFailure"
    ),
    pytest.param(
        SimpleSystemManagerBackend,
        "put_parameter",
        transient(JsonRESTError, "ThrottlingException"),
        id="ssm-Throttling",
    ),
    pytest.param(
        SimpleSystemManagerBackend,
        "put_parameter",
        transient(JsonRESTError, "TooManyUpdates"),
        id="ssm-TooManyUpdates",
    ),
    pytest.param(
        BedrockAgentCoreControlBackend,
        "create_gateway_target",
        transient(BedrockAgentCoreControlClientError, "ThrottlingException"),
        id="agentcore-target-Throttling",
    ),
    pytest.param(
        BedrockAgentCoreControlBackend,
        "create_gateway",
        transient(BedrockAgentCoreControlClientError, "ThrottledException"),
        id="agentcore-Throttled",
    ),
    pytest.param(
        BedrockAgentCoreControlBackend,
        "create_gateway",
        transient(BedrockAgentCoreControlClientError, "RetryableConflictException"),
        id="agentcore-RetryableConflict",
    ),
]


@pytest.mark.parametrize(("backend", "method", "error"), TRANSIENT)
def test_transient_errors_of_each_service_are_retried(
    aws: EmulatedAws, backend: type, method: str, error: Any
) -> None:
    times = times_for(error)
    with aws.inject_errors(backend, method, error, times=times) as raised:
        result = run(aws)

    assert result.status == "SUCCEEDED", result.error
    assert raised == [times]
    found = sm_inventory.inventory(aws, ROLE)
    assert len(found["gateways"]) == 1 and len(found["targets"]) == 1
    assert len(found["secrets"]) == 1 and len(found["parameters"]) == 1


def test_target_failed_on_create_rolls_back_to_nothing(
    aws: EmulatedAws, created_failed: Callable[..., None]
) -> None:
    created_failed("create_gateway_target")
    result = run(aws)

    assert result.status == "FAILED"
    assert "TargetFailed" in (result.error or "")
    assert "Rollback" in result.states
    assert sm_inventory.empty(sm_inventory.inventory(aws, ROLE)) == {}


def test_teardown_after_resources_were_deleted_by_hand_succeeds_twice(aws: EmulatedAws) -> None:
    provisioned = run(aws)
    assert provisioned.status == "SUCCEEDED", provisioned.error
    # Someone deleted the gateway's target and the secret by hand before `sam delete`.
    control = aws.client("bedrock-agentcore-control")
    gateway_id = sm_inventory.inventory(aws, ROLE)["gateways"][0]
    for target in control.list_gateway_targets(gatewayIdentifier=gateway_id)["items"]:
        control.delete_gateway_target(gatewayIdentifier=gateway_id, targetId=target["targetId"])
    secrets = aws.client("secretsmanager")
    for secret in secrets.list_secrets()["SecretList"]:
        secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)

    first = teardown(aws, stack_name=STACK)
    second = teardown(aws, stack_name=STACK)

    assert first.status == "SUCCEEDED", first.error
    assert second.status == "SUCCEEDED", second.error
    assert sm_inventory.empty(sm_inventory.inventory(aws, ROLE)) == {}
