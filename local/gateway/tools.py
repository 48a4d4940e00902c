"""The gateway's tools: `tools/list` with paging, `tools/call`, and the built-in search tool.

A call is checked here the same way for every target kind (the tool exists, its arguments
match its input schema) and then made by the tool's target kind (`targets/`). A failed call
is an `isError` result: the detail is shown only when the gateway's exception level is
DEBUG, otherwise AgentCore's generic message. The search tool
(`x_amz_bedrock_agentcore_search`, listed first when the gateway's searchType is SEMANTIC)
ranks the gateway's tools against a query, in a worker thread.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import jsonschema

from agentgw_local.gateway.catalog import SEARCH_TOOL, SEARCH_TOOL_NAME, GatewayView
from agentgw_local.gateway.jsonrpc import INVALID_PARAMS, RpcError
from agentgw_local.gateway.search_index import ToolSearch
from agentgw_local.gateway.targets.kind import ToolCall, ToolCallError
from agentgw_local.gateway.workers import WorkerPool

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 30
GENERIC_TOOL_ERROR = "An internal error occurred. Please retry later."

# A query's cost grows with its length (tokenising, clauses, BM25 terms) while the model reads at
# most 256 tokens of each clause: longer queries are refused, not searched. The bound is above the
# agent API's 8,000-character prompt, which the agent searches with.
MAX_SEARCH_QUERY_CHARS = 10_000
_SEARCH_VALIDATOR = jsonschema.Draft202012Validator(
    {
        **SEARCH_TOOL["inputSchema"],
        "properties": {"query": {"type": "string", "maxLength": MAX_SEARCH_QUERY_CHARS}},
    }
)
# Cursors this gateway issues are a few dozen characters; a longer one is not one of them (and is
# never decoded: a deeply nested one would exhaust the JSON decoder's recursion).
MAX_CURSOR_CHARS = 256


class Tools:
    """Lists and calls the tools of a gateway snapshot."""

    def __init__(self, search: ToolSearch, workers: WorkerPool, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.search = search
        self.workers = workers
        self.page_size = page_size

    def list(self, view: GatewayView, params: dict[str, Any]) -> dict[str, Any]:
        """A `tools/list` result: one page from `params.cursor` (all of them when the gateway
        disables pagination)."""
        listing = view.listing
        if view.protocol.get("disableMcpListToolsPagination"):
            return {"tools": list(listing)}
        cursor = params.get("cursor")
        start = _decode_cursor(cursor) if cursor is not None else 0
        if start > len(listing):
            raise RpcError(INVALID_PARAMS, "Invalid cursor")
        end = start + self.page_size
        result: dict[str, Any] = {"tools": list(listing[start:end])}
        if end < len(listing):
            result["nextCursor"] = _encode_cursor(end)
        return result

    async def call(self, view: GatewayView, params: dict[str, Any], request_id: str | int) -> dict[str, Any]:
        """A `tools/call` result; RpcError for an unknown tool or invalid arguments."""
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call: name is required")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "tools/call: arguments must be an object")
        if name == SEARCH_TOOL_NAME and view.search_enabled:
            return await self._search(view, arguments)
        tool = view.by_name.get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        _validate(tool.validator, arguments, name)
        call = ToolCall(tool=tool, arguments=arguments, gateway_id=view.gateway_id, request_id=request_id)
        try:
            return await tool.target.kind.call(call)
        except ToolCallError as exc:
            return _tool_error(view, exc.detail)

    async def _search(self, view: GatewayView, arguments: dict[str, Any]) -> dict[str, Any]:
        _validate(_SEARCH_VALIDATOR, arguments, SEARCH_TOOL_NAME)
        query = arguments["query"]
        try:
            tools = await self.workers.run(self.search.search, view, query)
        except Exception as exc:
            log.exception("search on gateway %s failed", view.gateway_id)
            return _tool_error(view, f"Tool search failed: {type(exc).__name__}: {exc}")
        found = {"tools": tools}
        return {
            "content": [{"type": "text", "text": json.dumps(found)}],
            "structuredContent": found,
            "isError": False,
        }


def _validate(validator: Any, arguments: dict[str, Any], name: str) -> None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        location = f" at {where}" if where else ""
        raise RpcError(INVALID_PARAMS, f"Invalid arguments for tool {name}{location}: {error.message}")


def _tool_error(view: GatewayView, detail: str) -> dict[str, Any]:
    if view.debug:
        return {"content": [{"type": "text", "text": detail}], "isError": True, "_meta": {"debug": detail}}
    return {"content": [{"type": "text", "text": GENERIC_TOOL_ERROR}], "isError": True}


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> int:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RpcError(INVALID_PARAMS, "Invalid cursor") from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise RpcError(INVALID_PARAMS, "Invalid cursor")
    return offset
