"""The health report: one entry per stage that ran, in order, stopping at the first failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The stages, in the order they run. Each depends on the one before it.
TOKEN = "token"
INITIALIZE = "initialize"
TOOLS_LIST = "tools_list"
EXPECTED_TOOLS = "expected_tools"
SEARCH = "search"
CANARY = "canary"
STAGES: tuple[str, ...] = (TOKEN, INITIALIZE, TOOLS_LIST, EXPECTED_TOOLS, SEARCH, CANARY)


@dataclass(frozen=True)
class StageResult:
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None
    detail: str | None = None  # what was seen, for people reading the report (counts, ranks)
    skipped: bool = False  # not applicable to this gateway (e.g. search off by configuration)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "latency_ms": self.latency_ms}
        if self.error is not None:
            out["error"] = self.error
        if self.detail is not None:
            out["detail"] = self.detail
        if self.skipped:
            out["skipped"] = True
        return out


@dataclass
class HealthReport:
    gateway_id: str
    checked_at: str  # ISO-8601 UTC, when the check started
    stages: list[StageResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Healthy only when every stage ran and passed."""
        ran = [s.name for s in self.stages]
        return ran == list(STAGES) and all(s.ok for s in self.stages)

    @property
    def failed_stage(self) -> StageResult | None:
        return next((s for s in self.stages if not s.ok), None)

    @property
    def latency_ms(self) -> float:
        return round(sum(s.latency_ms for s in self.stages), 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stages": [s.to_dict() for s in self.stages],
            "gateway_id": self.gateway_id,
            "checked_at": self.checked_at,
        }

    def summary(self) -> str:
        """One line: healthy, or which stage failed and why."""
        failed = self.failed_stage
        if failed is not None:
            return f"UNHEALTHY: stage {failed.name} failed: {failed.error}"
        if not self.ok:
            return "UNHEALTHY: the check stopped before every stage ran"
        return f"healthy ({len(self.stages)} stages, {self.latency_ms:.0f} ms)"
