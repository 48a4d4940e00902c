"""The agent API's replies: the status and JSON body for each way an invocation can end.

200 `{"answer", "session_id", "tool_calls": [{"name", "arguments", "is_error", "latency_ms"}],
"model", "usage": {"input_tokens", "output_tokens"}, "request_id"}`; errors
`{"error", "message", ..., "request_id"}`: 400 `invalid_request`, 409 `session_busy` (answered,
but another request of the session saved first), 500 `misconfigured`, 502
`gateway_unavailable` / `agent_failed`, 504 `gateway_timeout` / `deadline_exceeded` (with the
tool calls made so far). Messages never carry credentials (`redact`).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from agentgw.agent.conversations import ConversationConflict
from agentgw.agent.gateway_session import GatewayTimeout, ToolLoadingError
from agentgw.agent.invocation import Outcome

# A gateway timeout this close to the deadline was the deadline's doing (timer granularity).
DEADLINE_SLACK_S = 0.05


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


@dataclass(frozen=True)
class ReplyTo:
    """Who a reply is for, and the deadline the request ran under."""

    request_id: str
    session_id: str
    budget_s: float
    deadline: float  # time.monotonic() value

    def deadline_exceeded(
        self,
        what: str,
        *,
        model: str,
        tool_calls: list[dict[str, Any]] | None = None,
        usage: dict[str, int] | None = None,
    ) -> Reply:
        """The 504: which deadline, what was under way, and the tool calls made so far."""
        return error_reply(
            504,
            "deadline_exceeded",
            f"no answer within the {self.budget_s:g} s deadline; {what}",
            self.request_id,
            session_id=self.session_id,
            model=model,
            tool_calls=tool_calls or [],
            usage=usage or {"input_tokens": 0, "output_tokens": 0},
        )

    def agent_failed(
        self, exc: BaseException, *, model: str, tool_calls: list[dict[str, Any]], log: Any
    ) -> Reply:
        """The 502 for a model, tool or agent error, with the tool calls made so far."""
        # No traceback: provider errors may quote credentials; the redacted message says what failed.
        log.error("agent failed: %s", redact(f"{type(exc).__name__}: {exc}"))
        return error_reply(
            502,
            "agent_failed",
            f"the agent failed: {type(exc).__name__}: {str(exc)[:300]}",
            self.request_id,
            session_id=self.session_id,
            model=model,
            tool_calls=tool_calls,
        )

    def outcome(
        self,
        outcome: Outcome,
        *,
        model: str,
        phase: str,
        tool_calls: list[dict[str, Any]] | None,
        log: logging.Logger | Any,
    ) -> Reply:
        """The reply for an invocation that ran; `tool_calls` is None when no agent was built."""
        request_id, session_id = self.request_id, self.session_id
        if isinstance(outcome.error, GatewayTimeout):
            log.error("gateway timed out: %s", outcome.error)
            if time.monotonic() >= self.deadline - DEADLINE_SLACK_S:
                return self.deadline_exceeded(str(outcome.error), model=model, tool_calls=tool_calls)
            return error_reply(504, "gateway_timeout", str(outcome.error), request_id, session_id=session_id)
        if isinstance(outcome.error, ToolLoadingError):
            log.error("gateway tools unavailable: %s", outcome.error)
            return error_reply(
                502, "gateway_unavailable", str(outcome.error), request_id, session_id=session_id
            )
        if tool_calls is None:  # stopped before the agent was built: the deadline or an error on the way
            if outcome.timed_out:
                return self.deadline_exceeded(f"{phase} did not finish", model=model)
            exc = outcome.error or RuntimeError("the invocation ended without an answer")
            return self.agent_failed(exc, model=model, tool_calls=[], log=log)
        if isinstance(outcome.error, ConversationConflict):
            # Answered, but another request of the session saved first: say so, and keep its turn.
            log.warning("conversation not saved: %s", outcome.error)
            return error_reply(
                409,
                "session_busy",
                str(outcome.error),
                request_id,
                session_id=session_id,
                model=model,
                tool_calls=tool_calls,
            )
        if outcome.error is not None:
            return self.agent_failed(outcome.error, model=model, tool_calls=tool_calls, log=log)
        if outcome.timed_out:
            return self.deadline_exceeded(
                f"the agent was stopped after {len(tool_calls)} tool call(s)",
                model=model,
                tool_calls=tool_calls,
                usage=outcome.usage,
            )
        return Reply(
            200,
            {
                "answer": outcome.answer,
                "session_id": session_id,
                "tool_calls": tool_calls,
                "model": model,
                "usage": outcome.usage,
                "request_id": request_id,
            },
        )
