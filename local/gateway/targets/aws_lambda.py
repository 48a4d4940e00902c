"""Lambda targets: tools declared inline in the target, served by invoking a Lambda function.

As AgentCore does it: the event is the tool's arguments; the client context's `custom`
carries the (prefixed) tool name, the gateway and target ids, a request id and the MCP
message id. The function's result becomes the tool's text content (and its structured
content when the tool declares an output schema). A function error, a timeout (Lambda's,
from the function's configured timeout) or a result over the payload limit fails the call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from agentgw_local.gateway.targets.kind import ToolCall, ToolCallError, UnservableTarget
from agentgw_local.gateway.transport import MAX_PAYLOAD_BYTES
from agentgw_local.gateway.workers import WorkerPool
from agentgw_local.lambda_runtime import LambdaRuntime

log = logging.getLogger(__name__)


class LambdaTargets:
    """The `lambda` target kind, calling functions in the local stack's `LambdaRuntime`."""

    config_key = "lambda"

    def __init__(self, lambdas: LambdaRuntime, workers: WorkerPool) -> None:
        self.lambdas = lambdas
        self.workers = workers

    def tools(self, name: str, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        payload = (config.get("toolSchema") or {}).get("inlinePayload")
        if payload is None:
            raise UnservableTarget("only inline tool schemas are served locally")
        return list(payload)

    async def call(self, call: ToolCall) -> dict[str, Any]:
        tool = call.tool
        arn = tool.target.config["lambdaArn"]
        custom = {
            "bedrockAgentCoreToolName": tool.name,
            "bedrockAgentCoreGatewayId": call.gateway_id,
            "bedrockAgentCoreTargetId": tool.target.target_id,
            "bedrockAgentCoreMessageVersion": "1.0",
            "bedrockAgentCoreAwsRequestId": str(uuid.uuid4()),
            "bedrockAgentCoreMcpMessageId": str(call.request_id),
        }
        try:
            # Lambda stops a function at its timeout; in-process we cannot stop the thread, but
            # the caller gets Lambda's answer then instead of waiting for the handler.
            timeout_s = self.lambdas.get(arn).spec.timeout_s
            return await asyncio.wait_for(self.workers.run(self._invoke, call, arn, custom), timeout_s)
        except TimeoutError as exc:
            log.warning("tool %s: Lambda function timed out after %s s", tool.name, timeout_s)
            raise ToolCallError(
                f"Lambda function {arn} for tool {tool.name} failed: "
                f"Sandbox.Timedout: Task timed out after {timeout_s:.2f} seconds"
            ) from exc
        except ToolCallError:
            raise
        except Exception as exc:  # the function is missing or cannot run at all
            log.warning("tool %s: invocation failed: %s", tool.name, exc)
            raise ToolCallError(f"Failed to invoke the Lambda function {arn}: {exc}") from exc

    def _invoke(self, call: ToolCall, arn: str, custom: dict[str, str]) -> dict[str, Any]:
        tool_name = call.tool.name
        result = self.lambdas.invoke(arn, call.arguments, client_context={"custom": custom})
        payload = result.payload
        if result.function_error:
            error_type = payload.get("errorType", "Error") if isinstance(payload, dict) else "Error"
            error_message = payload.get("errorMessage", "") if isinstance(payload, dict) else str(payload)
            raise ToolCallError(
                f"Lambda function {arn} for tool {tool_name} failed: {error_type}: {error_message}"
            )
        text = json.dumps(payload)
        if len(text) > MAX_PAYLOAD_BYTES:
            raise ToolCallError(
                f"Tool {tool_name} returned {len(text)} bytes, over the {MAX_PAYLOAD_BYTES} byte limit"
            )
        result_body: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": False}
        if "outputSchema" in call.tool.definition and isinstance(payload, dict):
            result_body["structuredContent"] = payload
        return result_body
