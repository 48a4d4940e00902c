"""Rollback (after a failure) and Teardown (stack deletion).

Rollback deletes what *this execution* created, newest first, as recorded by each step's
`created` flags in the state, and puts back what it changed of an earlier deployment: the
gateway's targets as snapshotted before the execution, the role's previous inline policy.
Teardown deletes everything the stack owns, found by name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agentgw.provisioning import authorizer, gateway, iam, publish, sessions, targets
from agentgw.provisioning.names import ResourceNames

logger = logging.getLogger(__name__)


def _section(state: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = state.get(key)
    return value if isinstance(value, Mapping) else {}


def rollback(state: Mapping[str, Any]) -> dict[str, Any]:
    deleted: list[str] = []
    restored: list[str] = []
    published = _section(state, "published")
    if published.get("created") and publish.delete_config(str(published["parameterName"])):
        deleted.append(f"parameter:{published['parameterName']}")

    gw = _section(state, "gateway")
    gateway_id = gw.get("gatewayId")
    if gateway_id and gw.get("created"):
        # Deleting the gateway deletes all its targets first, recorded or not.
        if gateway.delete_gateway(str(gateway_id)):
            deleted.append(f"gateway:{gateway_id}")
    elif gateway_id:
        # The gateway predates this execution: put its targets back as they were (a failed Map
        # iteration records nothing, so the live targets are compared with the snapshot).
        if isinstance(gw.get("previousTargets"), list):
            changes = targets.restore(str(gateway_id), list(gw["previousTargets"]))
        else:  # no snapshot: delete only what is new, never what existed
            existed = {str(t) for t in gw.get("existingTargetIds") or []}
            changes = [
                f"deleted target:{t['targetId']}"
                for t in targets.list_targets(str(gateway_id))
                if str(t["targetId"]) not in existed
                and targets.delete_target(str(gateway_id), str(t["targetId"]))
            ]
        restored += [c for c in changes if not c.startswith("deleted ")]
        deleted += [c.removeprefix("deleted ") for c in changes if c.startswith("deleted ")]

    iam_part = _section(state, "iam")
    if iam_part.get("created") and iam.remove_inline_policy(str(state["gatewayRoleArn"])):
        deleted.append(f"rolePolicy:{iam_part.get('policyName')}")
    elif iam_part.get("policyChanged") and isinstance(iam_part.get("previousPolicy"), Mapping):
        iam.restore_inline_policy(str(state["gatewayRoleArn"]), dict(iam_part["previousPolicy"]))
        restored.append(f"rolePolicy:{iam_part.get('policyName')}")

    created = _section(state, "authorizer").get("created") or []
    deleted += authorizer.undo(list(created))
    logger.info(
        "rollback deleted %d resources, restored %d",
        len(deleted),
        len(restored),
        extra={"deleted": deleted, "restored": restored},
    )
    return {"deleted": deleted, "restored": restored}


def teardown(names: ResourceNames, state: Mapping[str, Any]) -> dict[str, Any]:
    deleted = gateway.delete_by_name(names)
    if iam.remove_inline_policy(str(state["gatewayRoleArn"])):
        deleted.append(f"rolePolicy:{iam.INLINE_POLICY_NAME}")
    if publish.delete_config(str(state["configParameterName"])):
        deleted.append(f"parameter:{state['configParameterName']}")
    deleted += authorizer.delete_by_name(names, str(state["clientSecretName"]))
    # CloudFormation deletes the session bucket after this resource, and only if it is empty.
    bucket = str(state.get("sessionBucket") or "")
    if bucket and (count := sessions.empty_bucket(bucket)):
        deleted.append(f"sessionObjects:{bucket}:{count}")
    logger.info("teardown deleted %d resources", len(deleted), extra={"deleted": deleted})
    return {"deleted": deleted}
