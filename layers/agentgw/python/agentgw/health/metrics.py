"""CloudWatch metrics for a health check run, as EMF through Powertools (printed to stdout).

Namespace `agentgw` (the project's), dimension `service=health-check`:
- `HealthCheckSuccess` 1/0 and `HealthCheckFailure` 0/1 per run (the alarm watches the first),
  `HealthCheckLatency` (ms, all stages that ran);
- per stage that ran, with the extra dimension `Stage`: `StageLatency` (ms) and
  `StageFailure` 0/1 — the sum over time is the failure count by stage.

The gateway id is metadata, not a dimension: the template's alarm cannot know it.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from agentgw.health.report import HealthReport

NAMESPACE = "agentgw"
SERVICE = "health-check"
SUCCESS = "HealthCheckSuccess"
FAILURE = "HealthCheckFailure"
LATENCY = "HealthCheckLatency"
STAGE_LATENCY = "StageLatency"
STAGE_FAILURE = "StageFailure"
STAGE_DIMENSION = "Stage"


def publish_metrics(report: HealthReport, *, namespace: str = NAMESPACE, service: str = SERVICE) -> None:
    """Print one EMF document for the run and one per stage that ran (skipped stages: none)."""
    run = EphemeralMetrics(namespace=namespace, service=service)
    run.add_metric(name=SUCCESS, unit=MetricUnit.Count, value=1 if report.ok else 0)
    run.add_metric(name=FAILURE, unit=MetricUnit.Count, value=0 if report.ok else 1)
    run.add_metric(name=LATENCY, unit=MetricUnit.Milliseconds, value=report.latency_ms)
    run.add_metadata(key="gateway_id", value=report.gateway_id)
    failed = report.failed_stage
    if failed is not None:
        run.add_metadata(key="failed_stage", value=failed.name)
    run.flush_metrics()

    for stage in report.stages:
        if stage.skipped:
            continue
        per_stage = EphemeralMetrics(namespace=namespace, service=service)
        per_stage.add_dimension(name=STAGE_DIMENSION, value=stage.name)
        per_stage.add_metric(name=STAGE_LATENCY, unit=MetricUnit.Milliseconds, value=stage.latency_ms)
        per_stage.add_metric(name=STAGE_FAILURE, unit=MetricUnit.Count, value=0 if stage.ok else 1)
        per_stage.add_metadata(key="gateway_id", value=report.gateway_id)
        per_stage.flush_metrics()
