"""Run the real Lambda handlers from `template.yaml` in-process, as Lambda would.

One `LambdaRuntime` holds the registered functions. Invocations come from two places and
take the same path: moto's Lambda `Invoke` API (used by the Step Functions interpreter, the
agent and anything calling boto3), and the local gateway, which calls `invoke` directly to
skip an HTTP hop. Each invocation gets a proper context (request id, remaining time,
`client_context.custom` for AgentCore targets); an exception becomes Lambda's unhandled
error payload `{"errorMessage", "errorType", "stackTrace"}`.

**Timeouts.** Lambda stops a function at its `Timeout` and the invocation fails with
`{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: … Error: Task timed out after
N.NN seconds"}` (FunctionError `Unhandled`). Here the handler runs on a runner thread and the
invoker stops waiting at the timeout with that same result. A Python thread cannot be killed, so
the handler runs on until it returns by itself: it is *abandoned*, counted per function, and its
runner is replaced. While `max_abandoned` of a function's handlers are still running, new
invocations of that function are refused with Lambda's `TooManyRequestsException`, so a hung
handler cannot pile up threads without bound.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentgw.lambda_context import ClientContext, LambdaContext
from agentgw_local.template import FunctionSpec, Handler


@dataclass(frozen=True)
class InvokeResult:
    """What Lambda's Invoke returns: the payload, and `function_error` set when it failed."""

    payload: Any
    function_error: str | None = None

    def payload_bytes(self) -> bytes:
        return json.dumps(self.payload).encode("utf-8")


@dataclass
class LocalFunction:
    name: str
    arn: str
    spec: FunctionSpec
    handler: Handler


class FunctionNotFound(LookupError):
    pass


# Timed-out handlers of one function that may still be running before its invocations are refused.
MAX_ABANDONED_PER_FUNCTION = 4


class TooManyRequests(RuntimeError):
    """Lambda's TooManyRequestsException (429): here, too many timed-out handlers still running."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"


class _Runners:
    """Daemon threads that run handlers, reused when idle. A runner whose handler outlives its
    timeout is simply not idle: the next invocation starts another runner instead of waiting.
    Daemon threads, so a hung handler never keeps the process from exiting. Hand-offs are one
    lock each way (a queue or an Event costs several times more on this hot path)."""

    def __init__(self) -> None:
        self._idle: list[_Runner] = []

    def submit(self, job: Callable[[], None]) -> None:
        try:
            runner = self._idle.pop()  # atomic: no two submitters get the same runner
        except IndexError:
            runner = _Runner(self._idle)
        runner.job = job
        runner.wake.release()


class _Runner:
    def __init__(self, idle: list[_Runner]) -> None:
        self.idle = idle
        self.job: Callable[[], None] | None = None
        self.wake = threading.Lock()
        self.wake.acquire()
        threading.Thread(target=self._serve, name="agentgw-lambda", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self.wake.acquire()
            job, self.job = self.job, None
            assert job is not None
            job()
            self.idle.append(self)


class LambdaRuntime:
    """The registered functions and the one way to invoke them."""

    def __init__(self, *, max_abandoned: int = MAX_ABANDONED_PER_FUNCTION) -> None:
        self._functions: dict[str, LocalFunction] = {}
        self._lock = threading.Lock()
        self._runners = _Runners()
        self.max_abandoned = max_abandoned
        # Per function name: handlers that timed out and are still running.
        self.abandoned: Counter[str] = Counter()

    def register(self, name: str, arn: str, spec: FunctionSpec, handler: Handler | None = None) -> None:
        function = LocalFunction(name, arn, spec, handler or spec.load_handler())
        with self._lock:
            self._functions[name] = function
            self._functions[arn] = function

    def unregister(self, name: str) -> None:
        with self._lock:
            function = self._functions.pop(name, None)
            if function:
                self._functions.pop(function.arn, None)

    def get(self, name_or_arn: str) -> LocalFunction:
        # Accept names, full ARNs and qualified ARNs (`…:function:name:$LATEST`).
        function = self._functions.get(name_or_arn)
        if function is None and ":function:" in name_or_arn:
            function = self._functions.get(name_or_arn.split(":function:")[1].split(":")[0])
        if function is None:
            raise FunctionNotFound(f"Function not found: {name_or_arn}")
        return function

    def __contains__(self, name_or_arn: str) -> bool:
        try:
            self.get(name_or_arn)
        except FunctionNotFound:
            return False
        return True

    def invoke(
        self,
        name_or_arn: str,
        event: Any,
        *,
        client_context: Mapping[str, Any] | None = None,
    ) -> InvokeResult:
        """Invoke a function with a decoded event; `client_context` is the decoded header."""
        function = self.get(name_or_arn)
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.spec.memory_mb,
            timeout_s=function.spec.timeout_s,
            client_context=ClientContext(
                custom=dict(client_context.get("custom") or {}),
                env=dict(client_context.get("env") or {}),
                client=client_context.get("client"),
            )
            if client_context is not None
            else None,
        )
        with self._lock:
            if self.abandoned[function.name] >= self.max_abandoned:
                raise TooManyRequests(
                    f"Rate Exceeded: {self.abandoned[function.name]} invocations of {function.name} "
                    f"ran past its {function.spec.timeout_s} s timeout and are still running"
                )
        call = _Call(function, event, context)
        self._runners.submit(functools.partial(contextvars.copy_context().run, call.run, self))
        if call.done.acquire(timeout=function.spec.timeout_s):
            assert call.result is not None
            return call.result
        with self._lock:
            if call.result is not None:  # it finished just now
                return call.result
            call.abandoned = True
            self.abandoned[function.name] += 1
        return InvokeResult(
            {
                "errorType": "Sandbox.Timedout",
                "errorMessage": (
                    f"RequestId: {context.aws_request_id} Error: Task timed out after "
                    f"{function.spec.timeout_s:.2f} seconds"
                ),
            },
            function_error="Unhandled",
        )

    def _finished(self, call: _Call, result: InvokeResult) -> None:
        with self._lock:
            call.result = result
            if call.abandoned:
                self.abandoned[call.function.name] -= 1
                if not self.abandoned[call.function.name]:
                    del self.abandoned[call.function.name]
        call.done.release()


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Call:
    """One invocation on a runner thread."""

    function: LocalFunction
    event: Any
    context: LambdaContext
    done: threading.Lock = field(default_factory=_held_lock)  # released when the result is in
    result: InvokeResult | None = None
    abandoned: bool = False

    def run(self, runtime: LambdaRuntime) -> None:
        try:
            output = self.function.handler(self.event, self.context)
            # Lambda serialises the return value as JSON; a value that cannot be is an error.
            json.dumps(output)
            result = InvokeResult(output)
        except BaseException as exc:  # SystemExit too: the invocation must end with a result
            result = InvokeResult(
                {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": self.context.aws_request_id,
                    "stackTrace": traceback.format_tb(exc.__traceback__),
                },
                function_error="Unhandled",
            )
        runtime._finished(self, result)


def decode_client_context(header: str | None) -> dict[str, Any] | None:
    """Decode the base64 JSON `X-Amz-Client-Context` header (None when absent)."""
    if not header:
        return None
    return json.loads(base64.b64decode(header))


def encode_client_context(custom: Mapping[str, Any]) -> str:
    """Encode a client context the way `lambda.invoke(ClientContext=…)` expects it."""
    return base64.b64encode(json.dumps({"custom": dict(custom)}).encode("utf-8")).decode("ascii")
