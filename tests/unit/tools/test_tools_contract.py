"""The AgentCore Gateway Lambda contract, exercised on the real handler.

The gateway sends the tool's arguments as the event and names the tool (prefixed
`{target}___`) in `context.client_context.custom`; failures must surface as a Lambda
error whose message an agent can act on. Also: the same handler behind the local stack's
Lambda runtime, the sample events, and the logs and metrics each call leaves.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from emf_output import emf_documents
from openmeteo_recorded import Invoke, RecordedOpenMeteo, Reply, recorded

from agentgw.lambda_context import (
    TOOL_NAME_KEY,
    ClientContext,
    LambdaContext,
    agentcore_client_context,
)
from agentgw.tools import dispatch, target_name, tool_definitions
from agentgw.tools.errors import (
    InternalToolError,
    InvalidArgumentsError,
    ToolError,
    UnknownToolError,
)

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
TIME = "timeweather___get_time"


def _no_internals(message: str) -> None:
    assert "Traceback" not in message
    assert ".py" not in message
    assert "\n" not in message


def test_get_time_as_the_gateway_calls_it(invoke: Invoke) -> None:
    result = invoke(TIME, {"timezone": "Asia/Tokyo"})

    assert json.loads(json.dumps(result)) == result  # Lambda serialises it as JSON
    assert (result["timezone"], result["utc_offset"], result["abbreviation"]) == (
        "Asia/Tokyo",
        "+09:00",
        "JST",
    )
    local, utc = datetime.fromisoformat(result["local_time"]), datetime.fromisoformat(result["utc_time"])
    assert local == utc  # the same instant, two renderings


@pytest.mark.parametrize("prefixed", ["timeweather___get_time", "other-target___get_time", "get_time"])
def test_tool_is_picked_by_exact_name_after_the_prefix(invoke: Invoke, prefixed: str) -> None:
    assert invoke(prefixed, {"timezone": "UTC"})["timezone"] == "UTC"


@pytest.mark.parametrize(
    "prefixed",
    ["timeweather___get_time_now", "timeweather___my_get_time", "timeweather___GET_TIME", "timeweather___"],
)
def test_names_that_merely_contain_a_tool_are_unknown(invoke: Invoke, prefixed: str) -> None:
    with pytest.raises(UnknownToolError) as caught:
        invoke(prefixed, {"timezone": "UTC"})
    message = str(caught.value)
    assert repr(prefixed) in message
    assert "timeweather___get_time, timeweather___get_weather" in message
    _no_internals(message)


def test_missing_client_context_says_where_the_tool_name_comes_from(tools_app: Any) -> None:
    with pytest.raises(UnknownToolError) as caught:
        tools_app.lambda_handler({"timezone": "UTC"}, LambdaContext(client_context=None))
    assert TOOL_NAME_KEY in str(caught.value)
    _no_internals(str(caught.value))


def test_fallback_tool_name_only_without_client_context(
    tools_app: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dispatch.ENV_FALLBACK_TOOL_NAME, "timeweather___get_time")
    assert tools_app.lambda_handler({"timezone": "UTC"}, LambdaContext())["timezone"] == "UTC"
    # A client context that names a tool always wins over the fallback.
    with pytest.raises(InvalidArgumentsError, match="get_weather"):
        invoke("timeweather___get_weather", {"timezone": "UTC"})


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "'timezone' is a required property"),
        (None, "'timezone' is a required property"),
        ({"timezone": 9}, "timezone: 9 is not of type 'string'"),
        ({"timezone": "   "}, "'timezone' must not be empty"),
        ({"timezone": "x" * 201}, "'timezone' is longer than 200 characters"),
        ({"timezone": "UTC", "format": "24h"}, "unexpected argument 'format'"),
        ({"zone": "UTC"}, "'timezone' is a required property; unexpected argument 'zone'"),
        (["UTC"], "expected a JSON object, got list"),
        ("UTC", "expected a JSON object, got str"),
    ],
)
def test_invalid_arguments_are_rejected_with_the_expected_shape(
    invoke: Invoke, arguments: Any, expected: str
) -> None:
    with pytest.raises(InvalidArgumentsError) as caught:
        invoke(TIME, arguments)
    message = str(caught.value)
    assert message.startswith("Invalid arguments for get_time: ")
    assert expected in message
    assert message.endswith("get_time takes {timezone (string, required)}.")
    _no_internals(message)


def test_unexpected_bug_is_reported_without_its_details(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, log_records: list[dict[str, Any]]
) -> None:
    def broken(arguments: dict[str, Any], call: dispatch.Call) -> dict[str, Any]:
        raise KeyError("secret-internal-detail")

    monkeypatch.setitem(dispatch.TOOLS, "get_time", broken)

    with pytest.raises(InternalToolError) as caught:
        invoke(TIME, {"timezone": "UTC"})

    message = str(caught.value)
    assert "secret-internal-detail" not in message
    assert message.startswith("get_time failed because of an internal error (request ")
    _no_internals(message)
    # ...but the logs have it, for whoever operates the function.
    (record,) = [r for r in log_records if r["message"] == "tool call failed unexpectedly"]
    assert "secret-internal-detail" in record["exception"]


def test_every_failure_is_a_tool_error_never_a_returned_payload(
    invoke: Invoke, open_meteo: RecordedOpenMeteo
) -> None:
    open_meteo.forecast = Reply(status=500, body={})
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    calls = [
        ("timeweather___nope", {}),
        (TIME, {"timezone": "Atlantis/Capital"}),
        (TIME, {}),
        ("timeweather___get_weather", {"location": "Xqzzyville"}),
        ("timeweather___get_weather", {"location": "Seattle"}),
    ]
    for tool, arguments in calls:
        with pytest.raises(ToolError) as caught:
            invoke(tool, arguments)
        _no_internals(str(caught.value))


def test_logs_carry_the_gateway_keys(invoke: Invoke, log_records: list[dict[str, Any]]) -> None:
    invoke(TIME, {"timezone": "UTC"}, gateway_id="gw-123", target_id="TGT9", mcp_message_id=42)

    (record,) = [r for r in log_records if r["message"] == "tool call succeeded"]
    assert record["tool_name"] == "get_time"
    assert record["gateway_tool_name"] == TIME
    assert (record["gateway_id"], record["target_id"], record["mcp_message_id"]) == ("gw-123", "TGT9", "42")
    assert record["function_name"] == "agentgw-tools"  # Powertools' Lambda context keys too


def test_failures_are_logged_with_type_and_message(invoke: Invoke, log_records: list[dict[str, Any]]) -> None:
    with pytest.raises(ToolError):
        invoke(TIME, {"timezone": "Atlantis/Capital"})
    (record,) = [r for r in log_records if r["message"] == "tool call failed"]
    assert record["error_type"] == "NotFoundError"
    assert "'Atlantis/Capital'" in record["error"]


def test_metrics_per_tool_latency_and_errors(invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    invoke(TIME, {"timezone": "UTC"})
    with pytest.raises(ToolError):
        invoke(TIME, {"timezone": "Nowhere/Special"})
    with pytest.raises(ToolError):
        invoke("timeweather___drop_tables", {})

    ok, failed, unknown = emf_documents(capsys.readouterr().out, "agentgw")
    for blob in (ok, failed, unknown):
        assert "tool" in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        names = {m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert {"ToolLatency", "ToolInvocations", "ToolErrors"} <= names
        assert blob["ToolLatency"][0] >= 0
    assert (ok["tool"], ok["ToolErrors"], ok["ToolInvocations"]) == ("get_time", [0.0], [1.0])
    assert (failed["tool"], failed["ToolErrors"], failed["error_type"]) == (
        "get_time",
        [1.0],
        "NotFoundError",
    )
    # Arbitrary names never become a metric dimension value.
    assert (unknown["tool"], unknown["error_type"]) == ("unknown", "UnknownToolError")


def test_through_the_local_stack_lambda_runtime(tools_app: Any) -> None:
    """As the local gateway calls it: by name, with the decoded client context header."""
    from agentgw_local.lambda_runtime import LambdaRuntime, decode_client_context, encode_client_context
    from agentgw_local.template import Template

    runtime = LambdaRuntime()
    spec = Template().functions()["ToolsFunction"]
    runtime.register(
        "agentgw-tools",
        "arn:aws:lambda:us-east-1:000000000000:function:agentgw-tools",
        spec,
        tools_app.lambda_handler,
    )
    header = encode_client_context(agentcore_client_context(TIME).custom)

    ok = runtime.invoke(
        "agentgw-tools", {"timezone": "Europe/Paris"}, client_context=decode_client_context(header)
    )
    assert ok.function_error is None
    assert ok.payload["timezone"] == "Europe/Paris"

    failed = runtime.invoke(
        "agentgw-tools", {"timezone": "Paris, Mars"}, client_context=decode_client_context(header)
    )
    assert failed.function_error == "Unhandled"
    assert failed.payload["errorType"] == "NotFoundError"
    assert failed.payload["errorMessage"].startswith("Unknown time zone or city 'Paris, Mars'")


def test_sample_events_match_the_schemas_and_run(tools_app: Any, open_meteo: RecordedOpenMeteo) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    for tool in tool_definitions():
        name = tool["name"]
        event = json.loads((EVENTS / f"tools-{name}.json").read_text("utf-8"))
        client_context = json.loads((EVENTS / f"tools-{name}.client-context.json").read_text("utf-8"))
        sam_env = json.loads((EVENTS / f"tools-{name}.env.json").read_text("utf-8"))

        custom = client_context["custom"]
        assert custom[TOOL_NAME_KEY] == f"{target_name()}___{name}"
        assert set(custom) == set(agentcore_client_context("x").custom)
        assert sam_env["ToolsFunction"][dispatch.ENV_FALLBACK_TOOL_NAME] == custom[TOOL_NAME_KEY]
        assert dispatch.validate_arguments(name, event) == event

        context = LambdaContext(function_name="agentgw-tools", client_context=ClientContext(custom=custom))
        result = tools_app.lambda_handler(event, context)
        assert json.loads(json.dumps(result)) == result


def test_concurrent_calls_keep_their_own_gateway_keys(
    invoke: Invoke, log_records: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # The local gateway runs tool invocations on worker threads in one process.
    from concurrent.futures import ThreadPoolExecutor

    def call(i: int) -> None:
        invoke(TIME, {"timezone": "UTC"}, gateway_id=f"gw-{i}", mcp_message_id=i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(call, range(40)))

    done = [r for r in log_records if r["message"] == "tool call succeeded"]
    assert len(done) == 40
    assert all(r["gateway_id"] == f"gw-{r['mcp_message_id']}" for r in done)
    # One metrics document per call, none lost to another thread's flush.
    blobs = emf_documents(capsys.readouterr().out, "agentgw")
    assert len(blobs) == 40
    assert all(b["ToolInvocations"] == [1.0] and b["tool"] == "get_time" for b in blobs)
