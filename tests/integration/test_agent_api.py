"""POST /prompt over real HTTP on the local stack, with a scripted model (the only double).

The request goes through the local HTTP API (payload 2.0) to the real AgentFunction handler,
which opens an MCP session with the local gateway (real Cognito token), and the gateway calls
the real tool Lambda.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from emf_output import emf_documents

from agentgw.agent.settings import MAX_BODY_BYTES, MAX_PROMPT_CHARS
from agentgw_local.stack import LocalStack
from integration.agent_support import (
    Script,
    Turn,
    prompt,
    scripted,
    threads_running_invocation_code,
    tool_result_text,
)

__all__ = ["scripted"]  # the fixture, imported for pytest

GET_TIME = "timeweather___get_time"
GET_WEATHER = "timeweather___get_weather"


def api(stack: LocalStack) -> str:
    assert stack.info is not None and stack.info.api_url
    return stack.info.api_url


def test_one_tool_call(local_stack: LocalStack, scripted: Script) -> None:
    scripted.play(
        Turn(tool_uses=[(GET_TIME, {"timezone": "Asia/Tokyo"})], input_tokens=100, output_tokens=20),
        Turn(
            text=lambda messages: f"Tokyo: {tool_result_text(messages)}", input_tokens=150, output_tokens=30
        ),
    )
    response = prompt(api(local_stack), {"prompt": "What time is it in Tokyo?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"answer", "session_id", "tool_calls", "model", "usage", "request_id"}
    # The answer carries the real tool result the gateway returned to the model.
    assert '"timezone": "Asia/Tokyo"' in body["answer"]
    assert body["tool_calls"] == [
        {
            "name": GET_TIME,
            "arguments": {"timezone": "Asia/Tokyo"},
            "is_error": False,
            "latency_ms": body["tool_calls"][0]["latency_ms"],
        }
    ]
    assert isinstance(body["tool_calls"][0]["latency_ms"], int)
    assert body["usage"] == {"input_tokens": 250, "output_tokens": 50}
    assert body["model"] == "scripted"
    assert body["session_id"] and body["request_id"]
    # The model was offered the gateway's tools (two, below the search threshold), not the search tool.
    assert sorted(scripted.seen[0].tool_names) == [GET_TIME, GET_WEATHER]
    assert response.headers["x-request-id"] == body["request_id"]


def test_two_tool_calls(local_stack: LocalStack, scripted: Script) -> None:
    scripted.play(
        Turn(tool_uses=[(GET_TIME, {"timezone": "Europe/Paris"})]),
        Turn(tool_uses=[(GET_TIME, {"timezone": "America/New_York"})]),
        Turn(text="Paris and New York times fetched."),
    )
    response = prompt(api(local_stack), {"prompt": "What time is it in Paris and in New York?"})

    assert response.status_code == 200, response.text
    calls = response.json()["tool_calls"]
    assert [(c["name"], c["arguments"], c["is_error"]) for c in calls] == [
        (GET_TIME, {"timezone": "Europe/Paris"}, False),
        (GET_TIME, {"timezone": "America/New_York"}, False),
    ]
    # The third model call saw both tool results in the conversation.
    results = [b for m in scripted.seen[2].messages for b in m["content"] if "toolResult" in b]
    assert len(results) == 2
    assert response.json()["usage"] == {"input_tokens": 30, "output_tokens": 15}


def test_tool_error_is_reported_not_fatal(local_stack: LocalStack, scripted: Script) -> None:
    seen_error: dict[str, Any] = {}

    def answer(messages: Any) -> str:
        seen_error["text"] = tool_result_text(messages)
        return "That place has no time zone I know."

    scripted.play(Turn(tool_uses=[(GET_TIME, {"timezone": "Atlantis/Nowhere"})]), Turn(text=answer))
    response = prompt(api(local_stack), {"prompt": "What time is it in Atlantis?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tool_calls"][0]["name"] == GET_TIME
    assert body["tool_calls"][0]["is_error"] is True
    assert body["answer"] == "That place has no time zone I know."
    assert "Atlantis/Nowhere" in seen_error["text"]  # the gateway's DEBUG error text reached the model


def test_a_models_own_timeout_is_an_error_not_the_deadline(local_stack: LocalStack, scripted: Script) -> None:
    # A provider's read timeout surfaces as the built-in TimeoutError, like the deadline's own.
    scripted.play(Turn(raises=TimeoutError("the model endpoint did not answer")))
    response = prompt(api(local_stack), {"prompt": "What time is it in Tokyo?"})

    assert response.status_code == 502, response.text
    assert response.json()["error"] == "agent_failed"
    assert "TimeoutError" in response.json()["message"]


def test_unknown_tool_name_from_model_is_an_error_result(local_stack: LocalStack, scripted: Script) -> None:
    scripted.play(Turn(tool_uses=[("timeweather___no_such_tool", {})]), Turn(text="No such tool."))
    response = prompt(api(local_stack), {"prompt": "Use a tool that does not exist"})

    assert response.status_code == 200, response.text
    assert response.json()["tool_calls"][0]["is_error"] is True


def test_multi_turn_session_keeps_history(local_stack: LocalStack, scripted: Script) -> None:
    session = "itest-session-1"
    scripted.play(
        Turn(tool_uses=[(GET_TIME, {"timezone": "Asia/Tokyo"})]),
        Turn(text="It is evening in Tokyo."),
    )
    first = prompt(api(local_stack), {"prompt": "What time is it in Tokyo?", "session_id": session})
    assert first.status_code == 200, first.text
    assert first.json()["session_id"] == session

    scripted.play(Turn(text="You asked about Tokyo."))
    second = prompt(api(local_stack), {"prompt": "Which city did I ask about?", "session_id": session})
    assert second.status_code == 200, second.text
    assert second.json()["session_id"] == session
    history = scripted.seen[0].messages
    texts = [b.get("text") for m in history for b in m["content"] if "text" in b]
    # The second request's model call saw the whole first exchange, then the new question.
    assert texts[0] == "What time is it in Tokyo?"
    assert "It is evening in Tokyo." in texts
    assert texts[-1] == "Which city did I ask about?"
    assert any("toolUse" in b for m in history for b in m["content"])

    # Another session starts empty.
    scripted.play(Turn(text="New conversation."))
    other = prompt(api(local_stack), {"prompt": "Hello?", "session_id": "itest-session-2"})
    assert other.status_code == 200
    assert [m["role"] for m in scripted.seen[0].messages] == ["user"]


@pytest.mark.parametrize("earlier", [[], ["Earlier request", "Earlier answer"]], ids=["new", "existing"])
def test_two_requests_of_one_session_at_once_keep_the_turn_saved_first(
    local_stack: LocalStack, scripted: Script, earlier: list[str]
) -> None:
    session = f"itest-session-busy-{len(earlier)}"
    if earlier:
        scripted.play(Turn(text=earlier[1]))
        assert prompt(api(local_stack), {"prompt": earlier[0], "session_id": session}).status_code == 200
    meanwhile: list[Any] = []

    def answer_after_another_request(messages: Any) -> str:
        # While this request is answering, another request of the session runs and is saved.
        meanwhile.append(prompt(api(local_stack), {"prompt": "Second request", "session_id": session}))
        return "First answer"

    scripted.play(Turn(text=answer_after_another_request), Turn(text="Second answer"))
    first = prompt(api(local_stack), {"prompt": "First request", "session_id": session})

    assert meanwhile[0].status_code == 200, meanwhile[0].text
    # Not a 200 whose turn silently overwrote the other one: the client is told to send it again.
    assert first.status_code == 409, first.text
    body = first.json()
    assert (body["error"], body["session_id"]) == ("session_busy", session)
    assert "not saved" in body["message"]

    scripted.play(Turn(text="Third answer"))
    third = prompt(api(local_stack), {"prompt": "Third request", "session_id": session})
    assert third.status_code == 200, third.text
    texts = [b["text"] for m in scripted.seen[0].messages for b in m["content"] if "text" in b]
    assert texts == [*earlier, "Second request", "Second answer", "Third request"]


def test_without_session_id_a_new_session_is_made(local_stack: LocalStack, scripted: Script) -> None:
    scripted.play(Turn(text="one"))
    first = prompt(api(local_stack), {"prompt": "first"})
    scripted.play(Turn(text="two"))
    second = prompt(api(local_stack), {"prompt": "second"})
    assert first.json()["session_id"] != second.json()["session_id"]
    assert len(scripted.seen[0].messages) == 1


def test_concurrent_requests_are_independent(local_stack: LocalStack, scripted: Script) -> None:
    # Several requests at once: each opens and closes its own MCP session.
    scripted.play(*[Turn(text="ok") for _ in range(4)])
    results: list[int] = []

    def ask(i: int) -> None:
        results.append(prompt(api(local_stack), {"prompt": f"question {i}"}).status_code)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200, 200]


BAD_REQUESTS = [
    pytest.param(b"", "the request body is empty", None, id="empty-body"),
    pytest.param(b"{not json", "not valid JSON", None, id="bad-json"),
    # API Gateway hands a text body to the function as a string: invalid UTF-8 arrives mangled.
    pytest.param(b"\xff\xfe{}", "not valid JSON", None, id="not-utf8"),
    pytest.param(b'["a prompt"]', "must be a JSON object, not an array", None, id="array"),
    pytest.param(b'"a prompt"', "must be a JSON object, not a string", None, id="string"),
    pytest.param(b"{}", '"prompt" is required', "prompt", id="missing-prompt"),
    pytest.param(b'{"session_id": "abc"}', '"prompt" is required', "prompt", id="only-session"),
    pytest.param(b'{"prompt": ""}', '"prompt" is empty', "prompt", id="empty-prompt"),
    pytest.param(b'{"prompt": "  \\n\\t "}', '"prompt" is empty', "prompt", id="blank-prompt"),
    pytest.param(b'{"prompt": 42}', '"prompt" must be a string, not a number', "prompt", id="number-prompt"),
    pytest.param(b'{"prompt": null}', '"prompt" must be a string, not null', "prompt", id="null-prompt"),
    pytest.param(
        b'{"prompt": ["x"]}', '"prompt" must be a string, not an array', "prompt", id="array-prompt"
    ),
    pytest.param(
        json.dumps({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}).encode(),
        f"the limit is {MAX_PROMPT_CHARS}",
        "prompt",
        id="oversized-prompt",
    ),
    pytest.param(
        json.dumps({"prompt": "hi", "pad": "x" * MAX_BODY_BYTES}).encode(),
        f"the limit is {MAX_BODY_BYTES} bytes",
        None,
        id="oversized-body",
    ),
    pytest.param(b'{"prompt": "hi", "model": "gpt"}', "unknown field 'model'", "model", id="unknown-field"),
    pytest.param(b'{"prompt": "hi", "a": 1, "b": 2}', "unknown fields 'a', 'b'", "a", id="unknown-fields"),
    pytest.param(
        b'{"prompt": "hi", "session_id": 7}',
        '"session_id" must be a string',
        "session_id",
        id="session-number",
    ),
    pytest.param(
        b'{"prompt": "hi", "session_id": ""}', '"session_id" must be 1-128', "session_id", id="session-empty"
    ),
    pytest.param(
        b'{"prompt": "hi", "session_id": "../etc"}',
        '"session_id" must be 1-128',
        "session_id",
        id="session-path",
    ),
    pytest.param(
        json.dumps({"prompt": "hi", "session_id": "s" * 129}).encode(),
        '"session_id" must be 1-128',
        "session_id",
        id="session-too-long",
    ),
]


@pytest.mark.parametrize(("raw", "message", "field"), BAD_REQUESTS)
def test_bad_requests_are_400_with_what_is_wrong(
    local_stack: LocalStack, scripted: Script, raw: bytes, message: str, field: str | None
) -> None:
    response = prompt(api(local_stack), None, raw=raw)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "invalid_request"
    assert message in body["message"]
    assert body.get("field") == field
    assert body["request_id"]
    assert scripted.seen == []  # no model call, no MCP session for a bad request


def test_unknown_route_is_404(local_stack: LocalStack) -> None:
    import httpx

    assert httpx.post(f"{api(local_stack)}/nope", content=b"{}").status_code == 404
    assert httpx.get(f"{api(local_stack)}/prompt").status_code == 404


def test_sessions_in_s3_as_deployed(
    local_stack: LocalStack, scripted: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With AGENTGW_SESSION_BUCKET (the deployed setting) history lives under sessions/ in S3."""
    assert local_stack.aws is not None
    s3 = local_stack.aws.client("s3")
    s3.create_bucket(Bucket="agentgw-it-sessions")
    monkeypatch.setenv("AGENTGW_SESSION_BUCKET", "agentgw-it-sessions")

    scripted.play(Turn(text="Noted: Tokyo."))
    assert (
        prompt(api(local_stack), {"prompt": "Remember Tokyo", "session_id": "s3-session"}).status_code == 200
    )
    scripted.play(Turn(text="You said Tokyo."))
    response = prompt(api(local_stack), {"prompt": "Which city?", "session_id": "s3-session"})

    assert response.status_code == 200, response.text
    texts = [b["text"] for m in scripted.seen[0].messages for b in m["content"] if "text" in b]
    assert texts == ["Remember Tokyo", "Noted: Tokyo.", "Which city?"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="agentgw-it-sessions")["Contents"]]
    assert keys and all(k.startswith("sessions/session_s3-session/") for k in keys)


