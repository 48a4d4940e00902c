"""The gateway health check (canary): token → MCP initialize → tools/list → expected tools →
search probe → canary call, each timed; the first failure stops it and names the stage.

`check_published_gateway` is what the scheduled Lambda runs; `run_health_check` takes an
explicit target and token source (the CLI uses it against the local stack).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from agentgw.config import ConfigError
from agentgw.health.expectations import CheckFailed, Expectations
from agentgw.health.metrics import publish_metrics
from agentgw.health.probe import DEFAULT_STAGE_TIMEOUT_S, HealthTarget, describe, run_health_check
from agentgw.health.report import STAGES, TOKEN, HealthReport, StageResult
from agentgw.health.source import config_parameter_name, published_target, stage_timeout_s, token_source

__all__ = [
    "STAGES",
    "CheckFailed",
    "Expectations",
    "HealthReport",
    "HealthTarget",
    "StageResult",
    "check_published_gateway",
    "publish_metrics",
    "run_health_check",
]


def check_published_gateway(
    parameter_name: str | None = None,
    expectations: Expectations | None = None,
    *,
    stage_timeout: float | None = None,
    traced: bool = False,
) -> HealthReport:
    """Check the gateway described by the published SSM configuration.

    A configuration that cannot be read fails the token stage (nothing can authenticate
    without it), so the run still reports and emits its metrics. The per-stage timeout is
    `stage_timeout`, else `AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS`, else 10 s. `traced`: each HTTP
    request to the gateway is an X-Ray subsegment (X-Ray does not patch httpx2).
    """
    started = time.perf_counter()
    try:
        timeout = stage_timeout or stage_timeout_s(DEFAULT_STAGE_TIMEOUT_S)
        target, config = published_target(parameter_name or config_parameter_name())
    except (ConfigError, ValueError) as exc:
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return HealthReport(
            gateway_id="",
            checked_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            stages=[StageResult(TOKEN, False, elapsed, error=describe(exc))],
        )
    if expectations is None and config.targets:
        try:
            expectations = Expectations.from_targets(config.targets)
        except ValueError as exc:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            return HealthReport(
                gateway_id=config.gateway_id,
                checked_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                stages=[StageResult(TOKEN, False, elapsed, error=describe(exc))],
            )
    return run_health_check(
        target, token_source(config), expectations, stage_timeout_s=timeout, traced=traced
    )
