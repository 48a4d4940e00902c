"""The agent API's Lambda function: API Gateway HTTP API (payload 2.0) `POST /prompt`.

Thin: routing, request id, Powertools logging/tracing/metrics, and the composition of the
service (`compose`: credentials, model factory, conversation store); `agentgw.agent.service`
does the work (validation, gateway tools, the Strands agent under a deadline, the response).

Lambda SnapStart (template parameter `AgentSnapStart`): the snapshot is taken after this module
is imported. `before_snapshot` imports what the first request would otherwise import (the
configured model provider); `after_restore` drops what must not be shared by the environments
restored from one snapshot.
"""

from __future__ import annotations

import base64
import json
import os
import random
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from agentgw.agent import models
from agentgw.agent.conversation_store import ConversationStore
from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.gateway_session import GatewayCaches
from agentgw.agent.models import ModelFactory, ProviderFactory
from agentgw.agent.service import AgentService
from agentgw.agent.settings import ENV_NAMES, Settings

try:  # part of Lambda's managed Python runtimes (3.12+); elsewhere no snapshot is ever taken
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:
    register_after_restore = register_before_snapshot = None

logger = Logger()
# What this function calls: AWS APIs (botocore) and an OpenAI-compatible endpoint (httpx).
# Naming them spares patch_all's import attempts of a dozen libraries the layer does not carry,
# and the patching of sqlite3, which this function never calls. The gateway is called over
# httpx2, which X-Ray does not patch: the service traces those calls itself.
tracer = Tracer(patch_modules=("botocore", "httpx"))
metrics = Metrics(namespace="agentgw")
app = APIGatewayHttpResolver()


def compose(extra_providers: dict[str, ProviderFactory] | None = None) -> AgentService:
    """The service with what it uses: one credentials cache, model factory, store and caches.

    `extra_providers`: model providers beyond the built-in ones, by name (tests pass a
    scripted model).
    """
    credentials = GatewayCredentials()
    return AgentService(
        credentials=credentials,
        models=ModelFactory(credentials, extra_providers),
        conversations=ConversationStore(),
        caches=GatewayCaches(),
        metrics=metrics,
        logger=logger,
        trace_gateway_calls=True,
    )


service = compose()


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


def before_snapshot() -> None:
    """SnapStart: import the configured model provider now, so restored environments have it.

    Without SnapStart it stays lazy: a function configured for `bedrock` never imports the
    OpenAI client (~0.5 s and ~800 modules), and the one that needs it imports it once.
    """
    models.preload(os.environ.get(ENV_NAMES["provider"]) or Settings.provider)


def after_restore() -> None:
    """SnapStart: every environment restored from one snapshot starts with the same memory."""
    random.seed()  # else they all draw the same "random" numbers (retry jitter, ...)
    # Cached configuration, secret and token: none exist at snapshot time today (they are read
    # by the first request), but one captured there must not outlive the snapshot.
    service.credentials.reset()


if register_before_snapshot is not None and register_after_restore is not None:
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
