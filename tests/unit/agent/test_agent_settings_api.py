"""Agent settings from the environment; the local API's payload-2.0 events and responses;
the Lambda handler with its sample event."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.settings import Settings, SettingsError
from agentgw.lambda_context import LambdaContext
from agentgw_local.api import http_event, http_response
from agentgw_local.lambda_runtime import InvokeResult
from agentgw_local.template import Template

ROOT = Path(__file__).resolve().parents[3]


def test_settings_defaults_and_conversions() -> None:
    settings = Settings.from_env({"AGENTGW_CONFIG_PARAMETER": "/agentgw/s/gateway"})
    assert settings.provider == "bedrock"
    assert settings.deadline_s == 25.0
    assert settings.search_threshold == 20
    custom = Settings.from_env(
        {
            "AGENTGW_MODEL_PROVIDER": "offline",
            "AGENTGW_DEADLINE_SECONDS": "3.5",
            "AGENTGW_SEARCH_TOP_K": "3",
            "AGENTGW_TOOL_LIST_TTL_SECONDS": "0",
            "AGENTGW_SESSION_BUCKET": "",  # empty means unset
        }
    )
    assert (custom.provider, custom.deadline_s, custom.search_top_k, custom.tool_list_ttl_s) == (
        "offline",
        3.5,
        3,
        0,
    )
    assert custom.session_bucket == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENTGW_MODEL_PROVIDER": "llama"}, "AGENTGW_MODEL_PROVIDER='llama' is not one of"),
        ({"AGENTGW_DEADLINE_SECONDS": "30"}, "between 0 and 30"),
        ({"AGENTGW_DEADLINE_SECONDS": "soon"}, "is not a float"),
        ({"AGENTGW_SEARCH_TOP_K": "11"}, "1..10"),
        ({"AGENTGW_MAX_TURNS": "0"}, "AGENTGW_MAX_TURNS must be at least 1"),
        ({"AGENTGW_MODEL_PROVIDER": "openai"}, "needs AGENTGW_OPENAI_BASE_URL"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Settings.from_env(env)


def test_openai_key_comes_from_secrets_manager(aws: object) -> None:
    sm = aws.client("secretsmanager")  # type: ignore[attr-defined]
    plain = sm.create_secret(Name="openai-plain", SecretString="sk-plain")["ARN"]
    wrapped = sm.create_secret(Name="openai-json", SecretString='{"api_key": "sk-json"}')["ARN"]
    broken = sm.create_secret(Name="openai-broken", SecretString='{"key": "x"}')["ARN"]
    api_key = GatewayCredentials().api_key
    assert api_key(plain, 0) == "sk-plain"
    assert api_key(wrapped, 0) == "sk-json"
    with pytest.raises(ValueError, match="without a string api_key") as raised:
        api_key(broken, 0)
    assert "x" not in str(raised.value).replace(broken, "")


def test_payload_2_event() -> None:
    event = http_event(
        method="POST",
        path="/prompt",
        route_key="POST /prompt",
        headers=[
            ("Host", "127.0.0.1:8080"),
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Cookie", "a=1; b=2"),
        ],
        query_string="x=1&x=2&y=3",
        query_params=[("x", "1"), ("x", "2"), ("y", "3")],
        body=b'{"prompt": "hi"}',
        source_ip="127.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /prompt"
    assert event["rawPath"] == "/prompt"
    assert event["headers"]["x-multi"] == "a,b"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"x": "1,2", "y": "3"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["requestId"]
    assert event["body"] == '{"prompt": "hi"}'
    assert event["isBase64Encoded"] is False
    binary = http_event(
        method="POST", path="/p", route_key="POST /p", headers={"content-type": "application/octet-stream"},
        query_string="", query_params=[], body=b"\x00\x01", source_ip="127.0.0.1",
    )  # fmt: skip
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x00\x01"


def test_lambda_results_map_to_http_like_api_gateway() -> None:
    ok = http_response(InvokeResult({"statusCode": 201, "headers": {"x-a": "1"}, "body": "created"}))
    assert (ok.status_code, ok.body, ok.headers["x-a"]) == (201, b"created", "1")
    encoded = http_response(
        InvokeResult({"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True})
    )
    assert encoded.body == b"\x00"
    inferred = http_response(InvokeResult({"answer": 42}))
    assert (inferred.status_code, json.loads(inferred.body)) == (200, {"answer": 42})
    failed = http_response(InvokeResult({"errorMessage": "boom"}, function_error="Unhandled"))
    assert (failed.status_code, json.loads(failed.body)) == (500, {"message": "Internal Server Error"})


def test_handler_with_its_sample_events() -> None:
    spec = Template().functions()["AgentFunction"]
    handler = spec.load_handler()
    context = LambdaContext(function_name="agentgw-AgentFunction", timeout_s=spec.timeout_s)
    bad = json.loads((ROOT / "events" / "agent-bad-request.json").read_text())
    result = handler(bad, context)
    assert result["statusCode"] == 400
    body = json.loads(result["body"])
    assert body["error"] == "invalid_request"
    assert body["request_id"] == context.aws_request_id
    assert result["headers"]["x-request-id"] == context.aws_request_id
    good = json.loads((ROOT / "events" / "agent-prompt.json").read_text())
    assert json.loads(good["body"]) == {"prompt": "What time is it in Tokyo?", "session_id": "demo-session-1"}
    assert good["routeKey"] == "POST /prompt"
