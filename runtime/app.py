"""The same agent service on Amazon Bedrock AgentCore Runtime.

AgentCore Runtime runs a container that serves `POST /invocations` and `GET /ping` on port
8080; `bedrock_agentcore.BedrockAgentCoreApp` is that server. The payload is the agent API's
request (`{"prompt", "session_id"?}`); when it has no `session_id`, the runtime's session
header (`X-Amzn-Bedrock-AgentCore-Runtime-Session-Id`) names the conversation (as is, or
by a digest when it is not one of our session ids). Errors keep
their HTTP status (400 for a bad request, 504 past the deadline), as in the HTTP API.

Configuration is the same environment as the Lambda function (`agentgw.agent.settings`).
Run it locally with `python -m agentgw_runtime [--port 8080]` (needs the `runtime` extra:
`bedrock-agentcore`, which the Lambda layer does not carry, so this package is not in it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from bedrock_agentcore import BedrockAgentCoreApp, BedrockAgentCoreContext, RequestContext
from bedrock_agentcore.runtime.models import REQUEST_ID_HEADER
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from agentgw.agent.conversation_store import ConversationStore
from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.gateway_session import GatewayCaches
from agentgw.agent.models import ModelFactory
from agentgw.agent.request import SESSION_ID
from agentgw.agent.service import AgentService

logger = Logger(service="agentgw-runtime")
metrics = Metrics(namespace="agentgw", service="agentgw-runtime")


def compose() -> AgentService:
    """The service with what it uses: one credentials cache, model factory, store and caches."""
    credentials = GatewayCredentials()
    return AgentService(
        credentials=credentials,
        models=ModelFactory(credentials),
        conversations=ConversationStore(),
        caches=GatewayCaches(),
        metrics=metrics,
        logger=logger,
    )


service = compose()


def runtime_session_id(header: str | None) -> str | None:
    """The conversation the runtime's session header names, as one of our session ids.

    The runtime takes 33-256 characters of anything; our ids (the session store's keys) are at
    most 128 of `[A-Za-z0-9._-]`. An id we cannot use as is gets a stable digest, so every
    invocation of that runtime session continues one conversation instead of starting afresh.
    """
    if not header:
        return None
    if SESSION_ID.fullmatch(header):
        return header
    return "rt-" + hashlib.sha256(header.encode("utf-8", "surrogatepass")).hexdigest()


class _ApiErrorsForUndecodableBodies:
    """ASGI middleware: an `/invocations` body that is not UTF-8 JSON gets the agent API's own
    400 (`invalid_request`, with the request id), not the framework's `{"error": "Invalid JSON"}`.

    The framework decodes the body before the entrypoint sees it, so the check sits in front of
    it; a body that decodes is passed on untouched.
    """

    def __init__(self, app: Any, agent_service: AgentService) -> None:
        self.app = app
        self.service = agent_service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/invocations":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            json.loads(body)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            request_id = Headers(scope=scope).get(REQUEST_ID_HEADER) or None
            try:
                reply = self.service.handle(body, request_id=request_id)
            finally:
                metrics.flush_metrics(raise_on_empty_metrics=False)
            await JSONResponse(reply.body, status_code=reply.status)(scope, receive, send)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def create_app(agent_service: AgentService | None = None) -> BedrockAgentCoreApp:
    """A BedrockAgentCoreApp whose entrypoint answers with `agent_service`."""
    svc = agent_service or service
    app = BedrockAgentCoreApp()
    app.add_middleware(_ApiErrorsForUndecodableBodies, agent_service=svc)

    @app.entrypoint
    def invoke(payload: Any, context: RequestContext) -> Any:
        session = runtime_session_id(context.session_id)
        request_id = BedrockAgentCoreContext.get_request_id()
        try:
            # The payload arrives decoded; re-encoding a non-object lets validation name its JSON type.
            body: Any = payload if isinstance(payload, dict) else json.dumps(payload)
            reply = svc.handle(body, request_id=request_id, session_id=session)
        finally:
            metrics.flush_metrics(raise_on_empty_metrics=False)
        if reply.status == 200:
            return reply.body
        return JSONResponse(reply.body, status_code=reply.status)

    return app


app = create_app()
