"""Rollback (after a failure) and Teardown (stack deletion).

Rollback deletes what *this execution* created, newest first, as recorded by each step's
`created` flags in the state: a failed update never removes resources an earlier
deployment made. Teardown deletes everything the stack owns, found by name.
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
        # The gateway predates this execution: delete only the targets it did not have then
        # (a failed Map iteration records nothing, so the live list is compared, not our results).
        before = set(gw.get("existingTargetIds") or [])
        for target in targets.list_targets(str(gateway_id)):
            target_id = str(target["targetId"])
            if target_id not in before and targets.delete_target(str(gateway_id), target_id):
                deleted.append(f"target:{target_id}")

    iam_part = _section(state, "iam")
    if iam_part.get("created") and iam.remove_inline_policy(str(state["gatewayRoleArn"])):
        deleted.append(f"rolePolicy:{iam_part.get('policyName')}")

    created = _section(state, "authorizer").get("created") or []
    deleted += authorizer.undo(list(created))
    logger.info("rollback deleted %d resources", len(deleted), extra={"deleted": deleted})
    return {"deleted": deleted}


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