def test_logs_and_metrics_carry_the_request_and_never_a_secret(
    local_stack: LocalStack,
    scripted: Script,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert local_stack.info is not None
    scripted.play(
        Turn(tool_uses=[(GET_TIME, {"timezone": "UTC"})], input_tokens=40, output_tokens=4),
        Turn(text="done", input_tokens=60, output_tokens=6),
    )
    capfd.readouterr()
    response = prompt(api(local_stack), {"prompt": "What time is it in UTC?"})
    out, err = capfd.readouterr()

    assert response.status_code == 200, response.text
    request_id = response.json()["request_id"]
    emf = [d for d in emf_documents(out, "agentgw") if "PromptLatency" in d]
    assert len(emf) == 1
    assert (emf[0]["PromptToolCalls"], emf[0]["PromptToolErrors"]) == ([1.0], [0.0])
    assert (emf[0]["PromptInputTokens"], emf[0]["PromptOutputTokens"]) == ([100.0], [10.0])
    # Each function's own service, from its template environment, as on Lambda.
    assert emf[0]["service"] == "agent"
    tool_emf = [d for d in emf_documents(out, "agentgw") if "ToolInvocations" in d]
    assert tool_emf and {d["service"] for d in tool_emf} == {"tools"}
    # Each its own Powertools logger (named for the service), not one shared by the process.
    loggers = {r.getMessage(): r.name for r in caplog.records}
    assert (loggers["tools selected"], loggers["tool call succeeded"]) == ("agent", "tools")
    logs = [r for r in caplog.records if r.getMessage() == "tools selected"]
    assert logs and logs[-1].__dict__["request_id"] == request_id
    assert logs[-1].__dict__["tools_offered"] == 2
    everything = out + err + response.text + caplog.text
    assert local_stack.info.client_secret not in everything
    assert "Bearer ey" not in everything


def test_nothing_of_the_invocation_outlives_it(local_stack: LocalStack, scripted: Script) -> None:
    """Issue 5: the MCP session is opened and closed inside each invocation (on a 2026-07-28
    gateway there is none to open), and no thread of it (or of the agent) survives the answer,
    so a Lambda freeze cannot find a half-dead session."""
    assert local_stack.gateway is not None
    stats = local_stack.gateway.stats
    opened, closed = stats["sessions_opened"], stats["sessions_closed"]
    scripted.play(Turn(tool_uses=[(GET_TIME, {"timezone": "UTC"})]), Turn(text="done"))
    assert prompt(api(local_stack), {"prompt": "What time is it in UTC?"}).status_code == 200

    assert threads_running_invocation_code() == []
    assert stats["sessions_opened"] - opened == stats["sessions_closed"] - closed <= 1
