"""Request validation of the agent API (no network: a bad request never reaches AWS)."""

from __future__ import annotations

import json

import pytest

from agentgw.agent.request import PromptRequest, RequestError, parse_request
from agentgw.agent.service import AgentService
from agentgw.agent.settings import MAX_BODY_BYTES, MAX_PROMPT_CHARS, Settings


def test_valid_requests() -> None:
    assert parse_request('{"prompt": "What time is it?"}') == PromptRequest("What time is it?", None)
    assert parse_request(b'{"prompt": "hi", "session_id": "a-b_c.1"}') == PromptRequest("hi", "a-b_c.1")
    assert parse_request({"prompt": "hi"}) == PromptRequest("hi")
    assert parse_request(json.dumps({"prompt": "x" * MAX_PROMPT_CHARS})).prompt == "x" * MAX_PROMPT_CHARS
    assert parse_request(json.dumps({"prompt": "hi", "session_id": None})).session_id is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "the request body is empty"),
        ("", "the request body is empty"),
        (b"  \n", "the request body is empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("{", "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ("null", "must be a JSON object, not null"),
        ("true", "must be a JSON object, not a boolean"),
        ("1.5", "must be a JSON object, not a number"),
        ({"prompt": "hi", "extra": 1}, "unknown field 'extra'; allowed fields: prompt, session_id"),
        ({"prompt": {"text": "hi"}}, '"prompt" must be a string, not an object'),
        ({"prompt": True}, '"prompt" must be a string, not a boolean'),
        # JSON's \u escapes can spell a lone UTF-16 surrogate, which is no Unicode text: it
        # cannot be encoded to send to the model, the gateway or the session store.
        ('{"prompt": "what time is it \\ud800"}', '"prompt" is not valid Unicode'),
        ({"prompt": "\udfff in Tokyo"}, '"prompt" is not valid Unicode'),
        ({"prompt": "hi", "session_id": ["a"]}, '"session_id" must be a string, not an array'),
        ({"prompt": "hi", "session_id": "-leading-dash"}, '"session_id" must be 1-128'),
        ({"prompt": "hi", "session_id": "has space"}, '"session_id" must be 1-128'),
        ({"prompt": "hi", "session_id": "a/b"}, '"session_id" must be 1-128'),
        ({"prompt": "hi", "session_id": "abc\n"}, '"session_id" must be 1-128'),
        ({"prompt": "hi", "session_id": "abc\r\n"}, '"session_id" must be 1-128'),
        ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, f"has {MAX_PROMPT_CHARS + 1} characters"),
        ({"prompt": "hi", "p": "x" * MAX_BODY_BYTES}, "the limit is 32768 bytes"),
        ("x" * (MAX_BODY_BYTES + 1), f"has {MAX_BODY_BYTES + 1} bytes"),
    ],
)
def test_bad_requests_say_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(RequestError) as raised:
        parse_request(body)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_the_body_limit_is_checked_before_parsing() -> None:
    # A huge body is refused by size, not parsed (cheap rejection).
    with pytest.raises(RequestError, match="bytes; the limit"):
        parse_request(b"[" * (MAX_BODY_BYTES + 1))


def test_service_answers_400_json_without_touching_aws() -> None:
    def no_settings() -> Settings:
        raise AssertionError("settings must not be read for a bad request")

    reply = AgentService(settings=no_settings).handle('{"prompt": ""}', request_id="req-1")
    assert reply.status == 400
    assert reply.body == {
        "error": "invalid_request",
        "message": '"prompt" is empty',
        "field": "prompt",
        "request_id": "req-1",
    }


def test_misconfiguration_is_a_500_that_names_the_variable() -> None:
    def broken() -> Settings:
        return Settings.from_env({"AGENTGW_MODEL_PROVIDER": "gpt-5"})

    reply = AgentService(settings=broken).handle('{"prompt": "hi"}', request_id="req-2")
    assert reply.status == 500
    assert reply.body["error"] == "misconfigured"
    assert "AGENTGW_MODEL_PROVIDER='gpt-5'" in reply.body["message"]


def test_missing_configuration_parameter_is_a_502(aws: object) -> None:
    settings = Settings(config_parameter="/agentgw/none/gateway", provider="offline")
    reply = AgentService(settings=lambda: settings).handle('{"prompt": "hi"}', request_id="req-3")
    assert reply.status == 502
    assert reply.body["error"] == "gateway_unavailable"
    assert reply.body["request_id"] == "req-3"


def test_errors_never_carry_credentials() -> None:
    from agentgw.agent.replies import error_reply, redact

    assert redact("Incorrect API key provided: sk-abc12*****xyz9") == "Incorrect API key provided: sk-***"
    assert redact("Authorization: Bearer eyJhbGciOi.abc.def failed") == "Authorization: Bearer *** failed"
    assert redact('{"client_secret": "abcdefgh1234"}') == '{"client_secret": "***"}'
    assert (
        redact("the agent failed: ValueError: timezone Tokyo")
        == "the agent failed: ValueError: timezone Tokyo"
    )
    reply = error_reply(502, "agent_failed", "AuthenticationError: api_key=sk-live-123456789", "r")
    assert "123456789" not in json.dumps(reply.body)


def test_openai_provider_takes_its_key_from_secrets_manager(aws: object) -> None:
    from strands.models.openai import OpenAIModel

    from agentgw.agent.credentials import GatewayCredentials
    from agentgw.agent.models import ModelFactory
    from agentgw.agent.tool_selection import ToolSelection

    arn = aws.client("secretsmanager").create_secret(Name="openai-key", SecretString="sk-test-key")["ARN"]  # type: ignore[attr-defined]
    settings = Settings(
        provider="openai",
        model_id="llama3.2",
        openai_base_url="http://127.0.0.1:11434/v1",
        openai_api_key_secret_arn=arn,
    )
    model, name = ModelFactory(GatewayCredentials()).build(settings, ToolSelection(tools=[]))
    assert isinstance(model, OpenAIModel)
    assert name == "openai:llama3.2"
    assert model.client_args == {"base_url": "http://127.0.0.1:11434/v1", "api_key": "sk-test-key"}
    assert model.get_config()["model_id"] == "llama3.2"
