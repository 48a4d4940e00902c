"""FixIamPermissions: scope the gateway role to this gateway and to the target functions.

The role's trust policy allows bedrock-agentcore.amazonaws.com to assume it only on behalf
of this gateway's exact ARN (and account); its inline policy allows lambda:InvokeFunction
on the target functions' ARNs and nothing else. Errors fail the step.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from agentgw.provisioning import aws
from agentgw.provisioning.errors import error_code
from agentgw.provisioning.names import INLINE_POLICY_NAME

SERVICE_PRINCIPAL = "bedrock-agentcore.amazonaws.com"


def role_name(role_arn: str) -> str:
    # role/path/name → name
    return role_arn.rsplit("/", 1)[-1]


def trust_policy(gateway_arn: str) -> dict[str, Any]:
    account = aws.account_from_arn(gateway_arn)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ThisGatewayOnly",
                "Effect": "Allow",
                "Principal": {"Service": SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnEquals": {"aws:SourceArn": gateway_arn},
                },
            }
        ],
    }


def invoke_policy(function_arns: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeTargetFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": sorted(set(function_arns)),
            }
        ],
    }


def _document(value: Any) -> Any:
    # IAM returns policy documents URL-encoded (boto3 decodes some, not all).
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def fix_permissions(role_arn: str, gateway_arn: str, function_arns: list[str]) -> dict[str, Any]:
    iam = aws.client("iam")
    name = role_name(role_arn)
    trust = trust_policy(gateway_arn)
    current_trust = _document(iam.get_role(RoleName=name)["Role"].get("AssumeRolePolicyDocument"))
    trust_changed = current_trust != trust
    if trust_changed:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))

    policy = invoke_policy(function_arns)
    try:
        current = _document(
            iam.get_role_policy(RoleName=name, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
        )
        created = False
    except iam.exceptions.NoSuchEntityException:
        current, created = None, True
    if current != policy:
        iam.put_role_policy(RoleName=name, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(policy))
    return {
        "roleName": name,
        "policyName": INLINE_POLICY_NAME,
        "created": created,
        "trustChanged": trust_changed,
        "policyChanged": current != policy,
        # What a rollback puts back (None: there was no policy).
        "previousPolicy": current,
    }


def restore_inline_policy(role_arn: str, document: dict[str, Any]) -> None:
    aws.client("iam").put_role_policy(
        RoleName=role_name(role_arn), PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(document)
    )


def remove_inline_policy(role_arn: str) -> bool:
    """Delete our inline policy from the role; False when it (or the role) was already gone."""
    iam = aws.client("iam")
    try:
        iam.delete_role_policy(RoleName=role_name(role_arn), PolicyName=INLINE_POLICY_NAME)
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True
