"""A Lambda function that runs past its `Timeout`, on the running local stack.

Lambda ends the invocation at the timeout: FunctionError `Unhandled`, payload
`{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: … Error: Task timed out after
N.NN seconds"}`. Locally the handler's thread cannot be stopped; the runtime stops waiting,
counts the handler as abandoned until it returns, and refuses new invocations of that function
with Lambda's TooManyRequestsException (429) while too many are abandoned.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from integration.stackkit import PROJECT_ROOT, Kit, Mcp

from agentgw_local.template import FunctionSpec

TIMED_OUT = re.compile(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds")
HANDLER_WAIT_S = 15.0  # how long a "hung" handler waits for the test to let it go
WAIT_S = 20.0  # a bound on any single wait in the test, never a measured time


class Hang:
    """A handler that blocks until released (or HANDLER_WAIT_S), counting who is inside."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = 0
        self.lock = threading.Lock()

    def handler(self, event: Any, context: Any) -> Any:
        self.release.wait(HANDLER_WAIT_S)
        with self.lock:
            self.finished += 1
        return {"late": True}


@pytest.fixture
def hung(kit: Kit, request: pytest.FixtureRequest) -> Iterator[tuple[str, Hang]]:
    hang = Hang()
    name = f"sec-hang-{request.node.name.split('[')[0][-30:].replace('_', '-')}"
    spec = FunctionSpec(
        logical_id="Hang", code_uri=PROJECT_ROOT, handler="hang.handler", timeout_s=1, memory_mb=128
    )
    kit.aws.register_function(name, spec, hang.handler)
    yield name, hang
    hang.release.set()
    wait_until(lambda: not kit.aws.lambdas.abandoned.get(name))


def wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def invoke(kit: Kit, name: str) -> dict[str, Any]:
    return dict(kit.aws.client("lambda").invoke(FunctionName=name, Payload=b"{}"))


def test_invoke_past_the_timeout_is_lambdas_timeout_error(kit: Kit, hung: tuple[str, Hang]) -> None:
    name, hang = hung
    response = invoke(kit, name)
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "Sandbox.Timedout"
    assert TIMED_OUT.fullmatch(payload["errorMessage"]), payload
    assert hang.finished == 0  # it answered while the handler was still running
    assert kit.aws.lambdas.abandoned[name] == 1
    hang.release.set()
    wait_until(lambda: hang.finished == 1 and not kit.aws.lambdas.abandoned.get(name))


def test_abandoned_handlers_are_bounded_then_throttled(kit: Kit, hung: tuple[str, Hang]) -> None:
    name, hang = hung
    limit = kit.aws.lambdas.max_abandoned
    with ThreadPoolExecutor(limit) as pool:
        results = list(pool.map(lambda _: invoke(kit, name), range(limit)))
    assert all(r["FunctionError"] == "Unhandled" for r in results)
    assert kit.aws.lambdas.abandoned[name] == limit

    with pytest.raises(ClientError) as refused:
        invoke(kit, name)
    error = refused.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"

    hang.release.set()  # the handlers return by themselves: the function is served again
    wait_until(lambda: not kit.aws.lambdas.abandoned.get(name))
    response = invoke(kit, name)
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"late": True}


def test_gateway_reports_the_timeout_and_its_worker_is_free(kit: Kit, hung: tuple[str, Hang]) -> None:
    name, hang = hung
    authz = kit.cognito()
    gateway_id = kit.gateway(authz, debug=True)
    tool = {"name": "wait", "description": "Hangs", "inputSchema": {"type": "object"}}
    kit.target(gateway_id, kit.aws.lambdas.get(name).arn, [tool], name="hang")
    client = Mcp(kit.mcp_url(gateway_id), authz.token())
    result = client.call("hang___wait", {})["result"]
    assert result["isError"] is True
    assert "Sandbox.Timedout" in result["content"][0]["text"]
    assert "Task timed out after 1.00 seconds" in result["content"][0]["text"]
    # The gateway's worker was handed back at the timeout: the handler is the runtime's to count.
    wait_until(lambda: kit.aws.lambdas.abandoned.get(name) == 1)
    assert hang.finished == 0
