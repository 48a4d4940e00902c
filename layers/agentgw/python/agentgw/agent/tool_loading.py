"""Which gateway tools the agent gets, under which names, and the MCP session that calls them.

- The MCP session (`open_gateway_session`) lives on the invocation's own event loop: opened,
  used and closed inside the invocation, with no thread of its own, so nothing of it is left to
  survive a Lambda freeze. Cancelling the invocation's task (the deadline) cancels whatever the
  session was waiting for. With a gateway that lists MCP 2026-07-28 (the stateless revision)
  there is nothing to open or close on the wire: each request carries its protocol version, so
  a warm invocation sends only its `tools/call`s. Which revision a gateway speaks is learnt once
  (`server/discover`, else the `initialize` handshake of 2025-11-25 and earlier) and cached per
  gateway URL like the tool list.
- The tool list (every `tools/list` page) is cached per gateway URL for a TTL, so a warm
  function lists tools once per TTL, not once per request. The session learns the tools'
  output schemas from that list, so checking a `tools/call` result needs no `tools/list`.
- Search-first: when the gateway has more tools than a threshold, the prompt goes to the
  gateway's `x_amz_bedrock_agentcore_search` tool and only its top results reach the model.
  Its answer is read from `structuredContent` or from the JSON in `content[0].text`.
- Model-safe names: Bedrock accepts tool names of at most 64 characters from
  `[a-zA-Z0-9_-]`; longer or odd gateway names get a stable alias (prefix + hash), and the
  tool (`GatewayTool`, a Strands `AgentTool`) still calls the gateway under its real name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx2  # the mcp SDK's HTTP client (imported by `mcp` anyway)
import mcp.types
from mcp import Client, ClientSession, MCPError
from strands.types.tools import AgentTool, ToolGenerator, ToolResult, ToolResultContent, ToolSpec, ToolUse

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SEARCH_TOOL_NAME = "x_amz_bedrock_agentcore_search"
MODEL_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_TOOL_NAME_CHARS = 64
_HASH_CHARS = 10
CATALOG_NAMES = 20
MAX_LIST_PAGES = 1000  # 100 targets x 1000 tools / 30 a page fits with room to spare
CLIENT_INFO = mcp.types.Implementation(name="agentgw-agent", version="1.0")
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

_log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class ToolLoadingError(RuntimeError):
    """The gateway's tools could not be listed or searched (says what failed)."""


class GatewayTimeout(ToolLoadingError):
    """The gateway did not answer in time (opening the session)."""


def tool_alias(name: str) -> str:
    """The name the model sees: the gateway name when Bedrock accepts it, else a stable alias."""
    if MODEL_TOOL_NAME.match(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    readable = re.sub(r"[^a-zA-Z0-9_-]+", "_", name).strip("_") or "tool"
    # Keep the tool's own name (after `___`) readable, since that is what tells the model most.
    _, sep, tool = readable.rpartition("___")
    stem = tool if sep else readable
    keep = MAX_TOOL_NAME_CHARS - _HASH_CHARS - 1
    return f"{stem[-keep:].lstrip('_-') or 'tool'}_{digest}"


@dataclass
class _Cached(Generic[T]):
    value: T
    stored_at: float


class TtlCache(Generic[T]):
    """Values per gateway URL, each kept for a TTL given at lookup. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, _Cached[T]] = {}
        self.fetches = 0  # how many values were fetched from a gateway and stored (metrics, tests)

    def lookup(self, key: str, ttl_s: float) -> T | None:
        """The cached value if younger than `ttl_s` (the TTL in force now: a new setting applies at once)."""
        now = self._clock()
        with self._lock:
            cached = self._values.get(key)
            if cached is not None and now - cached.stored_at < ttl_s:
                return cached.value
        return None

    def store(self, key: str, value: T) -> None:
        with self._lock:
            self.fetches += 1
            self._values[key] = _Cached(value, self._clock())

    def forget(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


@dataclass(frozen=True)
class Handshake:
    """How a gateway was last opened: the revision it speaks and, for 2026, its discover result."""

    version: str
    discover: mcp.types.DiscoverResult | None  # None: the `initialize` handshake (2025-11-25 and earlier)


TOOL_LISTS: TtlCache[list[mcp.types.Tool]] = TtlCache()
HANDSHAKES: TtlCache[Handshake] = TtlCache()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The MCP transport's TLS context, built once per process.

    Building a default context loads the whole CA bundle (~50-100 ms of CPU); the mcp SDK would
    build one per HTTP client, i.e. per session, i.e. per invocation. This is the same default
    context (same CA sources, same `SSL_CERT_*` handling), reused.
    """
    import httpcore2

    return httpcore2.default_ssl_context()


class _Auth(Protocol):
    """What the transport needs of the invocation's auth (`credentials.GatewayBearerAuth`)."""

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]: ...


