"""The staged check over real HTTP on loopback with the mcp SDK client, against a gateway double."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from health_gateway_double import GatewayDouble

from agentgw.health import STAGES, HealthTarget, run_health_check
from agentgw.health.expectations import Expectations
from agentgw.oauth import TokenError


def target(gateway: GatewayDouble, *, search: bool = True) -> HealthTarget:
    return HealthTarget("gw-test", gateway.url, search_enabled=search)


def stage_names(report) -> list[str]:
    return [s.name for s in report.stages]


def test_healthy_gateway_passes_every_stage(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    report = run_health_check(target(gateway), token)
    out = report.to_dict()
    assert out["ok"] is True
    assert out["gateway_id"] == "gw-test"
    assert out["checked_at"].endswith("Z")
    assert [s["name"] for s in out["stages"]] == list(STAGES)
    for stage in out["stages"]:
        assert stage["ok"] is True
        assert "error" not in stage
        assert isinstance(stage["latency_ms"], float) and stage["latency_ms"] >= 0
    assert gateway.behaviour.calls.count("tools/call") == 2  # search probe + canary


def test_tools_list_follows_every_page(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.page_size = 1
    report = run_health_check(target(gateway), token)
    assert report.ok, report.summary()
    assert gateway.behaviour.calls.count("tools/list") == 3
    assert report.stages[2].detail == "3 tools on 3 pages"


def test_expected_tool_on_a_later_page_is_found(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.tools = [f"other___t{i}" for i in range(40)] + [
        "timeweather___get_weather",
        "timeweather___get_time",
    ]
    report = run_health_check(target(gateway), token)
    assert [s.ok for s in report.stages[:4]] == [True] * 4
    assert report.stages[2].detail == "43 tools on 2 pages"


def test_missing_tool_fails_expected_tools_and_stops(
    gateway: GatewayDouble, token: Callable[[], str]
) -> None:
    gateway.behaviour.tools = ["timeweather___get_time"]
    report = run_health_check(target(gateway), token)
    assert not report.ok
    assert stage_names(report) == ["token", "initialize", "tools_list", "expected_tools"]
    assert report.failed_stage.name == "expected_tools"
    assert "timeweather___get_weather" in report.failed_stage.error
    assert "tools/call" not in gateway.behaviour.calls


def test_token_failure_fails_token_stage(gateway: GatewayDouble) -> None:
    def refused() -> str:
        raise TokenError("token endpoint refused the client (invalid_client)")

    report = run_health_check(target(gateway), refused)
    assert stage_names(report) == ["token"]
    assert report.to_dict()["stages"][0]["error"] == "token endpoint refused the client (invalid_client)"
    assert gateway.behaviour.calls == []


def test_rejected_token_fails_initialize(gateway: GatewayDouble) -> None:
    report = run_health_check(target(gateway), lambda: "not-the-token")
    assert stage_names(report) == ["token", "initialize"]
    assert "Invalid Bearer token" in report.failed_stage.error
    assert "-32001" in report.failed_stage.error


def test_unreachable_gateway_fails_initialize(token: Callable[[], str]) -> None:
    report = run_health_check(HealthTarget("gw", "http://127.0.0.1:1/mcp"), token, stage_timeout_s=5)
    assert report.failed_stage.name == "initialize"
    assert "Connect" in report.failed_stage.error


def test_search_off_on_the_gateway_fails_search(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.search = False
    report = run_health_check(target(gateway), token)
    assert report.failed_stage.name == "search"
    assert "semantic search is off" in report.failed_stage.error
    assert stage_names(report)[-1] == "search"


def test_search_not_configured_is_skipped(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.search = False
    report = run_health_check(target(gateway, search=False), token)
    assert report.ok, report.summary()
    search = report.stages[4].to_dict()
    assert search["skipped"] is True and search["ok"] is True


def test_search_result_in_structured_content_is_accepted(
    gateway: GatewayDouble, token: Callable[[], str]
) -> None:
    gateway.behaviour.search_structured_only = True
    report = run_health_check(target(gateway), token)
    assert report.ok, report.summary()


def test_expected_tool_ranked_too_low_fails_search(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.search_order = ["a___x", "b___y", "timeweather___get_weather", "timeweather___get_time"]
    report = run_health_check(target(gateway), token)
    assert report.failed_stage.name == "search"
    assert "ranked 4" in report.failed_stage.error


def test_failing_tool_fails_canary(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.canary_error = "An internal error occurred. Please retry later."
    report = run_health_check(target(gateway), token)
    assert stage_names(report) == list(STAGES)
    assert report.failed_stage.name == "canary"
    assert "An internal error occurred" in report.failed_stage.error


def test_canary_with_a_wrong_clock_fails(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.canary_payload = {"timezone": "UTC", "utc_time": "2001-01-01T00:00:00Z"}
    report = run_health_check(target(gateway), token)
    assert report.failed_stage.name == "canary"
    assert "away from now" in report.failed_stage.error


def test_slow_stage_times_out_with_its_name(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.delay_method = "tools/list"
    gateway.behaviour.delay_s = 3.0
    report = run_health_check(target(gateway), token, stage_timeout_s=0.5)
    assert report.failed_stage.name == "tools_list"
    assert report.failed_stage.error == "timed out after 0.5 s"


def test_looping_cursor_fails_tools_list(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    gateway.behaviour.loop_cursor = True
    report = run_health_check(target(gateway), token)
    assert report.failed_stage.name == "tools_list"
    assert "repeated cursor" in report.failed_stage.error


def test_custom_expectations(gateway: GatewayDouble, token: Callable[[], str]) -> None:
    expect = Expectations.from_schemas(tools=("timeweather___get_time", "extra___tool"))
    report = run_health_check(target(gateway), token, expect)
    assert report.failed_stage.name == "expected_tools"
    assert "extra___tool" in report.failed_stage.error


@pytest.mark.parametrize("zone", ["Asia/Tokyo"])
def test_canary_zone_mismatch_is_reported(
    gateway: GatewayDouble, token: Callable[[], str], zone: str
) -> None:
    gateway.behaviour.canary_payload = {"timezone": zone, "local_time": "2026-01-01T09:00:00+09:00"}
    report = run_health_check(target(gateway), token)
    assert report.failed_stage.name == "canary"
    assert zone in report.failed_stage.error


def test_hung_token_source_times_out_the_token_stage(gateway: GatewayDouble) -> None:
    import threading

    release = threading.Event()

    def hung() -> str:
        release.wait(10)
        return "late"

    try:
        report = run_health_check(target(gateway), hung, stage_timeout_s=0.3)
    finally:
        release.set()
    assert stage_names(report) == ["token"]
    assert report.failed_stage.error == "timed out after 0.3 s"
