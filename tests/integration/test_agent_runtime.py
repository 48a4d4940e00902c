"""The AgentCore Runtime entrypoint served locally: GET /ping and POST /invocations over HTTP,
answered through the local stack's gateway (offline provider)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from agentgw.agent.request import SESSION_ID
from agentgw_local.stack import LocalStack
from agentgw_runtime.app import create_app


@pytest.fixture
def runtime_url(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("AGENTGW_MODEL_PROVIDER", "offline")
    monkeypatch.setenv("AGENTGW_SESSION_DIR", str(tmp_path))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("runtime app did not start")
        threading.Event().wait(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_ping(runtime_url: str) -> None:
    response = httpx.get(f"{runtime_url}/ping")
    assert response.status_code == 200
    assert response.json()["status"] == "Healthy"


def test_invocation_answers_with_the_gateway(runtime_url: str) -> None:
    response = httpx.post(
        f"{runtime_url}/invocations",
        json={"prompt": "What time is it in Tokyo?"},
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "runtime-session-0001"},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "Asia/Tokyo" in body["answer"]
    assert body["tool_calls"][0]["name"] == "timeweather___get_time"
    assert body["session_id"] == "runtime-session-0001"  # the runtime's session header names it
    assert body["request_id"]


def _user_prompts(session_dir: Path, session_id: str) -> list[str]:
    messages = session_dir / f"session_{session_id}" / "agents" / "agent_agentgw" / "messages"
    records = [json.loads(path.read_text()) for path in messages.glob("message_*.json")]
    records.sort(key=lambda record: record["message_id"])
    return [
        block["text"]
        for record in records
        if record["message"]["role"] == "user"
        for block in record["message"]["content"]
        if "text" in block
    ]


@pytest.mark.parametrize(
    "header",
    [
        "a" * 200,  # the runtime allows 33-256 characters; our session ids stop at 128
        "urn:example:session/2f0c8b9e-4d2a-4c11-9a57-63f0d1b2e8aa",  # any characters
    ],
)
def test_any_runtime_session_header_keeps_its_conversation(
    runtime_url: str, header: str, tmp_path: Path
) -> None:
    # A runtime session id our own session ids cannot spell must still name one conversation,
    # not a fresh one per invocation (the turns before would be silently lost).
    answers = [
        httpx.post(
            f"{runtime_url}/invocations",
            json={"prompt": prompt},
            headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": header},
            timeout=60,
        )
        for prompt in ("What time is it in Tokyo?", "What time is it in UTC?")
    ]

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    first, second = (a.json()["session_id"] for a in answers)
    assert first == second
    assert SESSION_ID.fullmatch(first)
    assert _user_prompts(tmp_path, first) == ["What time is it in Tokyo?", "What time is it in UTC?"]
    other = httpx.post(
        f"{runtime_url}/invocations",
        json={"prompt": "What time is it in UTC?"},
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": header + "-other"},
        timeout=60,
    )
    assert other.json()["session_id"] != first


def test_payload_session_id_wins_over_the_header(runtime_url: str) -> None:
    response = httpx.post(
        f"{runtime_url}/invocations",
        json={"prompt": "time in UTC", "session_id": "mine"},
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "runtime-session-0002"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == "mine"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"prompt": ""}, '"prompt" is empty'),
        ({"question": "hi"}, "unknown field 'question'"),
        (["hi"], "must be a JSON object, not an array"),
    ],
)
def test_bad_invocations_are_400(runtime_url: str, payload: object, message: str) -> None:
    response = httpx.post(f"{runtime_url}/invocations", json=payload, timeout=30)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]


@pytest.mark.parametrize(("body", "says"), [(b"{nope", "not valid JSON"), (b'{"prompt": "\xff"}', "UTF-8")])
def test_an_undecodable_body_gets_the_apis_own_400(runtime_url: str, body: bytes, says: str) -> None:
    """As the HTTP API answers it: `invalid_request`, what is wrong, and the runtime's request id."""
    response = httpx.post(
        f"{runtime_url}/invocations",
        content=body,
        headers={"X-Amzn-Bedrock-AgentCore-Runtime-Request-Id": "req-123"},
        timeout=30,
    )
    assert response.status_code == 400
    reply = response.json()
    assert reply["error"] == "invalid_request" and says in reply["message"], reply
    assert reply["request_id"] == "req-123"


def test_a_body_that_decodes_reaches_the_entrypoint_unchanged(runtime_url: str) -> None:
    body = json.dumps({"prompt": "What time is it in Tokyo?", "session_id": "passed-through"}).encode()
    response = httpx.post(f"{runtime_url}/invocations", content=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == "passed-through"
