"""Each provisioning function's IAM policy in template.yaml allows every AWS call it makes.

The calls are recorded while the real workflow runs (create, teardown, a failed create that
rolls back, and the custom resource starting an execution), attributed to the handler on the
call stack, and checked against that function's `Policies` statements. A missing permission
here would fail the first real deployment.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.model import OperationModel
from sm_inventory import cfn_endpoint, cfn_event

from agentgw.provisioning import aws as provisioning_aws
from agentgw_local.aws import EmulatedAws
from agentgw_local.cloudformation import deploy
from agentgw_local.provision import provision, teardown
from agentgw_local.template import Template

STACK = "agentgw-iam"
HANDLER_FILE = "functions/provisioning/app.py"
# API operations whose IAM actions are named otherwise (S3), each with every action it needs:
# DeleteObjects checks s3:DeleteObject per key, and s3:DeleteObjectVersion when a version is given.
IAM_ACTIONS = {
    "s3:ListObjectVersions": ["s3:ListBucketVersions"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:DeleteObjects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
}


def handler_on_stack() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(HANDLER_FILE) and not frame.f_code.co_name.startswith("_"):
            return frame.f_code.co_name
        frame = frame.f_back  # type: ignore[assignment]
    return None


@pytest.fixture
def calls(aws: EmulatedAws) -> Iterator[list[tuple[str, str]]]:
    recorded: list[tuple[str, str]] = []

    def record(model: OperationModel, **_: Any) -> None:
        handler = handler_on_stack()
        if handler is not None:
            recorded.append((handler, f"{model.service_model.signing_name}:{model.name}"))

    session = boto3._get_default_session()
    session.events.register("before-parameter-build", record, unique_id="agentgw-iam-recorder")
    provisioning_aws._clients.clear()
    try:
        yield recorded
    finally:
        session.events.unregister("before-parameter-build", unique_id="agentgw-iam-recorder")
        provisioning_aws._clients.clear()


def allowed_actions(resource: dict[str, Any], template: Template) -> list[str]:
    """The actions a function's `Policies` allow: inline statements and the template's managed policies."""
    actions: list[str] = []
    for policy in resource["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Ref" in policy:  # an AWS::IAM::ManagedPolicy of this template
            policy = template.resources[policy["Ref"]]["Properties"]["PolicyDocument"]
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement.get("Effect") == "Allow":
                action = statement["Action"]
                actions += [action] if isinstance(action, str) else action
    return actions


def test_every_call_is_allowed_by_the_functions_policy(
    aws: EmulatedAws,
    calls: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    created_failed: Callable[..., None],
) -> None:
    assert provision(aws, stack_name=STACK).status == "SUCCEEDED"
    assert provision(aws, stack_name=STACK).status == "SUCCEEDED"  # the converging path reads more
    # Sessions in the agent's bucket, so the teardown has to empty it.
    bucket = str(deploy(aws, stack_name=STACK).properties["SessionBucketName"])
    aws.client("s3").put_object(Bucket=bucket, Key="sessions/session_a/session.json", Body=b"{}")
    assert teardown(aws, stack_name=STACK).status == "SUCCEEDED"

    created_failed("create_gateway")
    assert provision(aws, stack_name=STACK).status == "FAILED"  # runs Rollback
    monkeypatch.undo()

    deployment = deploy(aws, stack_name=STACK, parameters={"PollIntervalSeconds": 0})
    with cfn_endpoint() as endpoint:
        event = cfn_event("Create", endpoint, deployment.properties)
        aws.client("lambda").invoke(FunctionName=event["ServiceToken"], Payload=json.dumps(event).encode())
        assert endpoint.wait(1)[0]["Status"] == "SUCCESS"

    template = Template()
    by_handler = {
        spec.handler.split(".", 1)[1]: template.resources[logical_id]
        for logical_id, spec in template.functions().items()
        if str(spec.code_uri).endswith("functions/provisioning")
    }
    seen_handlers = {handler for handler, _ in calls}
    assert seen_handlers >= {
        "create_authorizer",
        "create_gateway",
        "fix_iam_permissions",
        "check_gateway",
        "create_target",
        "check_targets",
        "publish_config",
        "rollback",
        "teardown",
        "custom_resource",
    }
    missing = sorted(
        {
            f"{handler}: {action}"
            for handler, call in calls
            for action in IAM_ACTIONS.get(call, [call])
            if not any(
                fnmatch.fnmatchcase(action, allowed)
                for allowed in allowed_actions(by_handler[handler], template)
            )
        }
    )
    assert missing == []
    assert ("teardown", "s3:DeleteObjects") in calls  # the bucket-emptying calls were checked too
