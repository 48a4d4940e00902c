"""A gateway tool as a Strands tool: the model sees a model-safe name, the gateway gets the real one.

The tool's calls go through the invocation's `GatewaySession`; its result (text, images,
embedded text resources, `structuredContent`) becomes a Strands tool result.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import mcp.types
from strands.types.tools import AgentTool, ToolGenerator, ToolResult, ToolResultContent, ToolSpec, ToolUse

from agentgw.agent.gateway_session import GatewaySession

_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


class GatewayTool(AgentTool):
    """A gateway tool as a Strands tool: the model sees `tool_name`, the gateway gets the real name."""

    def __init__(self, tool: mcp.types.Tool, gateway: GatewaySession, alias: str | None = None) -> None:
        super().__init__()
        self.mcp_tool = tool
        self._gateway = gateway
        self._name = alias or tool.name

    @property
    def tool_name(self) -> str:
        return self._name

    @property
    def tool_spec(self) -> ToolSpec:
        spec: ToolSpec = {
            "name": self._name,
            "description": self.mcp_tool.description or f"Tool which performs {self.mcp_tool.name}",
            "inputSchema": {"json": self.mcp_tool.input_schema},
        }
        if self.mcp_tool.output_schema:
            spec["outputSchema"] = {"json": self.mcp_tool.output_schema}
        return spec

    @property
    def tool_type(self) -> str:
        return "mcp"

    async def stream(
        self, tool_use: ToolUse, invocation_state: dict[str, Any], **kwargs: Any
    ) -> ToolGenerator:
        """Call the tool on the gateway; the last (only) event is the tool result."""
        tool_use_id = tool_use["toolUseId"]
        arguments = tool_use.get("input")
        try:
            result = await self._gateway.call_tool(
                self.mcp_tool.name, arguments if isinstance(arguments, dict) else None
            )
        except Exception as exc:  # a JSON-RPC error, a result off its schema, a broken connection
            yield ToolResult(
                toolUseId=tool_use_id, status="error", content=[{"text": f"Tool execution failed: {exc}"}]
            )
            return
        content = [item for item in map(_content, result.content) if item is not None]
        tool_result = ToolResult(
            toolUseId=tool_use_id, status="error" if result.is_error else "success", content=content
        )
        if result.structured_content is not None:
            tool_result["structuredContent"] = result.structured_content  # type: ignore[typeddict-unknown-key]
        yield tool_result


def _content(item: Any) -> ToolResultContent | None:
    """An MCP content item as Strands tool-result content (the gateway sends text)."""
    if isinstance(item, mcp.types.TextContent):
        return {"text": item.text}
    if isinstance(item, mcp.types.ImageContent) and item.mime_type in _IMAGE_FORMATS:
        try:
            data = base64.b64decode(item.data)
        except (binascii.Error, ValueError):
            return None
        return {"image": {"format": _IMAGE_FORMATS[item.mime_type], "source": {"bytes": data}}}  # type: ignore[typeddict-item]
    if isinstance(item, mcp.types.EmbeddedResource) and isinstance(
        item.resource, mcp.types.TextResourceContents
    ):
        return {"text": item.resource.text}
    return None
