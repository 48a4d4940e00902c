"""Faults behind the gateway and the agent API, on the running local stack over real HTTP.

- A tool Lambda that raises, runs past its timeout, or returns something that is not JSON:
  the MCP answer is a result with `isError: true` and a message that says which (DEBUG
  gateway), or the generic text (default gateway) — never a JSON-RPC error, never a hang.
- Secrets Manager or SSM failing under the agent: a 502 JSON answer naming the failed
  dependency, no stack trace, no secret; the next request after recovery is answered.

Provisioning faults (throttling, FAILED targets, teardown) are in tests/reliability and
tests/statemachine.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from integration.agent_support import Script, Turn, agent_service, scripted
from integration.stackkit import PROJECT_ROOT, Kit, Mcp
from moto.core.exceptions import JsonRESTError
from moto.secretsmanager.models import SecretsManagerBackend
from moto.ssm.models import SimpleSystemManagerBackend

from agentgw_local.gateway.tools import GENERIC_TOOL_ERROR
from agentgw_local.stack import LocalStack
from agentgw_local.template import FunctionSpec

__all__ = ["scripted"]  # the fixture, imported for pytest

release = threading.Event()  # lets the sleeping handler go when the test is over


def raises(event: Any, context: Any) -> Any:
    raise RuntimeError("database connection refused")


def sleeps(event: Any, context: Any) -> Any:
    release.wait(30)
    return {"late": True}


def not_json(event: Any, context: Any) -> Any:
    return {"when": datetime.datetime(2026, 1, 1)}  # Lambda cannot marshal this


FAULTS: list[tuple[str, Callable[[Any, Any], Any], str]] = [
    ("raises", raises, "RuntimeError: database connection refused"),
    ("times-out", sleeps, "timed out after 1.00 seconds"),
    ("not-json", not_json, "not JSON serializable"),
]
TOOL = {"name": "run", "description": "A faulty tool", "inputSchema": {"type": "object"}}


@pytest.fixture(scope="module")
def faulty(kit: Kit) -> Iterator[dict[str, tuple[Mcp, Mcp]]]:
    """Per fault: a client of a DEBUG gateway and of a default one, both serving that tool."""
    authz = kit.cognito()
    debug_gw, plain_gw = kit.gateway(authz, debug=True), kit.gateway(authz, debug=False)
    clients: dict[str, tuple[Mcp, Mcp]] = {}
    for name, handler, _ in FAULTS:
        spec = FunctionSpec(
            logical_id=f"Fault{name.replace('-', '')}",
            code_uri=PROJECT_ROOT,
            handler="fault.handler",
            timeout_s=1,
            memory_mb=128,
        )
        arn = kit.aws.register_function(f"sec-fault-{name}", spec, handler)
        for gateway_id in (debug_gw, plain_gw):
            kit.target(gateway_id, arn, [TOOL], name=name)
        token = authz.token()
        clients[name] = (Mcp(kit.mcp_url(debug_gw), token), Mcp(kit.mcp_url(plain_gw), token))
    yield clients
    release.set()


@pytest.mark.parametrize(("name", "expected"), [(f[0], f[2]) for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_tool_faults_are_error_results(faulty: dict[str, tuple[Mcp, Mcp]], name: str, expected: str) -> None:
    debug, plain = faulty[name]
    reply = debug.call(f"{name}___run", {})
    assert "error" not in reply, reply
    result = reply["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert expected in text and f"{name}___run" in text
    assert result["_meta"]["debug"] == text
    assert "Traceback" not in text and 'File "' not in text

    generic = plain.call(f"{name}___run", {})["result"]
    assert generic == {"content": [{"type": "text", "text": GENERIC_TOOL_ERROR}], "isError": True}


# -- the agent's dependencies ----------------------------------------------------------------
def api(stack: LocalStack) -> str:
    assert stack.info is not None and stack.info.api_url
    return stack.info.api_url + "/prompt"


@pytest.mark.parametrize(
    ("backend", "method", "code"),
    [
        (SimpleSystemManagerBackend, "get_parameter", "AccessDeniedException"),
        (SimpleSystemManagerBackend, "get_parameter", "ParameterNotFound"),
        (SecretsManagerBackend, "get_secret_value", "AccessDeniedException"),
        (SecretsManagerBackend, "get_secret_value", "ResourceNotFoundException"),
    ],
    ids=["ssm-denied", "ssm-missing", "secret-denied", "secret-missing"],
)
def test_agent_dependency_errors_are_clear_502s(
    local_stack: LocalStack, scripted: Script, backend: type, method: str, code: str
) -> None:
    assert local_stack.aws is not None and local_stack.info is not None
    agent_service().credentials.reset()  # a warm function would not read them again for minutes
    with local_stack.aws.inject_errors(
        backend, method, lambda: JsonRESTError(code, "injected"), times=1_000
    ) as raised:
        response = httpx.post(api(local_stack), json={"prompt": "What time is it in Tokyo?"}, timeout=60)
    assert raised[0] >= 1
    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "gateway_unavailable" and body["request_id"]
    assert body["message"] and "Traceback" not in body["message"] and 'File "' not in body["message"]
    assert local_stack.info.client_secret not in response.text
    assert scripted.seen == []  # no model call without the gateway

    # Recovered: the next request reads them again and is answered.
    scripted.play(Turn(text="recovered"))
    ok = httpx.post(api(local_stack), json={"prompt": "Are you back?"}, timeout=60)
    assert ok.status_code == 200, ok.text
    assert json.loads(ok.text)["answer"] == "recovered"
