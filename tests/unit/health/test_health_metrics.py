"""EMF output of a run, as CloudWatch would ingest it from the function's stdout."""

from __future__ import annotations

from typing import Any

import pytest
from emf_output import emf_documents

from agentgw.health.metrics import publish_metrics
from agentgw.health.report import STAGES, HealthReport, StageResult


def by_stage(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["Stage"]: d for d in docs if "Stage" in d}


def test_failed_run_emits_failure_and_stage_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    report = HealthReport(
        "gw-1",
        "2026-01-01T00:00:00Z",
        [StageResult("token", True, 12.5), StageResult("initialize", False, 30.0, error="401")],
    )
    publish_metrics(report)
    docs = emf_documents(capsys.readouterr().out)
    run = next(d for d in docs if "HealthCheckSuccess" in d)
    directive = run["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "agentgw"
    assert directive["Dimensions"] == [["service"]]
    assert run["service"] == "health-check"
    assert run["HealthCheckSuccess"] == [0.0] and run["HealthCheckFailure"] == [1.0]
    assert run["HealthCheckLatency"] == [42.5]
    assert run["gateway_id"] == "gw-1" and run["failed_stage"] == "initialize"
    stages = by_stage(docs)
    assert set(stages) == {"token", "initialize"}
    assert stages["token"]["StageFailure"] == [0.0] and stages["token"]["StageLatency"] == [12.5]
    assert stages["initialize"]["StageFailure"] == [1.0]
    assert stages["initialize"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage", "service"]]


def test_healthy_run_and_skipped_stage(capsys: pytest.CaptureFixture[str]) -> None:
    stages = [StageResult(name, True, 1.0) for name in STAGES]
    stages[4] = StageResult("search", True, 0.0, skipped=True)
    publish_metrics(HealthReport("gw-2", "2026-01-01T00:00:00Z", stages))
    docs = emf_documents(capsys.readouterr().out)
    run = next(d for d in docs if "HealthCheckSuccess" in d)
    assert run["HealthCheckSuccess"] == [1.0] and run["HealthCheckFailure"] == [0.0]
    assert "failed_stage" not in run
    assert set(by_stage(docs)) == set(STAGES) - {"search"}
