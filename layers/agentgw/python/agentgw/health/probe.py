"""Run the health check: token → MCP initialize → tools/list (all pages) → expected tools →
search probe → canary call, each timed, stopping at the first failure.

The MCP side is the gateway client the agent uses too (`agentgw.gateway`: the mcp SDK's
streamable HTTP client, Bearer auth, every page of `tools/list`, the search answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError

from agentgw.config import GatewayConfig
from agentgw.gateway import MAX_LIST_PAGES
from agentgw.gateway import client as gateway_client
from agentgw.gateway.auth import BearerAuth
from agentgw.health import report as stages
from agentgw.health.expectations import (
    SEARCH_TOOL,
    CheckFailed,
    Expectations,
    check_canary_time,
    check_expected_tools,
    check_search_rank,
    search_result_names,
    text_of,
)
from agentgw.health.report import HealthReport, StageResult
from agentgw.oauth import TokenError

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_STAGE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class HealthTarget:
    """The gateway to check: where it is and whether it should offer semantic search."""

    gateway_id: str
    gateway_url: str
    search_enabled: bool = True

    @classmethod
    def from_config(cls, config: GatewayConfig) -> HealthTarget:
        return cls(config.gateway_id, config.gateway_url, config.search_type.upper() == "SEMANTIC")


class _Failed(Exception):
    """Raised inside the runner once a stage has been recorded as failed."""


class _Recorder:
    def __init__(self, report: HealthReport, timeout_s: float) -> None:
        self.report = report
        self.timeout_s = timeout_s
        self.current: str | None = None
        self.started = 0.0

    async def run(self, name: str, step: Callable[[], Awaitable[tuple[T, str | None]]]) -> T:
        """Run one stage; record it; raise _Failed when it fails."""
        self.current, self.started = name, time.perf_counter()
        try:
            with anyio.fail_after(self.timeout_s):
                value, detail = await step()
        except Exception as exc:
            self.fail(name, describe(exc, self.timeout_s))
            raise _Failed from None
        self.report.stages.append(StageResult(name, True, self._elapsed(), detail=detail))
        self.current = None
        return value

    def skip(self, name: str, reason: str) -> None:
        self.report.stages.append(StageResult(name, True, 0.0, detail=reason, skipped=True))

    def fail(self, name: str, error: str) -> None:
        self.report.stages.append(StageResult(name, False, self._elapsed(), error=error))
        self.current = None

    def _elapsed(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


def describe(exc: BaseException, timeout_s: float = DEFAULT_STAGE_TIMEOUT_S) -> str:
    """A one-line reason for the report (never a stack trace)."""
    if isinstance(exc, BaseExceptionGroup):
        return describe(exc.exceptions[0], timeout_s)
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout_s:g} s"
    if isinstance(exc, MCPError):
        return f"{exc.message} (JSON-RPC error {exc.code})"
    if isinstance(exc, CheckFailed | TokenError):
        return str(exc)
    if isinstance(exc, httpx2.HTTPError):
        return f"HTTP error: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


async def check_gateway(
    target: HealthTarget,
    token: Callable[[], str],
    expectations: Expectations | None = None,
    *,
    stage_timeout_s: float = DEFAULT_STAGE_TIMEOUT_S,
    traced: bool = False,
) -> HealthReport:
    """Run every stage against `target`; `token` returns a fresh access token (blocking is fine).

    `traced`: each HTTP request to the gateway is an X-Ray subsegment.
    """
    expect = expectations or Expectations.from_schemas()
    report = HealthReport(
        target.gateway_id, datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
    rec = _Recorder(report, stage_timeout_s)
    try:
        await _run(target, token, expect, rec, traced)
    except _Failed:
        pass
    except Exception as exc:
        # The MCP transport runs in a task group: a broken connection can surface when the
        # client's context exits rather than in the awaited call. Charge it to the stage running.
        if rec.current is not None:
            rec.fail(rec.current, describe(exc, stage_timeout_s))
        elif report.failed_stage is None:
            log.warning("health check: error after the last stage: %s", describe(exc))
    return report


async def _run(
    target: HealthTarget, token: Callable[[], str], expect: Expectations, rec: _Recorder, traced: bool
) -> None:
    async def get_token() -> tuple[str, str | None]:
        # Abandon the thread on timeout: a hung secret read or token request must not hold the
        # stage past its limit (the thread ends on its own client timeouts).
        return await anyio.to_thread.run_sync(token, abandon_on_cancel=True), None

    access_token = await rec.run(stages.TOKEN, get_token)

    # Entering the session only starts its tasks (no I/O yet); it must be entered outside a
    # stage's timeout scope, which has to close before they do.
    async with gateway_client.connect(
        target.gateway_url, BearerAuth.fixed(access_token), timeout_s=rec.timeout_s, traced=traced
    ) as session:

        async def initialize() -> tuple[None, str | None]:
            result = await session.initialize()
            name = result.server_info.name if result.server_info else "?"
            return None, f"protocol {result.protocol_version}, server {name}"

        await rec.run(stages.INITIALIZE, initialize)

        async def list_tools() -> tuple[list[types.Tool], str | None]:
            return await list_all_tools(session)

        tools = await rec.run(stages.TOOLS_LIST, list_tools)
        names = [tool.name for tool in tools]

        async def expected() -> tuple[None, str | None]:
            return None, check_expected_tools(names, expect.tools, expect.targets)

        await rec.run(stages.EXPECTED_TOOLS, expected)

        if not target.search_enabled:
            rec.skip(stages.SEARCH, "semantic search is not configured for this gateway")
        else:

            async def search() -> tuple[None, str | None]:
                if SEARCH_TOOL not in names:
                    raise CheckFailed(f"{SEARCH_TOOL} is not listed: semantic search is off on the gateway")
                result = await session.call_tool(SEARCH_TOOL, {"query": expect.search_query})
                if result.is_error:
                    raise CheckFailed(f"search call failed: {text_of(result.content)[:300]}")
                found = search_result_names(result.structured_content, result.content)
                return None, check_search_rank(found, expect.search_expected, expect.search_top_k)

            await rec.run(stages.SEARCH, search)

        async def canary() -> tuple[None, str | None]:
            result = await session.call_tool(expect.canary_tool, dict(expect.canary_arguments))
            text = text_of(result.content)
            if result.is_error:
                raise CheckFailed(f"{expect.canary_tool} returned an error: {text[:300]}")
            zone = str(expect.canary_arguments.get("timezone", "UTC"))
            return None, check_canary_time(text, expected_zone=zone, max_skew_s=expect.max_clock_skew_s)

        await rec.run(stages.CANARY, canary)


async def list_all_tools(session: ClientSession) -> tuple[list[types.Tool], str]:
    """Every tool, following `nextCursor` until the last page, and how many pages that took."""
    try:
        listed = await gateway_client.list_all_tools(session, MAX_LIST_PAGES)
    except gateway_client.ListingError as exc:
        raise CheckFailed(str(exc)) from None
    pages = listed.pages
    return listed.tools, f"{len(listed.tools)} tools on {pages} page{'s' if pages > 1 else ''}"


def run_health_check(
    target: HealthTarget,
    token: Callable[[], str],
    expectations: Expectations | None = None,
    *,
    stage_timeout_s: float = DEFAULT_STAGE_TIMEOUT_S,
    traced: bool = False,
) -> HealthReport:
    """Blocking entry point (Lambda handler, CLI)."""

    async def main() -> HealthReport:
        return await check_gateway(
            target, token, expectations, stage_timeout_s=stage_timeout_s, traced=traced
        )

    return anyio.run(main)


def report_to_log(report: HealthReport) -> dict[str, Any]:
    """The report as a dict with the summary line, for structured logs."""
    return {**report.to_dict(), "summary": report.summary()}
