"""Run the real Lambda handlers from `template.yaml` in-process, as Lambda would.

One `LambdaRuntime` holds the registered functions. Invocations come from two places and
take the same path: moto's Lambda `Invoke` API (used by the Step Functions interpreter, the
agent and anything calling boto3), and the local gateway, which calls `invoke` directly to
skip an HTTP hop. Each invocation gets a proper context (request id, remaining time,
`client_context.custom` for AgentCore targets); an exception becomes Lambda's unhandled
error payload `{"errorMessage", "errorType", "stackTrace"}`.
"""

from __future__ import annotations

import base64
import json
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
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


class LambdaRuntime:
    """The registered functions and the one way to invoke them."""

    def __init__(self) -> None:
        self._functions: dict[str, LocalFunction] = {}
        self._lock = threading.Lock()

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
        try:
            result = function.handler(event, context)
            # Lambda serialises the return value as JSON; a value that cannot be is an error.
            json.dumps(result)
        except Exception as exc:
            return InvokeResult(
                {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(exc.__traceback__),
                },
                function_error="Unhandled",
            )
        return InvokeResult(result)


def decode_client_context(header: str | None) -> dict[str, Any] | None:
    """Decode the base64 JSON `X-Amz-Client-Context` header (None when absent)."""
    if not header:
        return None
    return json.loads(base64.b64decode(header))


def encode_client_context(custom: Mapping[str, Any]) -> str:
    """Encode a client context the way `lambda.invoke(ClientContext=…)` expects it."""
    return base64.b64encode(json.dumps({"custom": dict(custom)}).encode("utf-8")).decode("ascii")
