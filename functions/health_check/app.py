"""Scheduled (and on-demand) health check of the gateway: the canary behind the alarm.

Reads the published configuration named by `AGENTGW_CONFIG_PARAMETER`, runs every stage
(`agentgw.health`), prints the EMF metrics the alarm and dashboard use, and returns the
report. An unhealthy gateway is a normal result here, not a Lambda error: the metrics carry it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.health import check_published_gateway, publish_metrics

logger = Logger(service="health-check")
tracer = Tracer(service="health-check")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    report = check_published_gateway(traced=True)
    publish_metrics(report)
    result = report.to_dict()
    failed = report.failed_stage
    if failed is None and report.ok:
        logger.info(report.summary(), extra={"report": result})
    else:
        logger.error(report.summary(), extra={"report": result, "failed_stage": failed and failed.name})
    return result
