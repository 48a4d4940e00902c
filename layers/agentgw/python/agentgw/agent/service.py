"""The agent API's service: validate a prompt request, answer it with a Strands agent, report.

Request  `{"prompt": str, "session_id"?: str}` (body ≤ 32 KiB, prompt ≤ 8000 characters,
session id `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`). Anything else is a 400 whose JSON says what
is wrong.

Response `{"answer", "session_id", "tool_calls": [{"name", "arguments", "is_error",
"latency_ms"}], "model", "usage": {"input_tokens", "output_tokens"}, "request_id"}`.

Per request: the cached gateway config and token (`credentials`), then one task on an event
loop of its own (`_Invocation`): an MCP session opened and closed inside the invocation
(`tool_loading.open_gateway_session`, no thread of its own), the tools for this prompt (cached
list, search-first when there are many), a model by configuration (`models`), a session
manager keyed by `session_id` (S3 in AWS, files locally), and the Strands agent loop
(`Agent.invoke_async`) whose tool calls go through that session.

One deadline below API Gateway's 30 s covers the whole invocation: reading the configuration,
secret and token (in a worker thread joined until the deadline; those clients have short
timeouts of their own), opening the MCP session, `tools/list`, the search, building the agent
(which loads the session) and the agent loop with its session saves. Past it the invocation's
task is cancelled (model stream, tool call, whatever it awaited), the MCP session closed, the
loop ended, and the answer is a 504 with the tool calls made so far.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from botocore.config import Config as BotocoreConfig
from strands import Agent
from strands.hooks import AfterToolCallEvent, BeforeToolCallEvent, HookProvider, HookRegistry

from agentgw.agent import credentials, models
from agentgw.agent.conversations import ConversationConflict, FileConversations, S3Conversations
from agentgw.agent.settings import (
    MAX_BODY_BYTES,
    MAX_PROMPT_CHARS,
    MAX_SESSION_ID_CHARS,
    Settings,
    SettingsError,
)
from agentgw.agent.tool_loading import (
    GatewaySession,
    GatewayTimeout,
    ToolLoadingError,
    ToolSelection,
    open_gateway_session,
    select_tools,
)
from agentgw.config import ConfigError, GatewayConfig
from agentgw.oauth import TokenError

ALLOWED_FIELDS = ("prompt", "session_id")
SESSION_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_SESSION_ID_CHARS - 1}}}$")
AGENT_ID = "agentgw"
# Time kept back from Lambda's own timeout to answer, close the MCP session and flush metrics.
LAMBDA_MARGIN_S = 2.0
# How long a cancelled invocation gets to stop and close its MCP session before we answer anyway.
CANCEL_GRACE_S = 2.0
# A gateway timeout this close to the deadline was the deadline's doing (timer granularity).
DEADLINE_SLACK_S = 0.05
DEFAULT_SESSION_DIR = "/tmp/agentgw-sessions"
# Session reads and saves run under the deadline; a stuck S3 call must not hold the worker long.
S3_SESSION_CONFIG = BotocoreConfig(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)

_log = logging.getLogger(__name__)


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


class RequestError(ValueError):
    """A 400: the request is not what the API takes (the message says what is wrong)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PromptRequest:
    prompt: str
    session_id: str | None = None


