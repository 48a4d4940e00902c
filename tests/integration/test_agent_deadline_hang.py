"""The agent's deadline covers the whole invocation, not only the agent loop: a gateway that
hangs while the MCP session opens (`initialize`), while listing tools (`tools/list`) or while
searching (`tools/call` of the search tool) still gets a 504 JSON answer within the deadline,
with the (empty) tool trace, and nothing of the invocation left running. A gateway that hangs
ending the session (`DELETE`) does not hold back an answer that is ready.

The hanging gateway is a small HTTP server on loopback, published as the gateway URL of an
otherwise real configuration (SSM parameter, Secrets Manager secret, Cognito client): it
answers the MCP streamable HTTP exchange normally up to the method it is told to hang on,
and then never answers that request.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from emf_output import emf_documents

from agentgw.gateway import SEARCH_TOOL_NAME
from agentgw_local.stack import LocalStack
from integration.agent_support import (
    IsolatedGateway,
    Script,
    Turn,
    agent_uses,
    prompt,
    publish_gateway,
    scripted,
    threads_running_invocation_code,
)
from integration.stackkit import Kit

__all__ = ["scripted"]  # the fixture, imported for pytest

DEADLINE_S = 4
WORKER_THREADS = ("agentgw-agent", "agentgw-credentials")
SLOW_TOKEN_DEADLINE_S = 1


def _tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} (a tool of the hanging gateway)",
        "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }


class HangingGateway:
    """An MCP endpoint that answers until `hang_on` (a JSON-RPC method, or `DELETE`: ending the
    session), then never answers."""

    def __init__(self, hang_on: str) -> None:
        self.hang_on = hang_on
        self.seen: list[str] = []
        self.hanging = threading.Event()  # a request was held
        self.held = 0  # requests being held now
        self._lock = threading.Lock()
        self.release = threading.Event()  # set at teardown: held requests end
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                method = body.get("method", "")
                gateway.seen.append(method)
                if method == gateway.hang_on:
                    gateway.hold()
                    return
                if "id" not in body:  # a notification (notifications/initialized)
                    self.send_response(202)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                result = gateway.result(method, body)
                if result is None:  # e.g. `server/discover`: a pre-2026 server, as the gateway is
                    error = {"code": -32601, "message": f"Method not found: {method}"}
                    self._json({"jsonrpc": "2.0", "id": body["id"], "error": error})
                    return
                session = [("Mcp-Session-Id", "hanging-session")] if method == "initialize" else []
                self._json({"jsonrpc": "2.0", "id": body["id"], "result": result}, session)

            def do_GET(self) -> None:  # no server-initiated SSE stream
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_DELETE(self) -> None:
                gateway.seen.append("DELETE")
                if gateway.hang_on == "DELETE":
                    gateway.hold()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, payload: dict[str, Any], headers: list[tuple[str, str]] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                for name, value in headers or []:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="hanging-gateway", daemon=True)

    def hold(self) -> None:
        with self._lock:
            self.held += 1
        self.hanging.set()
        self.release.wait(120)
        with self._lock:
            self.held -= 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/mcp"

    def result(self, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if method == "initialize":
            return {
                "protocolVersion": body["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hanging-gateway", "version": "1.0"},
            }
        if method == "tools/list":
            return {"tools": [_tool(SEARCH_TOOL_NAME), _tool("t___one"), _tool("t___two")]}
        if method == "ping":
            return {}
        return None

    def __enter__(self) -> HangingGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture(scope="module")
def real_gateway(local_stack: LocalStack) -> IsolatedGateway:
    """A real gateway's client and secret; its URL is swapped for the hanging one per test."""
    return publish_gateway(Kit(local_stack))


