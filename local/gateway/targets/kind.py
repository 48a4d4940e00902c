"""The interface between the gateway and one kind of target.

AgentCore serves several kinds of target behind one gateway (Lambda functions, OpenAPI
APIs, MCP servers, ...); each is configured under its own key of a target's
`targetConfiguration.mcp` (`lambda`, `openApiSchema`, `mcpServer`, ...). In the local gateway
a kind is one module implementing `TargetKind`: it says which tools a target's configuration
declares, and makes a call to one of them. Everything around that is the gateway's and the
same for every kind: tool name prefixing (`{target}___{tool}`), argument validation against
the input schema, paging, search, and how a failed call is reported (`isError`, with the
detail shown only to a gateway whose exception level is DEBUG).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agentgw_local.gateway.catalog import Tool


class UnservableTarget(Exception):
    """The local gateway cannot serve this target's configuration; the message says why."""


class ToolCallError(Exception):
    """A tool call failed; `detail` says how (shown to the caller only at exception level DEBUG)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Target:
    """One gateway target as the control plane holds it, with the kind that serves it."""

    target_id: str
    name: str
    kind: TargetKind
    config: Mapping[str, Any]  # targetConfiguration.mcp[kind.config_key]


@dataclass(frozen=True)
class ToolCall:
    """One validated tools/call for a target's tool."""

    tool: Tool  # tool.name is prefixed ({target}___{tool}); tool.target is where it lives
    arguments: dict[str, Any]  # already valid against the tool's input schema
    gateway_id: str
    request_id: str | int  # the JSON-RPC request's id


class TargetKind(Protocol):
    """How the gateway serves one kind of target."""

    @property
    def config_key(self) -> str:
        """This kind's key under a target's `targetConfiguration.mcp` (e.g. `lambda`)."""
        ...

    def tools(self, name: str, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The tool definitions that target `name`'s configuration declares, with their own
        (unprefixed) names: `name`, `description`, `inputSchema`, optionally `outputSchema`.

        Called on the event loop when the catalog rebuilds a gateway's snapshot, so it must not
        block on I/O. Raise UnservableTarget when this configuration cannot be served locally.
        """
        ...

    async def call(self, call: ToolCall) -> dict[str, Any]:
        """Make the call and return its MCP `CallToolResult` (`content`, `isError`, optionally
        `structuredContent`). Raise ToolCallError when the call fails (the target is missing,
        errs or times out); the gateway turns that into an `isError` result.

        Runs on the event loop: blocking work belongs in the gateway's worker pool.
        """
        ...
