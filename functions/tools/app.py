"""The example AgentCore Gateway Lambda target: get_time and get_weather.

The gateway sends the tool's arguments as the event and names the tool in
`context.client_context.custom`; `agentgw.tools.dispatch.handle` does the rest. A failed
call raises a ToolError (the gateway reports it as `isError: true`), never returns one.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.tools.dispatch import handle

logger = Logger()
tracer = Tracer()


# Metrics (namespace "agentgw": ToolLatency, ToolInvocations, ToolErrors per tool) are
# emitted by `handle` itself, one EMF document per invocation.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, logger=logger, tracer=tracer, metrics_namespace="agentgw")
