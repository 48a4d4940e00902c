"""Least privilege: every IAM policy in template.yaml, and the inline policy provisioning
puts on the gateway role at run time, grants named actions on named resources.

Fails on: a wildcard in an action (`*`, `s3:*`, `iam:Pass*`), `Resource: "*"` for an action
not listed in RESOURCE_STAR_ALLOWED below, an Allow with NotAction/NotResource, a trust
policy open to any principal, and broad AWS managed policies.

RESOURCE_STAR_ALLOWED lists each action that needs `Resource: "*"`, with the reason. Source:
the Service Authorization Reference ("If there is no value for [the Resource types] column,
you must specify all resources ("*")"), pages list_amazoncognitouserpools, list_amazonbedrockagentcore,
list_amazoncloudwatchlogs and list_awsx-ray; for CloudWatch Logs also the vended-logs guide
(AWS-logs-infrastructure-CWL), which tells callers to use `*` for DescribeLogGroups,
DescribeResourcePolicies and PutResourcePolicy and grants DescribeDeliveries on `*`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from agentgw_local.stack import LocalStack

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

RESOURCE_STAR_ALLOWED: dict[str, str] = {
    # Create/List actions act before any user pool ARN exists, or across pools.
    "cognito-idp:CreateUserPool": "creates the pool: no pool ARN exists yet (no resource type in the SAR)",
    "cognito-idp:ListUserPools": "lists pools in the account (List access, no resource type)",
    # DescribeUserPoolDomain takes a domain prefix, not a pool: no resource type to name.
    "cognito-idp:DescribeUserPoolDomain": "identified by domain name, not a pool ARN (no resource type)",
    "bedrock-agentcore:ListGateways": "lists gateways in the account (List access, no resource type)",
    # Vended logs / traces delivery for the gateway (GatewayObservability).
    "logs:DescribeDeliveries": "account-level list of deliveries (no resource type)",
    "logs:DescribeLogGroups": "the vended-logs guide requires `*` for this action",
    "logs:PutResourcePolicy": "account-level resource policy; the vended-logs guide requires `*`",
    "logs:DescribeResourcePolicies": "account-level list; the vended-logs guide requires `*`",
    "xray:PutResourcePolicy": "account-level X-Ray resource policy (no resource type)",
    "xray:ListResourcePolicies": "account-level list (no resource type)",
    "xray:GetTraceSegmentDestination": "account-level setting (no resource type)",
}
BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess", "FullAccess", "IAMFullAccess")


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _branches(value: Any) -> Iterator[Any]:
    """Both sides of Fn::If (a conditional policy is checked as if either side applied)."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif not (isinstance(value, dict) and value.get("Ref") == "AWS::NoValue"):
        yield value


def template_policies() -> Iterator[tuple[str, Any]]:
    """(where, policy item) for every identity policy the template defines."""
    template, matches = decode(str(TEMPLATE))
    assert template is not None, matches
    for name, resource in template["Resources"].items():
        props = resource.get("Properties") or {}
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies") or []:
                yield f"{name}.Policies", policy["PolicyDocument"]
            for arn in props.get("ManagedPolicyArns") or []:
                yield f"{name}.ManagedPolicyArns", arn
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield f"{name}.PolicyDocument", props["PolicyDocument"]
        elif kind.startswith("AWS::Serverless::") and "Policies" in props:
            for item in _listify(props["Policies"]):
                for branch in _branches(item):
                    if isinstance(branch, dict) and branch.get("Ref") in template["Resources"]:
                        continue  # a managed policy of this template: checked as its own resource
                    yield f"{name}.Policies", branch


def trust_policies() -> Iterator[tuple[str, Any]]:
    template, _ = decode(str(TEMPLATE))
    assert template is not None
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            yield name, resource["Properties"]["AssumeRolePolicyDocument"]


def problems(where: str, policy: Any) -> list[str]:
    """What is too broad in one policy item (a document, a SAM policy template, a managed name)."""
    if isinstance(policy, str):  # a managed policy by name or ARN
        return [f"{where}: broad managed policy {policy}"] if any(b in policy for b in BROAD_MANAGED) else []
    if not isinstance(policy, dict):
        return []
    if "Statement" not in policy:  # a SAM policy template, e.g. LambdaInvokePolicy: {FunctionName: ...}
        found = []
        for template_name, params in policy.items():
            for key, value in (params or {}).items():
                if value == "*" or (isinstance(value, str) and value.strip() == "*"):
                    found.append(f"{where}: {template_name}.{key} is '*'")
        return found
    found = []
    for statement in _listify(policy["Statement"]):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", "?")
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{where}[{sid}]: Allow with NotAction/NotResource")
        actions = [a for a in _listify(statement.get("Action", [])) if isinstance(a, str)]
        for action in actions:
            if "*" in action or "?" in action:
                found.append(f"{where}[{sid}]: wildcard action {action}")
        resources = _listify(statement.get("Resource", []))
        if "*" in resources:
            for action in actions:
                if action not in RESOURCE_STAR_ALLOWED:
                    found.append(f"{where}[{sid}]: {action} on Resource '*' (it supports resource ARNs)")
    return found


def test_template_policies_name_their_actions_and_resources() -> None:
    items = list(template_policies())
    assert len(items) >= 10  # the parser found the policies (an empty walk would pass vacuously)
    found = [p for where, policy in items for p in problems(where, policy)]
    assert found == []


def test_star_exceptions_are_all_still_needed() -> None:
    """An exception no statement uses any more is stale: drop it so it cannot hide a regression."""
    used = set()
    for _, policy in template_policies():
        if isinstance(policy, dict) and "Statement" in policy:
            for statement in _listify(policy["Statement"]):
                if "*" in _listify(statement.get("Resource", [])):
                    used.update(_listify(statement.get("Action", [])))
    assert set(RESOURCE_STAR_ALLOWED) - used == set()


def test_trust_policies_name_a_service_principal() -> None:
    for name, document in trust_policies():
        for statement in _listify(document["Statement"]):
            principal = statement.get("Principal")
            assert principal != "*" and principal != {"AWS": "*"}, name
            assert isinstance(principal, dict) and set(principal) == {"Service"}, (name, principal)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]},
            "wildcard action",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, "wildcard action"),
        ({"Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]}, "Resource '*'"),
        ({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}, "NotAction"),
        ({"LambdaInvokePolicy": {"FunctionName": "*"}}, "is '*'"),
        ("arn:aws:iam::aws:policy/AdministratorAccess", "broad managed policy"),
    ],
)
def test_the_checker_catches_broad_policies(policy: Any, expected: str) -> None:
    """The check itself can fail: each of these is reported."""
    assert any(expected in p for p in problems("Test", policy))


def test_runtime_gateway_role_policy_names_only_the_target_functions(local_stack: LocalStack) -> None:
    """FixIamPermissions' inline policy (made at run time, not in the template)."""
    assert local_stack.aws is not None and local_stack.info is not None
    iam = local_stack.aws.client("iam")
    role = f"{local_stack.stack_name}-GatewayRole"
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert names
    for name in names:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        assert problems(f"{role}/{name}", document) == []
        for statement in _listify(document["Statement"]):
            for resource in _listify(statement["Resource"]):
                assert ":function:" in resource or ":gateway/" in resource, resource