def parse_request(body: str | bytes | Mapping[str, Any] | None) -> PromptRequest:
    """Validate a request body (raw JSON text/bytes, or an already decoded object)."""
    if isinstance(body, Mapping):
        data: Any = dict(body)
        size = len(json.dumps(data).encode("utf-8"))
    else:
        if body is None or (isinstance(body, str | bytes) and not body.strip()):
            raise RequestError(
                'the request body is empty; send JSON like {"prompt": "What time is it in Tokyo?"}'
            )
        raw = body.encode("utf-8") if isinstance(body, str) else body
        size = len(raw)
        if size > MAX_BODY_BYTES:
            raise RequestError(f"the request body has {size} bytes; the limit is {MAX_BODY_BYTES} bytes")
        try:
            text = raw.decode("utf-8")  # explicit: json.loads(bytes) would guess UTF-16/32 too
        except UnicodeDecodeError:
            raise RequestError("the request body is not UTF-8 text") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RequestError(
                f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:  # the decoder recurses per level; no valid request nests deeply
            raise RequestError("the request body is not valid JSON: nested too deeply") from None
    if size > MAX_BODY_BYTES:
        raise RequestError(f"the request body has {size} bytes; the limit is {MAX_BODY_BYTES} bytes")
    if not isinstance(data, dict):
        raise RequestError(f"the request body must be a JSON object, not {_json_type(data)}")
    unknown = sorted(set(data) - set(ALLOWED_FIELDS))
    if unknown:
        raise RequestError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"allowed fields: {', '.join(ALLOWED_FIELDS)}",
            field=unknown[0],
        )
    if "prompt" not in data:
        raise RequestError('"prompt" is required', field="prompt")
    prompt = data["prompt"]
    if not isinstance(prompt, str):
        raise RequestError(f'"prompt" must be a string, not {_json_type(prompt)}', field="prompt")
    if not prompt.strip():
        raise RequestError('"prompt" is empty', field="prompt")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A \ud800-style escape decodes to a lone surrogate: not text the model, the gateway or
        # the session store can take (it failed deep in the agent as a 502 before).
        raise RequestError(
            f'"prompt" is not valid Unicode: an unpaired surrogate at character {exc.start}', field="prompt"
        ) from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise RequestError(
            f'"prompt" has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}', field="prompt"
        )
    session_id = data.get("session_id")
    if session_id is not None:
        if not isinstance(session_id, str):
            raise RequestError(
                f'"session_id" must be a string, not {_json_type(session_id)}', field="session_id"
            )
        if not SESSION_ID.match(session_id):
            raise RequestError(
                f'"session_id" must be 1-{MAX_SESSION_ID_CHARS} characters of letters, digits, ".", "_" '
                'or "-", starting with a letter or digit',
                field="session_id",
            )
    return PromptRequest(prompt=prompt, session_id=session_id)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object"
    )


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    is_error: bool
    latency_ms: int


class ToolTrace(HookProvider):
    """Records each tool call (gateway name, arguments, error flag, latency) as it completes."""

    def __init__(self, selection: ToolSelection) -> None:
        self._selection = selection
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self.calls: list[ToolCall] = []

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeToolCallEvent, self._before)
        registry.add_callback(AfterToolCallEvent, self._after)

    def _before(self, event: BeforeToolCallEvent) -> None:
        with self._lock:
            self._started[event.tool_use["toolUseId"]] = time.monotonic()

    def _after(self, event: AfterToolCallEvent) -> None:
        use = event.tool_use
        with self._lock:
            started = self._started.pop(use["toolUseId"], None)
            elapsed = event.duration if event.duration is not None else time.monotonic() - (started or 0)
            arguments = use.get("input")
            self.calls.append(
                ToolCall(
                    name=self._selection.gateway_name(use["name"]),
                    arguments=arguments if isinstance(arguments, dict) else {"input": arguments},
                    is_error=event.exception is not None or event.result.get("status") == "error",
                    latency_ms=round(elapsed * 1000),
                )
            )

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(call) for call in self.calls]


@dataclass
class Reply:
    status: int
    body: dict[str, Any]


def error_reply(status: int, code: str, message: str, request_id: str, **extra: Any) -> Reply:
    return Reply(status, {"error": code, "message": redact(message), **extra, "request_id": request_id})


# Provider errors sometimes quote credentials (e.g. a partly masked API key); never pass them on.
_SECRETS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|\b((?:sk|pk)-)[A-Za-z0-9*._-]{6,}"
    r"|\b([\w-]*?(?:key|token|secret|password)[\"']?\s*[=:]\s*[\"']?)[^\s,;\"']{6,}"
)


def redact(text: str) -> str:
    """`text` with bearer tokens and key-like values replaced by `***`."""
    return _SECRETS.sub(lambda m: f"{next(g for g in m.groups() if g)}***", text)