class _BearerAuth(httpx2.Auth):
    """The invocation's auth flow, driven natively by httpx2.

    `GatewayBearerAuth.auth_flow` only sets the Authorization header and reads the status code,
    which httpx2's request and response objects have too; no per-request translation between
    the httpx and httpx2 models is needed.
    """

    def __init__(self, auth: _Auth) -> None:
        self._auth = auth

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        return self._auth.auth_flow(request)


class GatewaySession:
    """An open MCP session with the gateway, used from the invocation's event loop.

    `call_tool` checks a successful result against the tool's output schema, as the SDK's
    `ClientSession.call_tool` does, but takes the schemas from the (cached) tool list it was
    given (`learn`) instead of sending a `tools/list` on every new session. A request the
    gateway refuses for its protocol version calls `on_version_refused` (the cached handshake
    is dropped, so the next invocation negotiates again).
    """

    def __init__(self, session: ClientSession, on_version_refused: Callable[[], None] | None = None) -> None:
        self.session = session
        self._on_version_refused = on_version_refused
        self._output_schemas: dict[str, dict[str, Any] | None] = {}
        self._validators: dict[str, Validator] = {}

    async def _send(self, request: Awaitable[R]) -> R:
        try:
            return await request
        except MCPError as exc:
            if exc.code == mcp.types.UNSUPPORTED_PROTOCOL_VERSION and self._on_version_refused is not None:
                self._on_version_refused()
            raise

    def learn(self, tools: list[mcp.types.Tool]) -> None:
        for tool in tools:
            self._output_schemas[tool.name] = tool.output_schema

    async def list_all_tools(self) -> list[mcp.types.Tool]:
        """Every tool, following `nextCursor`."""
        tools: list[mcp.types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            params = mcp.types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self._send(self.session.list_tools(params=params))
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                self.learn(tools)
                return tools
        raise ToolLoadingError(f"the gateway's tools/list did not end after {MAX_LIST_PAGES} pages")

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> mcp.types.CallToolResult:
        params = mcp.types.CallToolRequestParams(name=name, arguments=arguments)
        result = await self._send(
            self.session.send_request(mcp.types.CallToolRequest(params=params), mcp.types.CallToolResult)
        )
        if not result.is_error:
            self._validate(name, result)
        return result

    def _validate(self, name: str, result: mcp.types.CallToolResult) -> None:
        schema = self._output_schemas.get(name)
        if schema is None:  # no output schema, or a tool only the search returned: nothing to check
            return
        if result.structured_content is None:
            raise RuntimeError(f"Tool {name} has an output schema but did not return structured content")
        validator = self._validators.get(name)
        if validator is None:
            from jsonschema.validators import validator_for

            cls = validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[name] = cls(schema)
        from jsonschema.exceptions import best_match

        error = best_match(validator.iter_errors(result.structured_content))
        if error is not None:
            raise RuntimeError(f"Invalid structured content returned by tool {name}: {error.message}")


@asynccontextmanager
async def open_gateway_session(
    url: str,
    auth: _Auth,
    *,
    startup_timeout_s: float,
    handshake_ttl_s: float,
    handshakes: TtlCache[Handshake] = HANDSHAKES,
) -> AsyncIterator[GatewaySession]:
    """An MCP session with the gateway for the duration of the block.

    A gateway known (within `handshake_ttl_s`) to speak 2026-07-28 is used at once: its cached
    discover result is adopted, nothing is sent before the first real request, and there is no
    session to close. Otherwise the SDK's automatic negotiation runs (`server/discover`, falling
    back to `initialize` on a gateway that does not list 2026-07-28) and its outcome is cached:
    such a gateway gets `initialize` directly next time, and its session is closed (`DELETE`)
    after the block. The spec lets a client pin a 2026 revision without probing; a gateway that
    stops accepting it answers -32022, which drops the cached handshake.

    Raises `GatewayTimeout` when the negotiation is not answered within `startup_timeout_s`,
    and `ToolLoadingError` when no session can be opened.
    """
    from mcp.client.streamable_http import streamable_http_client

    known = handshakes.lookup(url, handshake_ttl_s)
    mode = "auto" if known is None else known.version if known.discover is not None else "legacy"
    async with (
        httpx2.AsyncClient(
            auth=_BearerAuth(auth),
            verify=_tls_context(),
            follow_redirects=True,
            # Reads are bounded by the invocation's deadline (a tool may take most of it).
            timeout=httpx2.Timeout(startup_timeout_s, read=None),
        ) as http,
        AsyncExitStack() as stack,
    ):
        client = Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            prior_discover=known.discover if known is not None else None,
            client_info=CLIENT_INFO,
            cache=None,  # the tool list has its own cache (TOOL_LISTS); nothing else is cacheable here
        )
        try:
            async with asyncio.timeout(startup_timeout_s):
                await stack.enter_async_context(client)
        except TimeoutError:
            raise GatewayTimeout(
                f"the gateway did not open an MCP session within {startup_timeout_s:.1f} s"
            ) from None
        except Exception as exc:
            raise ToolLoadingError(
                f"could not open an MCP session with the gateway: {_root_cause(exc)}"
            ) from exc
        session = client.session
        if known is None and session.protocol_version is not None:
            handshakes.store(url, Handshake(session.protocol_version, session.discover_result))
        yield GatewaySession(session, on_version_refused=functools.partial(handshakes.forget, url))


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


