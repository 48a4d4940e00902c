"""Fixtures for the tool target: the real handler, its contexts, and a recorded Open-Meteo.

`open_meteo` is a real HTTP server on loopback that answers with responses recorded from
Open-Meteo (tests/unit/tools/fixtures/), or with the failures a test asks for; the tool
reaches it through the same environment variables a deployment would set.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openmeteo_recorded import Invoke, RecordedOpenMeteo, handler_for

from agentgw.lambda_context import LambdaContext, agentcore_client_context

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def open_meteo(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordedOpenMeteo]:
    state = RecordedOpenMeteo()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="recorded-open-meteo", daemon=True
    )
    thread.start()
    monkeypatch.setenv("AGENTGW_GEOCODING_URL", state.geocoding_url)
    monkeypatch.setenv("AGENTGW_FORECAST_URL", state.forecast_url)
    monkeypatch.setenv("AGENTGW_HTTP_TIMEOUT_S", "2")
    monkeypatch.setenv("AGENTGW_HTTP_RETRIES", "1")
    for name in ("no_proxy", "NO_PROXY"):  # loopback must never go through a CI proxy
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def tools_app() -> Any:
    """functions/tools/app.py, imported from its file as the local stack and Lambda do."""
    path = ROOT / "functions" / "tools" / "app.py"
    spec = importlib.util.spec_from_file_location("tests_unit_tools_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Powertools' Logger keeps the stream it was created with: give it the real stdout, not
    # the capture buffer of whichever test happens to import the module first.
    with contextlib.redirect_stdout(sys.__stdout__):
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def invoke(tools_app: Any) -> Invoke:
    """Call the handler exactly as AgentCore Gateway does: arguments + client context."""

    def call(tool_name: str, arguments: Any, *, timeout_s: float = 30.0, **context_keys: Any) -> Any:
        context = LambdaContext(
            function_name="agentgw-tools",
            timeout_s=timeout_s,
            client_context=agentcore_client_context(tool_name, **context_keys),
        )
        return tools_app.lambda_handler(arguments, context)

    return call


@pytest.fixture
def log_records(tools_app: Any) -> Iterator[list[dict[str, Any]]]:
    """The tool's structured log lines, formatted by its own Powertools formatter."""
    lines: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Collect()
    handler.setFormatter(tools_app.logger.registered_formatter)
    tools_app.logger.addHandler(handler)
    try:
        yield lines
    finally:
        tools_app.logger.removeHandler(handler)
