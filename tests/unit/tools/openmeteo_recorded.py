"""A recorded Open-Meteo on loopback: a real HTTP server answering with responses recorded
from the real API (fixtures/), or with the failures a test asks for.

Imported by the tool tests' conftest and test modules (as a top-level module: pytest puts
this directory on sys.path).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    delay_s: float = 0.0
    hang_up: bool = False  # close the connection without answering
    trickle_s: float = 0.0  # send the body one byte at a time, this long apart


@dataclass
class RecordedOpenMeteo:
    """The two Open-Meteo endpoints on loopback. Set replies per geocoding name / forecast."""

    base_url: str = ""
    geocoding: dict[str, Reply | list[Reply]] = field(default_factory=dict)
    forecast: Reply | list[Reply] = field(
        default_factory=lambda: Reply(body=recorded("forecast_seattle.json"))
    )
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def geocoding_url(self) -> str:
        return f"{self.base_url}/v1/search"

    @property
    def forecast_url(self) -> str:
        return f"{self.base_url}/v1/forecast"

    def calls(self, path: str) -> list[dict[str, str]]:
        return [query for p, query in self.requests if p == path]

    def reply_for(self, path: str, query: dict[str, str]) -> Reply:
        if path == "/v1/search":
            no_match = Reply(body=recorded("geocoding_no_results.json"))
            planned = self.geocoding.get(query.get("name", ""), no_match)
        elif path == "/v1/forecast":
            planned = self.forecast
        else:
            return Reply(status=404, body={"error": True, "reason": "Not Found"})
        if isinstance(planned, list):  # a sequence: consume in order, the last one sticks
            return planned.pop(0) if len(planned) > 1 else planned[0]
        return planned


def handler_for(server: RecordedOpenMeteo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            server.requests.append((parsed.path, query))
            reply = server.reply_for(parsed.path, query)
            if reply.delay_s and server.release.wait(reply.delay_s):
                return  # test over: drop the connection
            if reply.hang_up:
                self.close_connection = True
                return
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not reply.trickle_s:
                    self.wfile.write(body)
                for i in range(len(body) if reply.trickle_s else 0):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    if server.release.wait(reply.trickle_s):
                        return
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


Invoke = Callable[..., Any]