class AgentService:
    """Answers prompt requests. One instance per process; every call is independent."""

    def __init__(
        self,
        settings: Callable[[], Settings] = Settings.from_env,
        metrics: MetricsSink | None = None,
        logger: logging.Logger | Any = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._log = logger or _log

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
        budget = max(budget, 0.5)
        session = request.session_id or session_id or uuid.uuid4().hex
        reply = self._answer(request, session, settings, started, round(budget, 1), request_id)
        self._metric("PromptLatency", (time.monotonic() - started) * 1000, unit="Milliseconds")
        if reply.status >= 500:
            self._metric("PromptErrors", 1)
        return reply

    def _answer(
        self,
        request: PromptRequest,
        session_id: str,
        settings: Settings,
        started: float,
        budget_s: float,
        request_id: str,
    ) -> Reply:
        deadline = started + budget_s

        def authenticate() -> tuple[GatewayConfig, credentials.GatewayBearerAuth]:
            config = credentials.gateway_config(settings.config_parameter, settings.config_max_age_s)
            auth = credentials.GatewayBearerAuth(credentials.token_cache(config, settings.config_max_age_s))
            auth.prime()
            return config, auth

        run = _Invocation(self, request, session_id, settings, authenticate, deadline, request_id)
        try:
            run.start()
        except _PastDeadline:
            self._log.error("gateway credentials not read within the %g s deadline", budget_s)
            return self._deadline_reply(
                budget_s,
                "reading the gateway configuration and token did not finish",
                request_id,
                session_id=session_id,
                model=settings.provider,
            )
        except (ConfigError, TokenError) as exc:
            self._log.error("gateway credentials unavailable: %s", exc)
            return error_reply(
                502, "gateway_unavailable", f"could not authenticate to the gateway: {exc}", request_id
            )
        except Exception as exc:  # AWS API errors reading SSM / Secrets Manager
            self._log.exception("could not read the gateway configuration")
            return error_reply(
                502,
                "gateway_unavailable",
                f"could not read the gateway configuration ({type(exc).__name__})",
                request_id,
            )
        outcome = run.outcome()
        trace = run.trace
        model_name = run.model_name
        if isinstance(outcome.error, GatewayTimeout):
            self._log.error("gateway timed out: %s", outcome.error)
            if time.monotonic() >= deadline - DEADLINE_SLACK_S:
                return self._deadline_reply(
                    budget_s,
                    str(outcome.error),
                    request_id,
                    session_id=session_id,
                    model=model_name,
                    tool_calls=trace.snapshot() if trace else [],
                )
            return error_reply(504, "gateway_timeout", str(outcome.error), request_id, session_id=session_id)
        if isinstance(outcome.error, ToolLoadingError):
            self._log.error("gateway tools unavailable: %s", outcome.error)
            return error_reply(
                502, "gateway_unavailable", str(outcome.error), request_id, session_id=session_id
            )
        if trace is None:  # stopped before the agent was built: the deadline or an error on the way
            if outcome.timed_out:
                return self._deadline_reply(
                    budget_s,
                    f"{run.phase} did not finish",
                    request_id,
                    session_id=session_id,
                    model=model_name,
                )
            exc = outcome.error or RuntimeError("the invocation ended without an answer")
            return self._agent_failed(exc, request_id, session_id=session_id, model=model_name, tool_calls=[])

        tool_calls = trace.snapshot()
        usage = outcome.usage
        self._metric("PromptToolCalls", len(tool_calls))
        self._metric("PromptToolErrors", sum(1 for c in tool_calls if c["is_error"]))
        self._metric("PromptInputTokens", usage["input_tokens"])
        self._metric("PromptOutputTokens", usage["output_tokens"])
        if isinstance(outcome.error, ConversationConflict):
            # Answered, but another request of the session saved first: say so, and keep its turn.
            self._log.warning("conversation not saved: %s", outcome.error)
            return error_reply(
                409,
                "session_busy",
                str(outcome.error),
                request_id,
                session_id=session_id,
                model=model_name,
                tool_calls=tool_calls,
            )
        if outcome.error is not None:
            return self._agent_failed(
                outcome.error, request_id, session_id=session_id, model=model_name, tool_calls=tool_calls
            )
        if outcome.timed_out:
            return self._deadline_reply(
                budget_s,
                f"the agent was stopped after {len(tool_calls)} tool call(s)",
                request_id,
                session_id=session_id,
                model=model_name,
                tool_calls=tool_calls,
                usage=usage,
            )
        return Reply(
            200,
            {
                "answer": outcome.answer,
                "session_id": session_id,
                "tool_calls": tool_calls,
                "model": model_name,
                "usage": usage,
                "request_id": request_id,
            },
        )

    def _agent_failed(
        self,
        exc: BaseException,
        request_id: str,
        *,
        session_id: str,
        model: str,
        tool_calls: list[dict[str, Any]],
    ) -> Reply:
        """The 502 for a model, tool or agent error, with the tool calls made so far."""
        # No traceback: provider errors may quote credentials; the redacted message says what failed.
        self._log.error("agent failed: %s", redact(f"{type(exc).__name__}: {exc}"))
        return error_reply(
            502,
            "agent_failed",
            f"the agent failed: {type(exc).__name__}: {str(exc)[:300]}",
            request_id,
            session_id=session_id,
            model=model,
            tool_calls=tool_calls,
        )

    def _deadline_reply(
        self,
        budget_s: float,
        what: str,
        request_id: str,
        *,
        session_id: str,
        model: str,
        tool_calls: list[dict[str, Any]] | None = None,
        usage: dict[str, int] | None = None,
    ) -> Reply:
        """The 504: which deadline, what was under way, and the tool calls made so far (counted)."""
        self._metric("PromptDeadlineExceeded", 1)
        return error_reply(
            504,
            "deadline_exceeded",
            f"no answer within the {budget_s:g} s deadline; {what}",
            request_id,
            session_id=session_id,
            model=model,
            tool_calls=tool_calls or [],
            usage=usage or {"input_tokens": 0, "output_tokens": 0},
        )

    @staticmethod
    def _session_manager(settings: Settings, session_id: str) -> FileConversations | S3Conversations:
        if settings.session_bucket:
            return S3Conversations(
                session_id=session_id,
                bucket=settings.session_bucket,
                prefix=settings.session_prefix,
                region_name=os.environ.get("AWS_REGION"),
                boto_client_config=S3_SESSION_CONFIG,
            )
        return FileConversations(
            session_id=session_id, storage_dir=settings.session_dir or DEFAULT_SESSION_DIR
        )

    def _metric(self, name: str, value: float, unit: str = "Count") -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name=name, unit=unit, value=value)