@pytest.fixture
def hanging(
    request: pytest.FixtureRequest,
    local_stack: LocalStack,
    real_gateway: IsolatedGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[HangingGateway]:
    """The agent function pointed at a gateway that hangs on `request.param`."""
    with HangingGateway(request.param) as hang:
        config = dataclasses.replace(real_gateway.config, gateway_url=hang.url)
        name = f"{real_gateway.parameter_name}/hangs-on-{request.param.replace('/', '-')}"
        local_stack.aws.client("ssm").put_parameter(
            Name=name, Value=config.to_json(), Type="String", Overwrite=True
        )
        monkeypatch.setenv("AGENTGW_DEADLINE_SECONDS", str(DEADLINE_S))
        monkeypatch.setenv("AGENTGW_SEARCH_THRESHOLD", "1")  # two tools: search-first
        with agent_uses(monkeypatch, dataclasses.replace(real_gateway, parameter_name=name, config=config)):
            yield hang


@pytest.mark.parametrize(
    "hanging", ["server/discover", "initialize", "tools/list", "tools/call"], indirect=True
)
def test_a_hanging_gateway_gets_a_504_within_the_deadline_and_leaves_nothing_running(
    local_stack: LocalStack, hanging: HangingGateway, scripted: Script
) -> None:
    assert local_stack.info is not None and local_stack.info.api_url
    # Well past the deadline, well short of the gateway's own read timeout (minutes): a reply
    # that waited for the hung request would time out here instead.
    response = prompt(
        local_stack.info.api_url,
        {"prompt": "What time is it in Tokyo?", "session_id": "hang-1"},
        timeout=DEADLINE_S + 12,
    )

    assert hanging.hanging.is_set(), hanging.seen  # the gateway really held that request
    assert hanging.held == 1  # and was still holding it when the answer came
    assert response.status_code == 504, response.text
    body = response.json()
    assert body["error"] == "deadline_exceeded"
    assert f"{DEADLINE_S} s deadline" in body["message"]
    assert body["session_id"] == "hang-1"
    assert body["request_id"]
    assert body["tool_calls"] == []  # the partial trace: no tool was called before the hang
    assert scripted.seen == []  # the model was never asked
    # Nothing left running: no thread is in agent, Strands or MCP code (even mid-initialize).
    assert threads_running_invocation_code() == []
    assert [t.name for t in threading.enumerate() if t.name in WORKER_THREADS] == []


@pytest.mark.parametrize("hanging", ["DELETE"], indirect=True)
def test_an_answer_does_not_wait_for_a_gateway_that_hangs_ending_the_session(
    local_stack: LocalStack, hanging: HangingGateway, scripted: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTGW_SEARCH_THRESHOLD", "100")  # no search: the model answers at once
    scripted.play(Turn(text="All done."))
    assert local_stack.info is not None and local_stack.info.api_url
    # Within the deadline: an answer that waited for the hung DELETE (or was held until the
    # deadline and its grace) would time out here instead.
    response = prompt(local_stack.info.api_url, {"prompt": "hello"}, timeout=DEADLINE_S)

    assert hanging.hanging.is_set(), hanging.seen  # the DELETE was sent and held
    assert hanging.held == 1
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == "All done."
    assert threads_running_invocation_code() == []


def test_a_slow_token_endpoint_gets_a_504_and_the_invocation_goes_no_further(
    local_stack: LocalStack,
    real_gateway: IsolatedGateway,
    scripted: Script,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The token request cannot be interrupted: the answer comes at the deadline, and when the
    token arrives later, the abandoned invocation opens no MCP session and asks no model."""
    real_token_url = real_gateway.config.token_url
    answered = threading.Event()

    class SlowTokenEndpoint(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # the real Cognito answer, two deadlines late
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            threading.Event().wait(2 * SLOW_TOKEN_DEADLINE_S)
            real = httpx.post(
                real_token_url, content=body, headers={"Content-Type": self.headers["Content-Type"]}
            )
            self.send_response(real.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(real.content)))
            self.end_headers()
            self.wfile.write(real.content)
            answered.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowTokenEndpoint)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="slow-token-endpoint", daemon=True)
    thread.start()
    try:
        token_url = f"http://127.0.0.1:{server.server_address[1]}/oauth2/token"
        config = dataclasses.replace(real_gateway.config, token_url=token_url)
        name = f"{real_gateway.parameter_name}/token-slow"
        local_stack.aws.client("ssm").put_parameter(
            Name=name, Value=config.to_json(), Type="String", Overwrite=True
        )
        monkeypatch.setenv("AGENTGW_DEADLINE_SECONDS", str(SLOW_TOKEN_DEADLINE_S))
        assert local_stack.gateway is not None and local_stack.info is not None and local_stack.info.api_url
        opened = local_stack.gateway.stats["sessions_opened"]
        capfd.readouterr()
        with agent_uses(monkeypatch, dataclasses.replace(real_gateway, parameter_name=name, config=config)):
            response = prompt(
                local_stack.info.api_url, {"prompt": "What time is it?"}, timeout=DEADLINE_S + 12
            )
            assert response.status_code == 504, response.text
            assert "reading the gateway configuration and token did not finish" in response.json()["message"]
            (metrics,) = [d for d in emf_documents(capfd.readouterr().out) if "PromptLatency" in d]
            assert metrics["PromptDeadlineExceeded"] == [1.0]
            assert not answered.is_set()  # the 504 did not wait for the token
            assert answered.wait(30)
            # The worker got its token after the answer: it ends there.
            workers = [t for t in threading.enumerate() if t.name in WORKER_THREADS]
            for worker in workers:
                worker.join(15)
            assert [t.name for t in workers if t.is_alive()] == []
        assert local_stack.gateway.stats["sessions_opened"] == opened
        assert scripted.seen == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
