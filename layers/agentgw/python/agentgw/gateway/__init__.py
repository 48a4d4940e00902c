"""The client side of an AgentCore Gateway, shared by the agent, the health check and the CLI.

- this package: the names every gateway gives (the search tool, the target/tool separator).
- `auth`: the Bearer token on every MCP request, as an `httpx2.Auth` (httpx2 is the mcp
  SDK's HTTP client), with one refresh and retry on a 401 when the token source can refresh.
- `client`: the HTTP client and MCP session (the mcp SDK's streamable HTTP client), every
  `tools/list` page, and the search tool's answer parsed.
- `tracing`: the gateway's HTTP calls as X-Ray subsegments.

Only the names are imported here, so a module that needs a name does not load the MCP client.
"""

from __future__ import annotations

# The gateway's semantic search tool (listed when the gateway's search type is SEMANTIC).
SEARCH_TOOL_NAME = "x_amz_bedrock_agentcore_search"
# Gateway tool names are `{target name}___{tool name}`.
TOOL_NAME_SEPARATOR = "___"
# A gateway holds at most 100 targets x 1000 tools, 30 a page: this many pages leaves room.
MAX_LIST_PAGES = 1000

__all__ = ["MAX_LIST_PAGES", "SEARCH_TOOL_NAME", "TOOL_NAME_SEPARATOR"]