@dataclass
class Outcome:
    answer: str
    usage: dict[str, int]
    timed_out: bool
    error: BaseException | None = None


class _PastDeadline(Exception):
    """Reading the gateway configuration, secret and token did not finish before the deadline."""


class _Invocation:
    """One invocation's credentials, MCP session and agent run, in one worker thread.

    The worker first reads the gateway configuration, secret and token (blocking calls that
    cannot be cancelled: `start` waits for them until the deadline only; their clients have
    short timeouts of their own, and whatever they fetch still fills the caches). Then
    everything asynchronous runs as one task on one loop (`asyncio.run`): the MCP session with
    the gateway (opened and closed here), the tool list and the search, the Strands agent loop
    (`invoke_async`) and its tool calls. The deadline cancels that task; the session is then
    closed within `CANCEL_GRACE_S`, and `asyncio.run` ends the loop, so nothing of the
    invocation is left running. `outcome` waits for the worker until the deadline plus that
    grace, in case blocking work (a session save to S3) holds the loop.
    """

    def __init__(
        self,
        service: AgentService,
        request: PromptRequest,
        session_id: str,
        settings: Settings,
        authenticate: Callable[[], tuple[GatewayConfig, credentials.GatewayBearerAuth]],
        deadline: float,
        request_id: str,
    ) -> None:
        self._service = service
        self._request = request
        self._session_id = session_id
        self._settings = settings
        self._authenticate = authenticate
        self._deadline = deadline
        self._request_id = request_id
        self.trace: ToolTrace | None = None
        self.model_name = settings.provider
        self.phase = "opening the MCP session"  # what was under way, for the 504's message
        self._agent: Agent | None = None
        self._result: Any = None
        self._timed_out = False
        self._error: BaseException | None = None
        self._authenticated = threading.Event()
        self._credentials: tuple[GatewayConfig, credentials.GatewayBearerAuth] | None = None
        self._credentials_error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="agentgw-agent", daemon=True)

    def start(self) -> None:
        """Start the worker; return once it has the credentials, raise if it failed or is late."""
        self._worker.start()
        if not self._authenticated.wait(max(0.0, self._deadline - time.monotonic())):
            raise _PastDeadline("agentgw-credentials")
        if self._credentials_error is not None:
            raise self._credentials_error

    def _run(self) -> None:
        try:
            self._credentials = self._authenticate()
        except BaseException as exc:
            self._credentials_error = exc
        self._authenticated.set()
        if self._credentials_error is not None:
            return
        if time.monotonic() >= self._deadline:
            # Late credentials (the caller has answered already) or no time left: go no further.
            self._timed_out = True
            return
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc

    def outcome(self) -> Outcome:
        self._worker.join(max(0.0, self._deadline - time.monotonic()) + CANCEL_GRACE_S)
        if self._worker.is_alive():
            _log.warning("the invocation did not stop within %.1f s of its deadline", CANCEL_GRACE_S)
            self._timed_out = True
        accumulated = self._agent.event_loop_metrics.accumulated_usage if self._agent is not None else {}
        usage = {
            "input_tokens": int(accumulated.get("inputTokens", 0)),
            "output_tokens": int(accumulated.get("outputTokens", 0)),
        }
        error = _unwrap(self._error) if self._error is not None else None
        if isinstance(error, GatewayTimeout) or (error is not None and not self._timed_out):
            return Outcome("", usage, False, error)
        if self._timed_out or (self._result is not None and self._result.stop_reason == "cancelled"):
            return Outcome("", usage, True)
        return Outcome(_answer_text(self._result), usage, False)

    async def _main(self) -> None:
        settings = self._settings
        assert self._credentials is not None
        config, auth = self._credentials
        loop = asyncio.get_running_loop()
        closing = False
        bound: asyncio.Timeout | None = None
        try:
            # Everything, closing the session included, ends by deadline + grace at the latest.
            async with asyncio.timeout(self._deadline + CANCEL_GRACE_S - time.monotonic()) as bound:
                remaining = max(0.05, self._deadline - time.monotonic())
                async with open_gateway_session(
                    config.gateway_url,
                    auth,
                    startup_timeout_s=min(settings.mcp_timeout_s, remaining),
                    handshake_ttl_s=settings.tool_list_ttl_s,
                ) as gateway:
                    deadline = asyncio.timeout(self._deadline - time.monotonic())
                    try:
                        async with deadline:
                            await self._work(gateway, config)
                    except TimeoutError:
                        if not deadline.expired():
                            raise  # a model's or library's own timeout: an error, not the deadline
                        self._timed_out = True  # cancelled at the deadline; the session closes next
                    finally:
                        # Closing (`DELETE`) gets at most the grace: an answer that is ready
                        # does not wait on a gateway that is slow to end the session.
                        closing = True
                        bound.reschedule(min(bound.when() or math.inf, loop.time() + CANCEL_GRACE_S))
        except TimeoutError:
            if bound is None or not bound.expired():
                raise
            if not closing:
                self._timed_out = True
                return
            _log.warning("closing the MCP session did not finish within %.1f s", CANCEL_GRACE_S)

    async def _work(self, gateway: GatewaySession, config: GatewayConfig) -> None:
        settings, request = self._settings, self._request
        self.phase = "listing or searching the gateway's tools"
        selection = await select_tools(
            gateway,
            request.prompt,
            cache_key=config.gateway_url,
            ttl_s=settings.tool_list_ttl_s,
            threshold=settings.search_threshold,
            top_k=settings.search_top_k,
            always_search=models.uses_search_ranking(settings),
        )
        self._service._log.info(
            "tools selected",
            extra={
                "request_id": self._request_id,
                "session_id": self._session_id,
                "tools_total": selection.total,
                "tools_offered": len(selection.tools),
                "searched": selection.searched,
            },
        )
        self.phase = "choosing the model"
        model, self.model_name = models.build_model(settings, selection)
        self.trace = ToolTrace(selection)
        self.phase = "loading the conversation"
        conversation = AgentService._session_manager(settings, self._session_id)
        self._agent = agent = Agent(
            model=model,
            tools=list(selection.tools),
            system_prompt=settings.system_prompt,
            callback_handler=None,  # the default prints every token to stdout (logs)
            session_manager=conversation,
            hooks=[self.trace],
            agent_id=AGENT_ID,
            name="agentgw",
        )
        self.phase = "the agent"
        try:
            self._result = await agent.invoke_async(request.prompt, limits={"turns": settings.max_turns})
        except BaseException as failure:
            # Cancelled at the deadline or failed: keep the turn so far, closed so that the
            # session's next request still works; the answer reports the original error, not a
            # failed save.
            cancelled = isinstance(failure, asyncio.CancelledError)
            try:
                conversation.close_interrupted_turn(
                    agent,
                    "the request's deadline passed"
                    if cancelled
                    else f"the agent failed ({type(failure).__name__})",
                )
                conversation.flush()
            except Exception as exc:
                _log.warning("could not save the conversation: %s", redact(f"{type(exc).__name__}: {exc}"))
            raise
        # A turn limit stops the loop before the final answer, possibly right after a tool result.
        conversation.close_interrupted_turn(agent, f"stopped: {self._result.stop_reason}")
        conversation.flush()


def _unwrap(exc: BaseException) -> BaseException:
    """The error that ended the invocation, out of the exception groups of the session's task groups.

    A gateway error (`ToolLoadingError`) is preferred to what it caused in sibling tasks.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves: list[BaseException] = []

    def collect(group: BaseExceptionGroup[BaseException]) -> None:
        for inner in group.exceptions:
            if isinstance(inner, BaseExceptionGroup):
                collect(inner)
            else:
                leaves.append(inner)

    collect(exc)
    return next((e for e in leaves if isinstance(e, ToolLoadingError)), leaves[0] if leaves else exc)


def _answer_text(result: Any) -> str:
    content = result.message.get("content", []) if result is not None else []
    text = "".join(block["text"] for block in content if "text" in block).strip()
    if text:
        return text
    if result is not None and str(result.stop_reason).startswith("limit_"):
        return f"(stopped: {result.stop_reason} reached before a final answer)"
    return text
