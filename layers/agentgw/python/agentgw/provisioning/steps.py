"""The state machine's steps as functions of (event, account): what each Lambda handler calls.

Each takes the JSON its ASL state passes (see statemachine/provision.asl.json), checks it,
does one idempotent step, and returns a small JSON result. AWS errors leave as exceptions
named after their error code, so the state machine's Retry/Catch can match them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from agentgw.provisioning import (
    authorizer,
    aws,
    cfn_response,
    gateway,
    iam,
    publish,
    request,
    rollback,
    sessions,
    targets,
)
from agentgw.provisioning.errors import InvalidInput, translate_aws_errors
from agentgw.provisioning.names import ResourceNames
from agentgw.provisioning.request import require

logger = logging.getLogger(__name__)


def _names(event: Mapping[str, Any], account_id: str) -> ResourceNames:
    return ResourceNames(require(event, "stackName"), account_id, aws.region())


@translate_aws_errors
def create_authorizer(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    return authorizer.ensure_authorizer(_names(event, account_id), require(event, "clientSecretName"))


@translate_aws_errors
def create_gateway(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    return gateway.ensure_gateway(
        _names(event, account_id),
        role_arn=require(event, "gatewayRoleArn"),
        discovery_url=require(event, "discoveryUrl"),
        client_id=require(event, "clientId"),
        scope=require(event, "scope"),
        exception_level=require(event, "exceptionLevel"),
        execution_name=require(event, "executionName"),
    )


@translate_aws_errors
def fix_iam_permissions(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    configured = request.check_targets(require(event, "targets", list))
    return iam.fix_permissions(
        require(event, "gatewayRoleArn"),
        require(event, "gatewayArn"),
        [t["lambdaArn"] for t in configured],
    )


@translate_aws_errors
def check_gateway(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    result = gateway.check_gateway(
        require(event, "gatewayId"), int(event.get("attempts") or 0), int(require(event, "maxPolls", int))
    )
    # The token endpoint must answer too: wait for the Cognito domain instead of sleeping.
    result["domainStatus"] = authorizer.domain_status(require(event, "domain"))
    if result["status"] == "READY" and result["domainStatus"] != "ACTIVE":
        result["status"] = "WAITING_FOR_DOMAIN"
    return result


@translate_aws_errors
def create_target(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    (target,) = request.check_targets([require(event, "target", dict)])
    return targets.ensure_target(require(event, "gatewayId"), target, require(event, "executionName"))


@translate_aws_errors
def prune_targets(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    declared = request.check_targets(require(event, "targets", list))
    deleted = targets.prune(require(event, "gatewayId"), [t["name"] for t in declared])
    return {"deleted": deleted}


@translate_aws_errors
def check_targets(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    results = require(event, "targetResults", list)
    return targets.check_targets(
        require(event, "gatewayId"),
        [str(r["targetId"]) for r in results],
        int(event.get("attempts") or 0),
        int(require(event, "maxPolls", int)),
    )


@translate_aws_errors
def publish_config(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    config = publish.build_config(
        gateway=require(event, "gateway", dict),
        authorizer=require(event, "authorizer", dict),
        targets=request.check_targets(require(event, "targets", list)),
    )
    return publish.publish_config(require(event, "configParameterName"), config)


@translate_aws_errors
def rollback_step(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    return rollback.rollback(event)


@translate_aws_errors
def teardown(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    require(event, "gatewayRoleArn")
    require(event, "configParameterName")
    require(event, "clientSecretName")
    if event.get("sessionBucket"):
        sessions.check_bucket_name(str(event["sessionBucket"]))
    return rollback.teardown(_names(event, account_id), event)


def report(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """Answer CloudFormation (when the execution came from a custom resource)."""
    outcome = require(event, "outcome")
    state = require(event, "state", dict)
    cfn = state.get("cfn")
    if not cfn:
        return {"sent": False, "status": outcome}
    physical_id = cfn.get("PhysicalResourceId") or _names(state, account_id).physical_resource_id
    data: dict[str, Any] = {}
    reason = ""
    if outcome == cfn_response.SUCCESS and state.get("action") != "Delete":
        gw, auth = state.get("gateway") or {}, state.get("authorizer") or {}
        data = {
            "GatewayId": gw.get("gatewayId"),
            "GatewayArn": gw.get("gatewayArn"),
            "GatewayUrl": gw.get("gatewayUrl"),
            "ConfigParameterName": state.get("configParameterName"),
            "ClientSecretArn": auth.get("secretArn"),
        }
    elif outcome == cfn_response.FAILED:
        reason = cfn_response.error_reason(state.get("error"))
        if state.get("rollbackError"):
            reason += f" (rollback also failed: {cfn_response.error_reason(state['rollbackError'])})"
        elif state.get("action") != "Delete":
            reason += " (rolled back)"
    body = cfn_response.response_body(
        cfn, outcome, physical_resource_id=physical_id, reason=reason, data=data
    )
    cfn_response.send(cfn["ResponseURL"], body)
    return {"sent": True, "status": outcome, "physicalResourceId": physical_id}


# -- the custom resource -------------------------------------------------------------------

_EXECUTION_NAME = re.compile(r"[^0-9A-Za-z_-]")


def execution_name(event: Mapping[str, Any]) -> str:
    # The same CloudFormation request (retried) maps to the same execution name, and
    # StartExecution with the same name and input is idempotent.
    return _EXECUTION_NAME.sub("-", f"{event.get('RequestType')}-{event.get('RequestId')}")[:80]


def custom_resource(event: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """Start the provisioning (or teardown) execution; answer CloudFormation if that fails."""
    try:
        state_machine_arn = str((event.get("ResourceProperties") or {}).get("StateMachineArn") or "")
        if not state_machine_arn:
            raise InvalidInput("custom resource property StateMachineArn is required")
        execution_input = request.from_custom_resource(event)
        started = aws.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=execution_name(event), input=json.dumps(execution_input)
        )
        return {"executionArn": started["executionArn"]}
    except Exception as exc:
        logger.exception("could not start the provisioning execution")
        # Invalid properties on Delete mean nothing was ever created with them: let the stack go.
        deleting = event.get("RequestType") == "Delete" and isinstance(exc, InvalidInput)
        status = cfn_response.SUCCESS if deleting else cfn_response.FAILED
        physical_id = str(event.get("PhysicalResourceId") or "")
        if not physical_id:
            try:
                stack = str((event.get("ResourceProperties") or {}).get("StackName"))
                physical_id = ResourceNames(stack, account_id, aws.region()).physical_resource_id
            except InvalidInput:
                physical_id = str(event.get("LogicalResourceId") or "agentgw")
        body = cfn_response.response_body(
            event, status, physical_resource_id=physical_id, reason=f"{type(exc).__name__}: {exc}"
        )
        cfn_response.send(str(event["ResponseURL"]), body)
        return {"executionArn": None, "answered": status}
