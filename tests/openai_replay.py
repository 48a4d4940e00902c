"""A loopback OpenAI-compatible endpoint that replays recorded chat-completion streams.

The only double in the `openai` provider tests: it stands in for the language model, behind a
real HTTP server that the real OpenAI client (through Strands' `OpenAIModel`) talks to. A
recording (`recordings/*.json`) holds the exchanges of one conversation in order; request *n*
gets exchange *n*'s chunks as server-sent events, as `POST /v1/chat/completions` with
`"stream": true` answers. Before replaying, the server checks the request the way the real
endpoint would refuse it: the `Authorization` bearer must be the expected key (or absent when no
key is expected: `401`), the model must be the recorded one and the recorded tool must be
offered (`400`), and an exchange that answers a tool call needs that call's result in the
request (`400`). Every request is kept (`requests`) for the test to inspect.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings"


@dataclass
class Seen:
    authorization: str | None
    body: dict[str, Any]


@dataclass
class Recording:
    model: str
    exchanges: list[dict[str, Any]]

    @classmethod
    def load(cls, name: str) -> Recording:
        data = json.loads((RECORDINGS / f"{name}.json").read_text("utf-8"))
        return cls(model=data["model"], exchanges=data["exchanges"])

    @property
    def final_answer(self) -> str:
        """The text the last exchange streams."""
        chunks = self.exchanges[-1]["chunks"]
        return "".join(
            choice["delta"].get("content") or "" for chunk in chunks for choice in chunk.get("choices", [])
        )

    def tool_call(self, exchange: int = 0) -> dict[str, Any]:
        """The first tool call exchange `exchange` makes: id, name and the whole arguments string."""
        call: dict[str, Any] = {"id": None, "name": None, "arguments": ""}
        for chunk in self.exchanges[exchange]["chunks"]:
            for choice in chunk.get("choices", []):
                for part in choice["delta"].get("tool_calls") or []:
                    if part.get("index") != 0:
                        continue
                    call["id"] = part.get("id") or call["id"]
                    function = part.get("function") or {}
                    call["name"] = function.get("name") or call["name"]
                    call["arguments"] += function.get("arguments") or ""
        return call


@dataclass
class ReplayServer:
    recording: Recording
    api_key: str | None  # the bearer every request must carry; None: no Authorization header
    requests: list[Seen] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ReplayServer:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                status, payload = replay.answer(self.path, self.headers.get("Authorization"), body)
                if status != 200:
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in payload:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads `requests`

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, path: str, authorization: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(Seen(authorization, body))
            index = len(self.requests) - 1
            status, payload = self._check(path, authorization, body, index)
            if status != 200:
                self.refusals.append(payload["error"]["message"])
            return status, payload

    def _check(
        self, path: str, authorization: str | None, body: dict[str, Any], index: int
    ) -> tuple[int, Any]:
        if path != "/v1/chat/completions":
            return 404, _error(f"no route {path}", "not_found")
        expected = None if self.api_key is None else f"Bearer {self.api_key}"
        if authorization != expected:
            return 401, _error("Incorrect API key provided", "invalid_api_key")
        if index >= len(self.recording.exchanges):
            return 400, _error(
                f"the recording has {len(self.recording.exchanges)} exchanges; this is request {index + 1}"
            )
        if body.get("model") != self.recording.model:
            return 400, _error(f"model {body.get('model')!r} is not the recorded {self.recording.model!r}")
        if body.get("stream") is not True:
            return 400, _error("the recording holds streamed responses only")
        exchange = self.recording.exchanges[index]
        offered = {tool["function"]["name"] for tool in body.get("tools") or []}
        for name in exchange.get("expects_tools", []):
            if name not in offered:
                return 400, _error(f"tool {name!r} was not offered (offered: {sorted(offered)})")
        answers = exchange.get("expects_result_of")
        if answers is not None:
            results = [
                m
                for m in body.get("messages", [])
                if m.get("role") == "tool" and m.get("tool_call_id") == answers
            ]
            if not results:
                return 400, _error(f"no tool message answers the recorded call {answers!r}")
        return 200, exchange["chunks"]


def _error(message: str, code: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def tool_results(seen: Seen) -> list[str]:
    """The text of every `tool` message a request carried (what the model was told the tools said)."""
    texts = []
    for message in seen.body.get("messages", []):
        if message.get("role") != "tool":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        texts.append(str(content))
    return texts
