"""The real health-check handler reading the published configuration from emulated AWS
(moto server on loopback) and checking the gateway double; metrics captured from stdout."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from emf_output import emf_documents
from health_gateway_double import CLIENT_ID, CLIENT_SECRET

from agentgw.config import ClientCredentials
from agentgw.lambda_context import LambdaContext
from agentgw_local.aws import EmulatedAws

ROOT = Path(__file__).resolve().parents[3]
EVENT = json.loads((ROOT / "events" / "health-check.json").read_text())


@pytest.fixture(scope="module")
def handler_module() -> ModuleType:
    path = ROOT / "functions" / "health_check" / "app.py"
    spec = importlib.util.spec_from_file_location("agentgw_test_health_check_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def invoke(module: ModuleType) -> dict[str, Any]:
    return module.lambda_handler(EVENT, LambdaContext(function_name="HealthCheckFunction"))


def test_handler_reports_healthy_and_emits_success(
    handler_module: ModuleType, published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(handler_module)
    assert result["ok"] is True, result
    assert result["gateway_id"] == published["config"].gateway_id
    docs = emf_documents(capsys.readouterr().out)
    run = next(d for d in docs if "HealthCheckSuccess" in d)
    assert run["HealthCheckSuccess"] == [1.0]
    assert {d["Stage"] for d in docs if "Stage" in d} == {s["name"] for s in result["stages"]}


def test_handler_picks_up_a_revoked_secret(
    handler_module: ModuleType,
    emulator: EmulatedAws,
    published: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.client("secretsmanager").put_secret_value(
        SecretId=published["secret_arn"],
        SecretString=ClientCredentials(CLIENT_ID, "rotated-elsewhere").to_secret_string(),
    )
    result = invoke(handler_module)
    assert result["ok"] is False
    assert [s["name"] for s in result["stages"]] == ["token"]
    assert "invalid_client" in result["stages"][0]["error"]
    out = capsys.readouterr().out
    assert "rotated-elsewhere" not in out and CLIENT_SECRET not in out
    token_doc = next(d for d in emf_documents(out) if d.get("Stage") == "token")
    assert token_doc["StageFailure"] == [1.0]


def test_handler_without_published_config_fails_token_stage(
    handler_module: ModuleType,
    emulator: EmulatedAws,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGENTGW_CONFIG_PARAMETER", "/agentgw-health-test/absent/gateway")
    result = invoke(handler_module)
    assert result["ok"] is False
    assert result["stages"][0]["name"] == "token"
    assert "/agentgw-health-test/absent/gateway" in result["stages"][0]["error"]
    run = next(d for d in emf_documents(capsys.readouterr().out) if "HealthCheckFailure" in d)
    assert run["HealthCheckFailure"] == [1.0]
