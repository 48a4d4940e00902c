"""The pure checks: expectations from schemas.json, search parsing and ranking, the canary time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from agentgw.config import ConfigError
from agentgw.health.expectations import (
    CheckFailed,
    Expectations,
    check_canary_time,
    check_expected_tools,
    check_search_rank,
    search_result_names,
)
from agentgw.health.source import stage_timeout_s
from agentgw.tools import target_name, tool_definitions

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def text(value: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(type="text", text=value)]


def test_expectations_come_from_the_schemas() -> None:
    expect = Expectations.from_schemas()
    assert set(expect.tools) == {f"{target_name()}___{t['name']}" for t in tool_definitions()}
    assert expect.canary_tool == "timeweather___get_time"
    assert expect.search_expected == "timeweather___get_time"
    assert dict(expect.canary_arguments) == {"timezone": "UTC"}


def test_expected_tools_names_every_missing_tool() -> None:
    with pytest.raises(CheckFailed, match=r"missing from tools/list: a___x, c___z \(1 tools listed\)"):
        check_expected_tools(["b___y"], ["a___x", "b___y", "c___z"])
    assert check_expected_tools(["a___x", "b___y"], ["a___x"]) == "all 1 expected tools listed"


def test_expectations_cover_every_declared_target() -> None:
    expect = Expectations.from_targets({"clock": ["now"], "timeweather": ["get_time", "get_weather"]})
    assert expect.tools == ("clock___now", "timeweather___get_time", "timeweather___get_weather")
    assert expect.canary_tool == expect.search_expected == "timeweather___get_time"
    with pytest.raises(ValueError, match="no declared target has a get_time tool"):
        Expectations.from_targets({"clock": ["now"]})


def test_expected_tools_names_the_targets_whose_tools_are_missing() -> None:
    targets = {"clock": ("clock___now", "clock___today"), "tw": ("tw___get_time",)}
    with pytest.raises(CheckFailed, match=r"targets with missing tools: clock \(2 of 2 missing\)$"):
        check_expected_tools(["tw___get_time"], [*targets["clock"], *targets["tw"]], targets)
    assert check_expected_tools(["tw___get_time", *targets["clock"]], ["tw___get_time"], targets) == (
        "all 1 expected tools of 2 targets listed"
    )


def test_search_names_from_text_or_structured_content() -> None:
    payload = {"tools": [{"name": "t___a"}, {"name": "t___b"}]}
    assert search_result_names(None, text(json.dumps(payload))) == ["t___a", "t___b"]
    assert search_result_names(payload, text("not json")) == ["t___a", "t___b"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not JSON"), (json.dumps({"items": []}), "no 'tools' list"), ("", "not JSON")],
)
def test_search_result_malformed(content: str, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        search_result_names(None, text(content))


def test_search_rank() -> None:
    assert check_search_rank(["a", "b", "c"], "b", 3) == "b ranked 2 of 3"
    with pytest.raises(CheckFailed, match="ranked 3, expected within the top 2"):
        check_search_rank(["a", "b", "c"], "c", 2)
    with pytest.raises(CheckFailed, match="not among the 2 search results"):
        check_search_rank(["a", "b"], "z", 3)


def test_canary_time_accepts_close_times() -> None:
    ok = json.dumps({"timezone": "UTC", "utc_time": "2026-03-01T12:01:00Z"})
    assert "skew 60 s" in check_canary_time(ok, now=NOW, max_skew_s=300)
    local_only = json.dumps({"local_time": "2026-03-01T21:00:30+09:00", "timezone": "Asia/Tokyo"})
    assert check_canary_time(local_only, expected_zone="Asia/Tokyo", now=NOW)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("nope", "not JSON"),
        (json.dumps([1]), "not a JSON object"),
        (json.dumps({"timezone": "UTC"}), "neither utc_time nor local_time"),
        (json.dumps({"utc_time": "yesterday"}), "not ISO-8601"),
        (json.dumps({"utc_time": "2026-03-01T12:00:00"}), "no UTC offset"),
        (json.dumps({"utc_time": "2026-03-01T13:00:00Z"}), "3600 s away from now"),
        (json.dumps({"timezone": "Europe/Paris", "utc_time": "2026-03-01T12:00:00Z"}), "got time zone"),
    ],
)
def test_canary_time_rejects(payload: str, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_canary_time(payload, now=NOW, max_skew_s=300)


def test_canary_accepts_the_real_get_time_result() -> None:
    from agentgw.tools.local_time import get_time

    result = get_time("UTC", now=NOW)
    assert "UTC time" in check_canary_time(json.dumps(result), now=NOW)


def test_stage_timeout_from_environment() -> None:
    assert stage_timeout_s(10.0, {}) == 10.0
    assert stage_timeout_s(10.0, {"AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS": "2.5"}) == 2.5
    for bad in ("soon", "0", "-1", "301"):
        with pytest.raises(ConfigError, match="AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS"):
            stage_timeout_s(10.0, {"AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS": bad})
