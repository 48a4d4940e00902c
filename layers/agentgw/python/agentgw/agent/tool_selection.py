"""Which gateway tools the agent gets for a prompt, and under which names.

- The tool list (every `tools/list` page) is cached per gateway URL for a TTL, so a warm
  function lists tools once per TTL, not once per request. The session learns the tools'
  output schemas from that list, so checking a `tools/call` result needs no `tools/list`.
- Search-first: when the gateway has more tools than a threshold, the prompt goes to the
  gateway's search tool (`agentgw.gateway.SEARCH_TOOL_NAME`) and only its top results reach
  the model.
- Model-safe names: Bedrock accepts tool names of at most 64 characters from
  `[a-zA-Z0-9_-]`; longer or odd gateway names get a stable alias (prefix + hash), and the
  tool (`GatewayTool`) still calls the gateway under its real name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import mcp.types
from mcp import MCPError

from agentgw.agent.gateway_session import GatewaySession, ToolLoadingError, TtlCache
from agentgw.agent.gateway_tools import GatewayTool
from agentgw.gateway import SEARCH_TOOL_NAME, TOOL_NAME_SEPARATOR
from agentgw.gateway.client import SearchResultError, root_cause, texts_of
from agentgw.gateway.client import parse_search_result as _parse

MODEL_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_TOOL_NAME_CHARS = 64
_HASH_CHARS = 10
CATALOG_NAMES = 20


def tool_alias(name: str) -> str:
    """The name the model sees: the gateway name when Bedrock accepts it, else a stable alias."""
    if MODEL_TOOL_NAME.match(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    readable = re.sub(r"[^a-zA-Z0-9_-]+", "_", name).strip("_") or "tool"
    # Keep the tool's own name (after the separator) readable, since that is what tells the model most.
    _, sep, tool = readable.rpartition(TOOL_NAME_SEPARATOR)
    stem = tool if sep else readable
    keep = MAX_TOOL_NAME_CHARS - _HASH_CHARS - 1
    return f"{stem[-keep:].lstrip('_-') or 'tool'}_{digest}"


async def search_tools(gateway: GatewaySession, query: str) -> list[dict[str, Any]]:
    """Ask the gateway's search tool; return its tool definitions, most relevant first."""
    try:
        result = await gateway.call_tool(SEARCH_TOOL_NAME, {"query": query})
    except (MCPError, RuntimeError) as exc:
        raise ToolLoadingError(f"the gateway's search failed: {root_cause(exc)}") from exc
    texts = texts_of(result.content)
    if result.is_error:
        raise ToolLoadingError(f"the gateway's search failed: {' '.join(texts)[:300] or 'no detail'}")
    return parse_search_result(result.structured_content, texts)


def parse_search_result(structured: Any, texts: list[str]) -> list[dict[str, Any]]:
    """`{"tools": [...]}` from structuredContent, else from the JSON text of content[0]."""
    try:
        return _parse(structured, texts)
    except SearchResultError as exc:
        if exc.not_json:
            raise ToolLoadingError("the gateway's search answered text that is not JSON") from None
        raise ToolLoadingError('the gateway\'s search answer has no "tools" list') from None


@dataclass
class ToolSelection:
    """The tools offered to the model for one request."""

    tools: list[GatewayTool]
    names: dict[str, str] = field(default_factory=dict)  # model-facing alias -> gateway name
    total: int = 0  # tools on the gateway (search tool excluded)
    searched: bool = False
    search_available: bool = False
    catalog: list[str] = field(default_factory=list)  # a few gateway tool names, for "no tool fits" answers
    ranked: list[str] | None = None  # model-facing names the search found, most relevant first

    @property
    def ranking(self) -> list[str]:
        """Model-facing names by relevance: the search's order when searched, else as offered."""
        return list(self.ranked) if self.ranked is not None else [tool.tool_name for tool in self.tools]

    def gateway_name(self, alias: str) -> str:
        return self.names.get(alias, alias)


async def select_tools(
    gateway: GatewaySession,
    prompt: str,
    *,
    cache_key: str,
    ttl_s: float,
    threshold: int,
    top_k: int,
    always_search: bool = False,
    cache: TtlCache[list[mcp.types.Tool]],
) -> ToolSelection:
    """The tools for this prompt: all of them, or the search's top `top_k` when there are many.

    Time limits are the caller's: cancelling the task stops listing and searching.
    """
    listed = cache.lookup(cache_key, ttl_s)
    if listed is None:
        try:
            listed = await gateway.list_all_tools()
        except ToolLoadingError:
            raise
        except (MCPError, RuntimeError, ValueError) as exc:
            raise ToolLoadingError(f"could not list the gateway's tools: {root_cause(exc)}") from exc
        cache.store(cache_key, listed)
    else:
        gateway.learn(listed)
    by_name = {tool.name: tool for tool in listed if tool.name != SEARCH_TOOL_NAME}
    search_available = len(by_name) < len(listed)
    chosen: list[mcp.types.Tool] = list(by_name.values())
    searched = False
    ranked: list[str] | None = None
    if search_available and (always_search or len(by_name) > threshold):
        found = await search_tools(gateway, prompt)
        searched = True
        chosen = []
        for entry in found:
            if entry["name"] == SEARCH_TOOL_NAME or any(t.name == entry["name"] for t in chosen):
                continue
            tool = by_name.get(entry["name"]) or _tool_from_search(entry)
            chosen.append(tool)
            if len(chosen) >= top_k:
                break
        ranked = [tool_alias(tool.name) for tool in chosen]
        if len(by_name) <= threshold:
            # Searched only for the ranking (few tools): keep the rest available too, so a
            # follow-up like "and in Paris?" can reuse the tool of the previous turn.
            chosen += [tool for name, tool in by_name.items() if all(t.name != name for t in chosen)]
    agent_tools: list[GatewayTool] = []
    names: dict[str, str] = {}
    for tool in chosen:
        alias = tool_alias(tool.name)
        if alias in names:  # two names, one alias: astronomically unlikely with a 40-bit hash
            continue
        names[alias] = tool.name
        agent_tools.append(GatewayTool(tool, gateway, alias))
    catalog = sorted(by_name)[:CATALOG_NAMES]
    return ToolSelection(agent_tools, names, len(by_name), searched, search_available, catalog, ranked)


def _tool_from_search(entry: dict[str, Any]) -> mcp.types.Tool:
    schema = entry.get("inputSchema")
    return mcp.types.Tool.model_validate(
        {
            "name": entry["name"],
            "description": entry.get("description") or "",
            "inputSchema": schema if isinstance(schema, dict) else {"type": "object"},
        }
    )
