"""The template's canary, alarms and dashboard agree with what the code emits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agentgw.health import metrics
from agentgw_local.template import Template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return Template().resources


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return Template().doc


def test_health_function_runs_on_the_configured_schedule(
    resources: dict[str, Any], doc: dict[str, Any]
) -> None:
    fn = resources["HealthCheckFunction"]["Properties"]
    assert fn["CodeUri"] == "functions/health_check/" and fn["Handler"] == "app.lambda_handler"
    schedule = fn["Events"]["Schedule"]
    assert schedule["Type"] == "Schedule"
    assert schedule["Properties"]["Schedule"] == {"Fn::Sub": "rate(${HealthCheckIntervalMinutes} minutes)"}
    assert doc["Parameters"]["HealthCheckIntervalMinutes"]["Default"] == 5
    assert fn["Environment"]["Variables"]["AGENTGW_CONFIG_PARAMETER"]
    # Six stages at the default 10 s each must fit in the function's timeout.
    assert fn["Timeout"] > 6 * 10


@pytest.mark.parametrize("alarm", ["GatewayUnhealthyAlarm", "HealthCheckSilentAlarm"])
def test_alarms_watch_the_metric_the_code_emits(resources: dict[str, Any], alarm: str) -> None:
    props = resources[alarm]["Properties"]
    assert props["Namespace"] == metrics.NAMESPACE
    assert props["MetricName"] == metrics.SUCCESS
    assert props["Dimensions"] == [{"Name": "service", "Value": metrics.SERVICE}]
    assert props["AlarmActions"] == [{"Ref": "HealthAlarmTopic"}]


def test_email_subscription_is_optional(resources: dict[str, Any], doc: dict[str, Any]) -> None:
    sub = resources["HealthAlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail"
    assert sub["Properties"]["Protocol"] == "email"
    assert doc["Parameters"]["AlarmEmail"]["Default"] == ""


def test_dashboard_is_valid_json_and_shows_the_emitted_metrics(resources: dict[str, Any]) -> None:
    body, variables = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    # Every substitution resolves: a pseudo parameter, a listed variable or a resource.
    assert all(n.startswith("AWS::") or n in variables or n in resources for n in names), names
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))
    text = json.dumps(dashboard)
    for name in (metrics.SUCCESS, metrics.FAILURE, metrics.STAGE_FAILURE, metrics.STAGE_LATENCY):
        assert name in text
    assert "PromptLatency" in text and "ToolErrors" in text


def test_observability_is_conditional(resources: dict[str, Any], doc: dict[str, Any]) -> None:
    assert doc["Conditions"]["ObservabilityOn"] == {"Fn::Equals": [{"Ref": "GatewayObservability"}, "true"]}
    assert doc["Parameters"]["GatewayObservability"]["Default"] == "false"
    for name in ("GatewayObservabilityFunction", "GatewayObservabilityDelivery"):
        assert resources[name]["Condition"] == "ObservabilityOn"
