"""The agent's part of an invocation: the tools for the prompt, the model, the Strands agent loop.

Runs inside the invocation's MCP session (`agentgw.agent.invocation`): the tools for this
prompt (cached list, search-first when there are many), a model by configuration
(`ModelFactory`), the conversation of `session_id` (`ConversationStore`) and the agent loop
(`Agent.invoke_async`), whose tool calls go through that session. `phase` says what was under
way, for a reply past the deadline.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mcp.types
from strands import Agent

from agentgw.agent import models
from agentgw.agent.conversation_store import ConversationStore
from agentgw.agent.gateway_session import GatewaySession, TtlCache
from agentgw.agent.models import ModelFactory
from agentgw.agent.replies import redact
from agentgw.agent.request import PromptRequest
from agentgw.agent.settings import Settings
from agentgw.agent.tool_selection import select_tools
from agentgw.agent.tool_trace import ToolTrace
from agentgw.config import GatewayConfig

AGENT_ID = "agentgw"

_log = logging.getLogger(__name__)


class AgentRun:
    """One request's agent, built and run on the gateway session it is given."""

    def __init__(
        self,
        request: PromptRequest,
        session_id: str,
        request_id: str,
        settings: Settings,
        *,
        models: ModelFactory,
        conversations: ConversationStore,
        tool_lists: TtlCache[list[mcp.types.Tool]],
        logger: logging.Logger | Any,
    ) -> None:
        self._request = request
        self._session_id = session_id
        self._request_id = request_id
        self._settings = settings
        self._models = models
        self._conversations = conversations
        self._tool_lists = tool_lists
        self._log = logger
        self.phase = "opening the MCP session"  # what was under way, for the 504's message
        self.model_name = settings.provider
        self.trace: ToolTrace | None = None  # set once the agent is built
        self._agent: Agent | None = None
        self._result: Any = None

    async def __call__(self, gateway: GatewaySession, config: GatewayConfig) -> None:
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
            cache=self._tool_lists,
        )
        self._log.info(
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
        model, self.model_name = self._models.build(settings, selection)
        self.trace = ToolTrace(selection)
        self.phase = "loading the conversation"
        conversation = self._conversations.open(settings, self._session_id)
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

    def usage(self) -> dict[str, int]:
        accumulated = self._agent.event_loop_metrics.accumulated_usage if self._agent is not None else {}
        return {
            "input_tokens": int(accumulated.get("inputTokens", 0)),
            "output_tokens": int(accumulated.get("outputTokens", 0)),
        }

    def cancelled(self) -> bool:
        return self._result is not None and self._result.stop_reason == "cancelled"

    def answer(self) -> str:
        result = self._result
        content = result.message.get("content", []) if result is not None else []
        text = "".join(block["text"] for block in content if "text" in block).strip()
        if text:
            return text
        if result is not None and str(result.stop_reason).startswith("limit_"):
            return f"(stopped: {result.stop_reason} reached before a final answer)"
        return text
