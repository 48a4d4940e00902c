"""The agent's MCP session with the gateway, on the invocation's own event loop.

Opened, used and closed inside the invocation, with no thread of its own, so nothing of it is
left to survive a Lambda freeze; cancelling the invocation's task (the deadline) cancels
whatever the session was waiting for. With a gateway that lists MCP 2026-07-28 (the stateless
revision) there is nothing to open or close on the wire: each request carries its protocol
version, so a warm invocation sends only its `tools/call`s. Which revision a gateway speaks is
learnt once (`server/discover`, else the `initialize` handshake of 2025-11-25 and earlier) and
cached per gateway URL (`TtlCache`), like the tool list.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx2
import mcp.types
from mcp import Client, ClientSession, MCPError

from agentgw.gateway import client as gateway_client

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

CLIENT_INFO = mcp.types.Implementation(name="agentgw-agent", version="1.0")

T = TypeVar("T")
R = TypeVar("R")


class ToolLoadingError(RuntimeError):
    """The gateway's tools could not be listed or searched (says what failed)."""


class GatewayTimeout(ToolLoadingError):
    """The gateway did not answer in time (opening the session)."""


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


class GatewayCaches:
    """What a warm function keeps about each gateway: its handshake and its tool list."""

    def __init__(self) -> None:
        self.handshakes: TtlCache[Handshake] = TtlCache()
        self.tool_lists: TtlCache[list[mcp.types.Tool]] = TtlCache()

    def clear(self) -> None:
        self.handshakes.clear()
        self.tool_lists.clear()


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

    async def list_tools(
        self, *, params: mcp.types.PaginatedRequestParams | None = None
    ) -> mcp.types.ListToolsResult:
        """One `tools/list` page."""
        return await self._send(self.session.list_tools(params=params))

    async def list_all_tools(self) -> list[mcp.types.Tool]:
        """Every tool, following `nextCursor`; their output schemas are learnt."""
        try:
            tools = (await gateway_client.list_all_tools(self)).tools
        except gateway_client.ListingError as exc:
            raise ToolLoadingError(f"the gateway's {exc}") from None
        self.learn(tools)
        return tools

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
    auth: httpx2.Auth,
    *,
    startup_timeout_s: float,
    handshake_ttl_s: float,
    handshakes: TtlCache[Handshake],
    traced: bool = False,
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
    # Reads are bounded by the invocation's deadline (a tool may take most of it).
    timeout = httpx2.Timeout(startup_timeout_s, read=None)
    async with (
        gateway_client.http_client(auth, timeout, traced=traced) as http,
        AsyncExitStack() as stack,
    ):
        client = Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            prior_discover=known.discover if known is not None else None,
            client_info=CLIENT_INFO,
            cache=None,  # the tool list has its own cache (GatewayCaches); nothing else is cacheable here
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
                f"could not open an MCP session with the gateway: {gateway_client.root_cause(exc)}"
            ) from exc
        session = client.session
        if known is None and session.protocol_version is not None:
            handshakes.store(url, Handshake(session.protocol_version, session.discover_result))
        yield GatewaySession(session, on_version_refused=functools.partial(handshakes.forget, url))
