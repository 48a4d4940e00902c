"""Custom resource `Custom::GatewayObservability`: the gateway's vended logs and traces.

Create/Update deliver the gateway's application logs to CloudWatch Logs and its traces to
X-Ray; Delete (stack deletion, or `GatewayObservability` turned off) removes the deliveries.
The answer always goes back to CloudFormation, SUCCESS or FAILED with the reason.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.provisioning import cfn_response
from agentgw.provisioning.observability import handle_custom_resource

logger = Logger(service="gateway-observability")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = handle_custom_resource(event, boto3.client("logs"))
    log = logger.info if body["Status"] == cfn_response.SUCCESS else logger.error
    log("gateway observability", extra={"request_type": event.get("RequestType"), "reason": body["Reason"]})
    cfn_response.send(event["ResponseURL"], body)
    return {"Status": body["Status"], "Reason": body["Reason"]}
