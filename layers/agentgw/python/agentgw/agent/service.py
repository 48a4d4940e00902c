"""The agent API's service: validate a prompt request, answer it with a Strands agent, report.

Per request: the request (`request`), the settings, the cached gateway configuration and token
(`GatewayCredentials`), then the invocation under one deadline (`invocation`) running the
agent (`agent_run`) in an MCP session with the gateway, and the reply for how it ended
(`replies`).

One deadline below API Gateway's 30 s covers the whole invocation: reading the configuration,
secret and token, opening the MCP session, `tools/list`, the search, building the agent (which
loads the conversation) and the agent loop with its conversation saves. Past it the answer is
a 504 with the tool calls made so far.

What the service uses is passed in by whoever composes it (the Lambda handler, the Runtime
app): the credentials, the model factory, the conversation store and the gateway caches.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from agentgw.agent.agent_run import AgentRun
from agentgw.agent.conversation_store import ConversationStore
from agentgw.agent.credentials import GatewayCredentials
from agentgw.agent.gateway_session import GatewayCaches, ToolLoadingError
from agentgw.agent.invocation import Invocation, PastDeadline, SessionOptions
from agentgw.agent.models import ModelFactory
from agentgw.agent.replies import Reply, ReplyTo, error_reply
from agentgw.agent.request import RequestError, parse_request
from agentgw.agent.settings import Settings, SettingsError
from agentgw.config import ConfigError, GatewayConfig
from agentgw.gateway.auth import BearerAuth
from agentgw.oauth import TokenError

# Time kept back from Lambda's own timeout to answer, close the MCP session and flush metrics.
LAMBDA_MARGIN_S = 2.0

_log = logging.getLogger(__name__)


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


class AgentService:
    """Answers prompt requests. One instance per process; every call is independent."""

    def __init__(
        self,
        *,
        credentials: GatewayCredentials | None = None,
        models: ModelFactory | None = None,
        conversations: ConversationStore | None = None,
        caches: GatewayCaches | None = None,
        settings: Callable[[], Settings] | None = None,
        metrics: MetricsSink | None = None,
        logger: logging.Logger | Any = None,
        trace_gateway_calls: bool = False,
    ) -> None:
        self.credentials = credentials or GatewayCredentials()
        self.models = models or ModelFactory(self.credentials)
        self.conversations = conversations or ConversationStore()
        self.caches = caches or GatewayCaches()
        extra = self.models.extra_providers
        self._settings = settings or (lambda: Settings.from_env(extra_providers=extra))
        self._metrics = metrics
        self._log = logger or _log
        self._traced = trace_gateway_calls

    def handle(
        self,
        body: str | bytes | Mapping[str, Any] | None,
        *,
        request_id: str | None = None,
        remaining_ms: int | None = None,
        session_id: str | None = None,
    ) -> Reply:
        """Answer one request. `remaining_ms` is Lambda's remaining time, when there is one."""
        started = time.monotonic()
        request_id = request_id or str(uuid.uuid4())
        try:
            request = parse_request(body)
        except RequestError as exc:
            self._metric("PromptBadRequests", 1)
            extra = {"field": exc.field} if exc.field else {}
            return error_reply(400, "invalid_request", str(exc), request_id, **extra)
        try:
            settings = self._settings()
        except SettingsError as exc:
            self._log.error("agent misconfigured: %s", exc)
            self._metric("PromptErrors", 1)
            return error_reply(500, "misconfigured", str(exc), request_id)
        budget = settings.deadline_s
        if remaining_ms is not None:
            budget = min(budget, remaining_ms / 1000 - LAMBDA_MARGIN_S)
        budget_s = round(max(budget, 0.5), 1)
        reply_to = ReplyTo(
            request_id, request.session_id or session_id or uuid.uuid4().hex, budget_s, started + budget_s
        )
        run = AgentRun(
            request,
            reply_to.session_id,
            request_id,
            settings,
            models=self.models,
            conversations=self.conversations,
            tool_lists=self.caches.tool_lists,
            logger=self._log,
        )
        reply = self._answer(run, settings, reply_to)
        self._metric("PromptLatency", (time.monotonic() - started) * 1000, unit="Milliseconds")
        if reply.body.get("error") == "deadline_exceeded":
            self._metric("PromptDeadlineExceeded", 1)
        if reply.status >= 500:
            self._metric("PromptErrors", 1)
        return reply

    def _answer(self, run: AgentRun, settings: Settings, reply_to: ReplyTo) -> Reply:
        def authenticate() -> tuple[GatewayConfig, BearerAuth]:
            config = self.credentials.gateway_config(settings.config_parameter, settings.config_max_age_s)
            return config, self.credentials.gateway_auth(config, settings.config_max_age_s)

        session = SessionOptions(
            startup_timeout_s=settings.mcp_timeout_s,
            handshake_ttl_s=settings.tool_list_ttl_s,
            handshakes=self.caches.handshakes,
            traced=self._traced,
        )
        invocation = Invocation(run, authenticate, session, deadline=reply_to.deadline)
        try:
            invocation.start()
        except PastDeadline:
            self._log.error("gateway credentials not read within the %g s deadline", reply_to.budget_s)
            return reply_to.deadline_exceeded(
                "reading the gateway configuration and token did not finish", model=settings.provider
            )
        except (ConfigError, TokenError) as exc:
            self._log.error("gateway credentials unavailable: %s", exc)
            return error_reply(
                502,
                "gateway_unavailable",
                f"could not authenticate to the gateway: {exc}",
                reply_to.request_id,
            )
        except Exception as exc:  # AWS API errors reading SSM / Secrets Manager
            self._log.exception("could not read the gateway configuration")
            return error_reply(
                502,
                "gateway_unavailable",
                f"could not read the gateway configuration ({type(exc).__name__})",
                reply_to.request_id,
            )
        outcome = invocation.outcome()
        tool_calls = run.trace.snapshot() if run.trace is not None else None
        if tool_calls is not None and not isinstance(outcome.error, ToolLoadingError):
            self._metric("PromptToolCalls", len(tool_calls))
            self._metric("PromptToolErrors", sum(1 for c in tool_calls if c["is_error"]))
            self._metric("PromptInputTokens", outcome.usage["input_tokens"])
            self._metric("PromptOutputTokens", outcome.usage["output_tokens"])
        return reply_to.outcome(
            outcome, model=run.model_name, phase=run.phase, tool_calls=tool_calls, log=self._log
        )

    def _metric(self, name: str, value: float, unit: str = "Count") -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name=name, unit=unit, value=value)
