"""The same agent service on Amazon Bedrock AgentCore Runtime.

AgentCore Runtime runs a container that serves `POST /invocations` and `GET /ping` on port
8080; `bedrock_agentcore.BedrockAgentCoreApp` is that server. The payload is the agent API's
request (`{"prompt", "session_id"?}`); when it has no `session_id`, the runtime's session
header (`X-Amzn-Bedrock-AgentCore-Runtime-Session-Id`) names the conversation (as is, or
by a digest when it is not one of our session ids). Errors keep
their HTTP status (400 for a bad request, 504 past the deadline), as in the HTTP API.

Configuration is the same environment as the Lambda function (`agentgw.agent.settings`).
Run it locally with `python -m agentgw.agent.runtime_app [--port 8080]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from bedrock_agentcore import BedrockAgentCoreApp, BedrockAgentCoreContext, RequestContext
from starlette.responses import JSONResponse

from agentgw.agent.service import SESSION_ID, AgentService

logger = Logger(service="agentgw-runtime")
metrics = Metrics(namespace="agentgw", service="agentgw-runtime")
service = AgentService(metrics=metrics, logger=logger)


def runtime_session_id(header: str | None) -> str | None:
    """The conversation the runtime's session header names, as one of our session ids.

    The runtime takes 33-256 characters of anything; our ids (the session store's keys) are at
    most 128 of `[A-Za-z0-9._-]`. An id we cannot use as is gets a stable digest, so every
    invocation of that runtime session continues one conversation instead of starting afresh.
    """
    if not header:
        return None
    if SESSION_ID.match(header):
        return header
    return "rt-" + hashlib.sha256(header.encode("utf-8", "surrogatepass")).hexdigest()


def create_app(agent_service: AgentService | None = None) -> BedrockAgentCoreApp:
    """A BedrockAgentCoreApp whose entrypoint answers with `agent_service`."""
    svc = agent_service or service
    app = BedrockAgentCoreApp()

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the agentgw agent as an AgentCore Runtime app")
    parser.add_argument(
        "--host", default=None, help="address to bind (default: 127.0.0.1, 0.0.0.0 in a container)"
    )
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app.run(port=args.port, host=args.host)


if __name__ == "__main__":
    main()
