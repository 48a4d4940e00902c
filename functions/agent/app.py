"""The agent API's Lambda function: API Gateway HTTP API (payload 2.0) `POST /prompt`.

Thin: routing, request id, Powertools logging/tracing/metrics; `agentgw.agent.service` does
the work (validation, gateway tools, the Strands agent under a deadline, the response).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.agent.service import AgentService

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="agentgw")
app = APIGatewayHttpResolver()
service = AgentService(metrics=metrics, logger=logger)


@app.post("/prompt")
@tracer.capture_method(capture_response=False)
def prompt() -> Response[str]:
    event = app.current_event
    context = app.lambda_context
    # Not `event.decoded_body`: it decodes a base64 (binary) body as UTF-8 and raises on bad
    # bytes (a 500); the service answers those with a 400 saying the body is not UTF-8.
    body = base64.b64decode(event.body) if event.is_base64_encoded and event.body else event.body
    reply = service.handle(
        body,
        request_id=context.aws_request_id,
        remaining_ms=context.get_remaining_time_in_millis(),
    )
    return Response(
        status_code=reply.status,
        content_type="application/json",
        body=json.dumps(reply.body),
        headers={"x-request-id": context.aws_request_id},
    )


@logger.inject_lambda_context(clear_state=True, correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