async def search_tools(gateway: GatewaySession, query: str) -> list[dict[str, Any]]:
    """Ask the gateway's search tool; return its tool definitions, most relevant first."""
    try:
        result = await gateway.call_tool(SEARCH_TOOL_NAME, {"query": query})
    except (MCPError, RuntimeError) as exc:
        raise ToolLoadingError(f"the gateway's search failed: {_root_cause(exc)}") from exc
    texts = [item.text for item in result.content if isinstance(item, mcp.types.TextContent)]
    if result.is_error:
        raise ToolLoadingError(f"the gateway's search failed: {' '.join(texts)[:300] or 'no detail'}")
    return parse_search_result(result.structured_content, texts)


def parse_search_result(structured: Any, texts: list[str]) -> list[dict[str, Any]]:
    """`{"tools": [...]}` from structuredContent, else from the JSON text of content[0]."""
    payload: Any = structured if isinstance(structured, dict) and "tools" in structured else None
    if payload is None and texts:
        try:
            payload = json.loads(texts[0])
        except ValueError:
            raise ToolLoadingError("the gateway's search answered text that is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("tools"), list):
        raise ToolLoadingError('the gateway\'s search answer has no "tools" list')
    tools = [t for t in payload["tools"] if isinstance(t, dict) and isinstance(t.get("name"), str)]
    return tools


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
    cache: TtlCache[list[mcp.types.Tool]] = TOOL_LISTS,
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
            raise ToolLoadingError(f"could not list the gateway's tools: {_root_cause(exc)}") from exc
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


def _root_cause(exc: BaseException) -> str:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        elif exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            break
    return f"{type(exc).__name__}: {exc}"[:300]
