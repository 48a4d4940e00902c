"""The health check against the running local stack: the real health-check handler invoked
through emulated Lambda, the real gateway, Cognito, tools Lambda and control plane.

Each failure is made the way it happens in AWS (a target updated without a tool, a client
secret that Cognito no longer accepts, a target Lambda that fails, search turned off on the
gateway), then undone. Each must fail the right stage and emit the matching EMF metrics.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from emf_output import emf_documents

from agentgw.config import ClientCredentials, GatewayConfig
from agentgw.health import STAGES
from agentgw_local import health as health_cli
from agentgw_local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "events" / "health-check.json").read_text())


class Health:
    """Handles on the provisioned stack for breaking and checking it."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.aws is not None and stack.info is not None
        self.stack = stack
        self.aws = stack.aws
        self.parameter = f"/agentgw/{stack.stack_name}/gateway"
        self.function = f"{stack.stack_name}-HealthCheckFunction"
        text = self.aws.client("ssm").get_parameter(Name=self.parameter)["Parameter"]["Value"]
        self.config = GatewayConfig.from_json(text)
        self.control = self.aws.client("bedrock-agentcore-control")
        targets = self.control.list_gateway_targets(gatewayIdentifier=self.config.gateway_id)["items"]
        assert len(targets) == 1, targets
        self.target_id = targets[0]["targetId"]

    def invoke(self) -> dict[str, Any]:
        """An on-demand invocation of the deployed canary, through the Lambda API."""
        response = self.aws.client("lambda").invoke(FunctionName=self.function, Payload=json.dumps(EVENT))
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        return payload

    def _target(self) -> dict[str, Any]:
        return self.control.get_gateway_target(
            gatewayIdentifier=self.config.gateway_id, targetId=self.target_id
        )

    def _update_target(self, target: dict[str, Any], configuration: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {
            "gatewayIdentifier": self.config.gateway_id,
            "targetId": self.target_id,
            "name": target["name"],
            "targetConfiguration": configuration,
        }
        if target.get("credentialProviderConfigurations"):
            kwargs["credentialProviderConfigurations"] = target["credentialProviderConfigurations"]
        self.control.update_gateway_target(**kwargs)

    @contextmanager
    def tool_removed(self, tool: str) -> Iterator[None]:
        target = self._target()
        original = target["targetConfiguration"]
        changed = copy.deepcopy(original)
        payload = changed["mcp"]["lambda"]["toolSchema"]["inlinePayload"]
        changed["mcp"]["lambda"]["toolSchema"]["inlinePayload"] = [t for t in payload if t["name"] != tool]
        assert len(changed["mcp"]["lambda"]["toolSchema"]["inlinePayload"]) == len(payload) - 1
        self._update_target(target, changed)
        try:
            yield
        finally:
            self._update_target(target, original)

    @contextmanager
    def secret_revoked(self) -> Iterator[None]:
        # The deployment's stored client secret is no longer one Cognito accepts.
        secrets = self.aws.client("secretsmanager")
        original = secrets.get_secret_value(SecretId=self.config.client_secret_arn)["SecretString"]
        stale = ClientCredentials(self.config.client_id, "revoked-" + "x" * 40)
        secrets.put_secret_value(
            SecretId=self.config.client_secret_arn, SecretString=stale.to_secret_string()
        )
        try:
            yield
        finally:
            secrets.put_secret_value(SecretId=self.config.client_secret_arn, SecretString=original)

    @contextmanager
    def target_lambda_failing(self) -> Iterator[None]:
        arn = self._target()["targetConfiguration"]["mcp"]["lambda"]["lambdaArn"]
        function = self.aws.lambdas.get(arn)

        def broken(event: Any, context: Any) -> Any:
            raise RuntimeError("simulated broken deployment of the tool function")

        self.aws.lambdas.register(function.name, function.arn, function.spec, broken)
        try:
            yield
        finally:
            self.aws.lambdas.register(function.name, function.arn, function.spec, function.handler)

    @contextmanager
    def search_disabled(self) -> Iterator[None]:
        gateway = self.control.get_gateway(gatewayIdentifier=self.config.gateway_id)
        keys = (
            "name",
            "roleArn",
            "protocolType",
            "authorizerType",
            "authorizerConfiguration",
            "exceptionLevel",
        )
        base = {k: gateway[k] for k in keys if gateway.get(k)}
        original = gateway["protocolConfiguration"]
        without = copy.deepcopy(original)
        assert without["mcp"].pop("searchType") == "SEMANTIC"
        # UpdateGateway replaces the whole configuration: write it all back, minus search.
        self.control.update_gateway(
            gatewayIdentifier=self.config.gateway_id, protocolConfiguration=without, **base
        )
        try:
            yield
        finally:
            self.control.update_gateway(
                gatewayIdentifier=self.config.gateway_id, protocolConfiguration=original, **base
            )


@pytest.fixture(scope="module")
def health(local_stack: LocalStack) -> Health:
    health = Health(local_stack)
    # The local search index embeds the tools on first use (seconds on a small machine);
    # build it now so the checks below are about correctness, not the local stack's warm-up.
    assert local_stack.gateway is not None
    local_stack.gateway.warm_search(health.config.gateway_id)
    return health


@pytest.fixture
def canary(health: Health, monkeypatch: pytest.MonkeyPatch) -> Health:
    # Lambda would get these from the template's Environment; the local runtime runs in-process.
    monkeypatch.setenv("AGENTGW_CONFIG_PARAMETER", health.parameter)
    # Generous: a busy 2-core CI machine re-embeds tools after a target changes.
    monkeypatch.setenv("AGENTGW_HEALTH_STAGE_TIMEOUT_SECONDS", "60")
    return health


def check_metrics(out: str, report: dict[str, Any]) -> None:
    """The EMF output matches the report: run success/failure and one document per stage."""
    docs = emf_documents(out, "agentgw")
    run = [d for d in docs if "HealthCheckSuccess" in d]
    assert len(run) == 1, docs
    assert run[0]["HealthCheckSuccess"] == [1.0 if report["ok"] else 0.0]
    assert run[0]["HealthCheckFailure"] == [0.0 if report["ok"] else 1.0]
    assert run[0]["gateway_id"] == report["gateway_id"]
    stages = {d["Stage"]: d for d in docs if "Stage" in d}
    assert set(stages) == {s["name"] for s in report["stages"] if not s.get("skipped")}
    for stage in report["stages"]:
        if stage.get("skipped"):
            continue
        assert stages[stage["name"]]["StageFailure"] == [0.0 if stage["ok"] else 1.0]
        assert stages[stage["name"]]["StageLatency"] == [stage["latency_ms"]]


def failed(report: dict[str, Any]) -> dict[str, Any]:
    assert report["ok"] is False, report
    bad = [s for s in report["stages"] if not s["ok"]]
    assert len(bad) == 1 and report["stages"][-1] is bad[0], report
    return bad[0]


def test_healthy(canary: Health, capsys: pytest.CaptureFixture[str]) -> None:
    report = canary.invoke()
    assert report["ok"] is True, report
    assert report["gateway_id"] == canary.config.gateway_id
    assert [s["name"] for s in report["stages"]] == list(STAGES)
    assert all(s["ok"] and "error" not in s for s in report["stages"])
    check_metrics(capsys.readouterr().out, report)


def test_tool_removed_from_the_target(canary: Health, capsys: pytest.CaptureFixture[str]) -> None:
    with canary.tool_removed("get_weather"):
        report = canary.invoke()
    stage = failed(report)
    assert stage["name"] == "expected_tools"
    assert "timeweather___get_weather" in stage["error"]
    # The published configuration names the declared targets: the detail says whose tools are gone.
    assert "targets with missing tools: timeweather (1 of 2 missing)" in stage["error"]
    check_metrics(capsys.readouterr().out, report)
    assert canary.invoke()["ok"] is True  # restored


def test_revoked_client_secret(canary: Health, capsys: pytest.CaptureFixture[str]) -> None:
    with canary.secret_revoked():
        report = canary.invoke()
    stage = failed(report)
    assert stage["name"] == "token"
    assert "invalid_client" in stage["error"]
    out = capsys.readouterr().out
    assert "revoked-" not in out
    check_metrics(out, report)


def test_target_lambda_fails(canary: Health, capsys: pytest.CaptureFixture[str]) -> None:
    with canary.target_lambda_failing():
        report = canary.invoke()
    stage = failed(report)
    assert stage["name"] == "canary"
    assert "timeweather___get_time returned an error" in stage["error"]
    check_metrics(capsys.readouterr().out, report)


def test_search_disabled(canary: Health, capsys: pytest.CaptureFixture[str]) -> None:
    with canary.search_disabled():
        report = canary.invoke()
    stage = failed(report)
    assert stage["name"] == "search"
    assert "x_amz_bedrock_agentcore_search" in stage["error"]
    check_metrics(capsys.readouterr().out, report)


def test_cli_against_the_local_stack(local_stack: LocalStack, tmp_path: Path) -> None:
    assert local_stack.info is not None
    path = local_stack.info.write(tmp_path / "local.json")
    code = health_cli.main(["--json", "--local-file", str(path)])
    assert code == 0
