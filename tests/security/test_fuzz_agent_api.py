"""Hostile input at the agent API (`POST /api/prompt` on the local stack: the local HTTP API
turns each request into a payload-2.0 event for the real AgentFunction handler), generated
by hypothesis and sent over a real loopback socket.

Every invalid request must be a 400 JSON answer saying what is wrong (`invalid_request`),
never a 5xx, and must not start an agent. Which requests are valid is decided by the
service's own validator (`parse_request`); valid ones are left to the functional tests
(they would run the model). Afterwards a normal prompt still gets its answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from integration.agent_support import Script, Turn, scripted

from agentgw.agent.request import RequestError, parse_request
from agentgw.agent.settings import MAX_BODY_BYTES
from agentgw_local.stack import LocalStack
from security.fuzzing import FUZZ, SECONDS, SENT, Wire, json_values, unicode_text

__all__ = ["scripted"]  # the fixture, imported for pytest


def would_be_valid(raw: bytes) -> bool:
    try:
        parse_request(raw)
    except RequestError:
        return False
    except Exception:  # the service's validator itself breaks: the server must still answer 400
        return False
    return True


@pytest.fixture(scope="module")
def wire(local_stack: LocalStack) -> Iterator[Wire]:
    w = Wire(local_stack.base_url, "agent-api")
    yield w
    w.close()


def send(wire: Wire, raw: bytes, content_type: str = "application/json") -> Any:
    return wire.post("/api/prompt", raw, {"Content-Type": content_type})


def check_400(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "invalid_request" and body["message"] and body["request_id"]
    assert "Traceback" not in body["message"]
    return dict(body)


@settings(FUZZ, max_examples=700)
@given(
    raw=st.binary(max_size=256),
    content_type=st.sampled_from(["application/json", "application/octet-stream", "text/plain", ""]),
)
def test_random_bytes(wire: Wire, raw: bytes, content_type: str) -> None:
    assume(not would_be_valid(raw))
    check_400(send(wire, raw, content_type))


@settings(FUZZ, max_examples=1000)
@given(value=json_values)
def test_any_json_value(wire: Wire, value: Any) -> None:
    raw = json.dumps(value).encode()
    assume(not would_be_valid(raw))
    check_400(send(wire, raw))


field_values = st.one_of(json_values, unicode_text, st.text(min_size=7990, max_size=8010))
requests = st.fixed_dictionaries(
    {},
    optional={
        "prompt": field_values,
        "session_id": st.one_of(field_values, st.from_regex(r"[A-Za-z0-9._/-]{0,140}", fullmatch=True)),
        "model": json_values,
        "__proto__": json_values,
    },
)


@settings(FUZZ, max_examples=1300)
@given(request=requests)
def test_prompt_requests_with_wrong_fields_and_types(wire: Wire, request: dict[str, Any]) -> None:
    raw = json.dumps(request, ensure_ascii=False).encode()
    assume(not would_be_valid(raw))
    body = check_400(send(wire, raw))
    if body.get("field") is not None:
        assert body["field"] in request or body["field"] == "prompt"


@pytest.mark.parametrize("depth", [100, 5_000, MAX_BODY_BYTES // 2 - 10])
def test_deeply_nested_bodies_are_400(wire: Wire, depth: int) -> None:
    for raw in ("[" * depth + "]" * depth, '{"prompt":' + "[" * depth + "]" * depth + "}"):
        check_400(send(wire, raw.encode()))


def test_size_limits_are_clear_errors(wire: Wire) -> None:
    over = json.dumps({"prompt": "a" * MAX_BODY_BYTES}).encode()
    assert f"the limit is {MAX_BODY_BYTES} bytes" in check_400(send(wire, over))["message"]
    # Past API Gateway's own 10 MB payload limit the API refuses before the function runs.
    response = send(wire, b'{"prompt": "' + b"a" * (10 * 1024 * 1024 + 16) + b'"}')
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


def test_still_answers_after_the_fuzzing(local_stack: LocalStack, wire: Wire, scripted: Script) -> None:
    scripted.play(Turn(text="still here"))
    response = send(wire, json.dumps({"prompt": "Are you there? ✓ 東京"}).encode())
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == "still here"
    print(f"fuzz: {SENT['agent-api']} requests to the agent API, {SECONDS['agent-api']:.1f} s waiting")
