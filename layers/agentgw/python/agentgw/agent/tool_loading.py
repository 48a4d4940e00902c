"""Which gateway tools the agent gets, and under which names.

- The MCP client (`gateway_session`) is opened per invocation, or, when the caller gives a
  `reuse_key`, an idle one from an earlier invocation is reused: opening a session costs a
  thread, an event loop, a TLS handshake and the `initialize` exchange, the bulk of a warm
  request's overhead. A kept session is reused only if it was used in the last
  `SESSION_MAX_IDLE_S` and, when idle for more than `PING_AFTER_IDLE_S`, answers a `ping` (a
  Lambda may thaw after minutes, the gateway may have dropped the session); one that failed or
  timed out (`discard_session`) is stopped.
  Each invocation brings its own auth (its one-refresh-on-401 budget); the session's
  transport delegates to it.
- The tool list (every `tools/list` page) is cached per gateway URL for a TTL, so a warm
  function lists tools once per TTL, not once per request.
- Search-first: when the gateway has more tools than a threshold, the prompt goes to the
  gateway's `x_amz_bedrock_agentcore_search` tool and only its top results reach the model.
  Its answer is read from `structuredContent` or from the JSON in `content[0].text`.
- Model-safe names: Bedrock accepts tool names of at most 64 characters from
  `[a-zA-Z0-9_-]`; longer or odd gateway names get a stable alias (prefix + hash), and the
  tool still calls the gateway under its real name.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import hashlib
import json
import logging
import re
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Hashable, Iterator
from concurrent import futures
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import mcp.types
from strands.tools.mcp import MCPClient
from strands.tools.mcp.mcp_agent_tool import MCPAgentTool

SEARCH_TOOL_NAME = "x_amz_bedrock_agentcore_search"
MODEL_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_TOOL_NAME_CHARS = 64
_HASH_CHARS = 10
CATALOG_NAMES = 20


# How long an aborted session's thread gets to end after its tasks are cancelled.
ABORT_JOIN_S = 5.0

_log = logging.getLogger(__name__)


class ToolLoadingError(RuntimeError):
    """The gateway's tools could not be listed or searched (says what failed)."""


class GatewayTimeout(ToolLoadingError):
    """The gateway did not answer in the time left (opening the session, listing, searching)."""


class _GatewayClient(MCPClient):
    """strands' MCPClient, with a startup that a hung gateway cannot hold past its timeout.

    `MCPClient.start` gives up waiting for `initialize` after its timeout, but then `stop`
    joins the background thread, which is still awaiting the gateway's answer (the transport's
    read timeout is minutes). Here `stop` first cancels what runs on the session's event loop
    while the session has not opened, so the thread ends at once. `startup_timeout` may be a
    fraction of a second (the request's deadline), not only whole seconds. Private strands names:
    pinned version.
    """

    def __init__(
        self, transport: Callable[[], AbstractAsyncContextManager[Any]], startup_timeout_s: float
    ) -> None:
        super().__init__(
            transport, startup_timeout=max(1, int(startup_timeout_s)), application_name="agentgw-agent"
        )
        self._startup_timeout = max(0.05, startup_timeout_s)  # a float works with Future.result

    def stop(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        loop = self._background_thread_event_loop
        thread = self._background_thread
        if (
            loop is not None
            and thread is not None
            and thread.is_alive()
            and self._background_thread_session is None
            and not loop.is_closed()
        ):
            # Still opening (initialize in flight): closing the session would wait for it.
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile: nothing to cancel
                loop.call_soon_threadsafe(_cancel_all_tasks, loop)
            thread.join(ABORT_JOIN_S)
            if thread.is_alive():
                _log.warning(
                    "the MCP client's thread did not end within %.0f s of cancellation", ABORT_JOIN_S
                )
                return
            # The loop has stopped: close it here, so the base class does not post its close
            # signal to a loop that will never run it (a never-awaited coroutine warning).
            self._background_thread_event_loop = None
            loop.close()
        super().stop(exc_type, exc_val, exc_tb)

    def _background_task(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # cancelled by `stop` while opening
            super()._background_task()


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()


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
class _CachedList:
    tools: list[mcp.types.Tool]
    fetched_at: float


class ToolListCache:
    """Tool lists per gateway URL, each kept for `ttl_s` seconds. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._lists: dict[str, _CachedList] = {}
        self.fetches = 0  # how many times a list was fetched from a gateway (metrics, tests)

    def get(self, key: str, ttl_s: float, fetch: Callable[[], list[mcp.types.Tool]]) -> list[mcp.types.Tool]:
        now = self._clock()
        with self._lock:
            cached = self._lists.get(key)
            # The TTL in force at read time applies, so a changed setting takes effect at once.
            if cached is not None and now - cached.fetched_at < ttl_s:
                return cached.tools
        tools = fetch()
        with self._lock:
            self.fetches += 1
            self._lists[key] = _CachedList(tools, self._clock())
        return tools

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()


TOOL_LISTS = ToolListCache()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The MCP transport's TLS context, built once per process.

    The mcp SDK builds a new default context (loading the whole CA bundle: ~50-100 ms of CPU)
    for every HTTP client, i.e. for every MCP session, i.e. for every invocation here. The
    context is the SDK's own default (same CA sources, same `SSL_CERT_*` handling), reused.
    """
    import httpcore2

    return httpcore2.default_ssl_context()


def _transport(url: str, auth: httpx.Auth) -> Callable[[], AbstractAsyncContextManager[Any]]:
    """What `MCPClient(url=…, auth_provider=…)` builds, with the TLS context reused."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
    from strands.tools.mcp._compat import _wrap_auth_for_httpx2  # strands' own adapter (pinned)

    @asynccontextmanager
    async def transport() -> AsyncIterator[Any]:
        async with (
            httpx2.AsyncClient(
                auth=_wrap_auth_for_httpx2(auth),
                verify=_tls_context(),
                follow_redirects=True,
                timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
            ) as http,
            streamable_http_client(url, http_client=http) as streams,
        ):
            yield streams

    return transport


SESSION_MAX_IDLE_S = 60.0
# A session used this recently is reused without a ping (one round trip saved per request).
PING_AFTER_IDLE_S = 5.0
PING_TIMEOUT_S = 2.0
MAX_IDLE_SESSIONS = 4  # per key: a Lambda needs one; the local stack runs invocations concurrently


class _InvocationAuth(httpx.Auth):
    """A kept session's transport auth: delegates to the auth of the invocation using it now."""

    def __init__(self, current: httpx.Auth) -> None:
        self.current = current

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self.current.auth_flow(request)


@dataclass
class _Kept:
    client: MCPClient
    auth: _InvocationAuth
    last_used: float = 0.0
    discard: bool = False


_idle: dict[Hashable, list[_Kept]] = {}
_in_use: dict[int, _Kept] = {}  # id(client) -> its record, while an invocation holds it
_sessions_lock = threading.Lock()


def discard_session(client: MCPClient) -> None:
    """Do not keep this session after the block (a call may still be in flight, or it failed)."""
    with _sessions_lock:
        kept = _in_use.get(id(client))
        if kept is not None:
            kept.discard = True


def close_idle_sessions() -> None:
    """Stop every kept session (tests; process exit)."""
    with _sessions_lock:
        idle = [kept for stack in _idle.values() for kept in stack]
        _idle.clear()
    for kept in idle:
        _stop(kept.client)


atexit.register(close_idle_sessions)


def _stop(client: MCPClient) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing more to release
        client.stop(None, None, None)


def _ping(client: MCPClient) -> bool:
    """Whether the kept session still answers (private strands/mcp names: pinned versions)."""
    try:
        session = client._background_thread_session
        if session is None or not client._is_session_active():
            return False
        client._invoke_on_background_thread(session.send_ping()).result(timeout=PING_TIMEOUT_S)
        return True
    except Exception:
        return False


def _checkout(key: Hashable, auth: httpx.Auth) -> _Kept | None:
    """The most recently used idle session for `key` that still answers; stale ones are stopped."""
    while True:
        with _sessions_lock:
            stack = _idle.get(key)
            if not stack:
                return None
            kept = stack.pop()
        idle_s = time.monotonic() - kept.last_used
        if idle_s <= SESSION_MAX_IDLE_S:
            kept.auth.current = auth
            if idle_s <= PING_AFTER_IDLE_S and kept.client._is_session_active():
                return kept
            if _ping(kept.client):
                return kept
        _stop(kept.client)


def _checkin(key: Hashable, kept: _Kept) -> None:
    kept.last_used = time.monotonic()
    with _sessions_lock:
        stack = _idle.setdefault(key, [])
        if len(stack) < MAX_IDLE_SESSIONS:
            stack.append(kept)
            return
    _stop(kept.client)


@contextmanager
def gateway_session(
    url: str, auth: httpx.Auth, *, startup_timeout_s: float, reuse_key: Hashable | None = None
) -> Iterator[MCPClient]:
    """An MCP client connected to the gateway for the duration of the block.

    Without `reuse_key` it is stopped after the block. With one, it is kept for the next block
    with the same key (unless the block raised or called `discard_session`), and an idle kept
    session is used instead of opening a new one.
    """
    kept = _checkout(reuse_key, auth) if reuse_key is not None else None
    if kept is None:
        holder = _InvocationAuth(auth)
        client = _GatewayClient(_transport(url, holder), startup_timeout_s)
        try:
            client.start()
        except Exception as exc:
            if isinstance(exc.__cause__, futures.TimeoutError):
                raise GatewayTimeout(
                    f"the gateway did not open an MCP session within {startup_timeout_s:.1f} s"
                ) from exc
            raise ToolLoadingError(
                f"could not open an MCP session with the gateway: {_root_cause(exc)}"
            ) from exc
        kept = _Kept(client, holder)
    client = kept.client
    with _sessions_lock:
        _in_use[id(client)] = kept
    keep = False
    try:
        yield client
        keep = reuse_key is not None
    finally:
        with _sessions_lock:
            _in_use.pop(id(client), None)
        if keep and not kept.discard and client._is_session_active():
            _checkin(reuse_key, kept)
        else:
            _stop(client)


def list_all_tools(client: MCPClient, deadline: float | None = None) -> list[mcp.types.Tool]:
    """Every tool, following `nextCursor` (strands' `list_tools_sync` returns one page).

    With a `deadline` (a `time.monotonic()` value) every page must arrive before it; a page that
    does not is cancelled on the session's loop and `GatewayTimeout` raised.
    """
    tools: list[mcp.types.Tool] = []
    cursor: str | None = None
    for _ in range(1000):  # 100 targets x 1000 tools / 30 a page fits with room to spare
        if deadline is None:
            page = client.list_tools_sync(cursor, prefix="", tool_filters={})
            tools.extend(tool.mcp_tool for tool in page)
            cursor = page.pagination_token
        else:
            result = _list_page(client, cursor, deadline)
            tools.extend(result.tools)
            cursor = result.next_cursor
        if not cursor:
            return tools
    raise ToolLoadingError("the gateway's tools/list did not end after 1000 pages")


def _list_page(client: MCPClient, cursor: str | None, deadline: float) -> mcp.types.ListToolsResult:
    """One `tools/list` page, awaited until `deadline` (strands' sync call waits forever)."""
    session = client._background_thread_session
    if session is None or not client._is_session_active():
        raise ToolLoadingError("the MCP session with the gateway is not open")
    params = mcp.types.PaginatedRequestParams(cursor=cursor) if cursor else None
    pending = client._invoke_on_background_thread(session.list_tools(params=params))
    try:
        return pending.result(timeout=max(0.0, deadline - time.monotonic()))
    except futures.TimeoutError:
        pending.cancel()  # cancels the request's task on the session's loop
        raise GatewayTimeout("the gateway did not answer tools/list within the deadline") from None


def search_tools(client: MCPClient, query: str, timeout_s: float | None = None) -> list[dict[str, Any]]:
    """Ask the gateway's search tool; return its tool definitions, most relevant first.

    `timeout_s` bounds the call (the request's deadline), so a slow search cannot outlast it.
    """
    result = client.call_tool_sync(
        f"search-{uuid.uuid4().hex[:8]}",
        SEARCH_TOOL_NAME,
        {"query": query},
        read_timeout_seconds=timedelta(seconds=timeout_s) if timeout_s else None,
    )
    texts = [item.get("text", "") for item in result.get("content", []) if isinstance(item, dict)]
    if result.get("status") == "error":
        raise ToolLoadingError(f"the gateway's search failed: {' '.join(texts)[:300] or 'no detail'}")
    return parse_search_result(result.get("structuredContent"), texts)


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

    tools: list[MCPAgentTool]
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


def select_tools(
    client: MCPClient,
    prompt: str,
    *,
    cache_key: str,
    ttl_s: float,
    threshold: int,
    top_k: int,
    always_search: bool = False,
    tool_timeout_s: float | None = None,
    deadline: float | None = None,
    cache: ToolListCache = TOOL_LISTS,
) -> ToolSelection:
    """The tools for this prompt: all of them, or the search's top `top_k` when there are many.

    With a `deadline` (`time.monotonic()`), listing and searching end by it (`GatewayTimeout`).
    """
    try:
        listed = cache.get(cache_key, ttl_s, lambda: list_all_tools(client, deadline))
    except ToolLoadingError:
        raise
    except Exception as exc:
        raise ToolLoadingError(f"could not list the gateway's tools: {_root_cause(exc)}") from exc
    _absorb_listing(client, listed)
    by_name = {tool.name: tool for tool in listed if tool.name != SEARCH_TOOL_NAME}
    search_available = len(by_name) < len(listed)
    chosen: list[mcp.types.Tool] = list(by_name.values())
    searched = False
    ranked: list[str] | None = None
    if search_available and (always_search or len(by_name) > threshold):
        search_timeout_s = tool_timeout_s
        if deadline is not None:
            search_timeout_s = deadline - time.monotonic()
            if search_timeout_s <= 0:
                raise GatewayTimeout("no time left to search the gateway's tools within the deadline")
        try:
            found = search_tools(client, prompt, search_timeout_s)
        except ToolLoadingError:
            if deadline is not None and time.monotonic() >= deadline:
                raise GatewayTimeout("the gateway's search did not answer within the deadline") from None
            raise
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
    timeout = timedelta(seconds=tool_timeout_s) if tool_timeout_s else None
    agent_tools: list[MCPAgentTool] = []
    names: dict[str, str] = {}
    for tool in chosen:
        alias = tool_alias(tool.name)
        if alias in names:  # two names, one alias: astronomically unlikely with a 40-bit hash
            continue
        names[alias] = tool.name
        agent_tools.append(MCPAgentTool(tool, client, name_override=alias, timeout=timeout))
    catalog = sorted(by_name)[:CATALOG_NAMES]
    return ToolSelection(agent_tools, names, len(by_name), searched, search_available, catalog, ranked)


def _absorb_listing(client: MCPClient, tools: list[mcp.types.Tool]) -> None:
    """Give this session the (cached) tool list, as if it had listed the tools itself.

    The mcp SDK checks every `tools/call` result against the tool's output schema, and a session
    that has not listed tools sends a `tools/list` first to learn it: one per invocation, which
    the cached list is there to avoid. The SDK's own response cache re-absorbs a listing the
    same way (`ClientSession._absorb_tool_listing`); both names are private to the pinned
    strands/mcp versions, so when they move this does nothing and the SDK lists as before.
    """
    session = getattr(client, "_background_thread_session", None)
    absorb = getattr(session, "_absorb_tool_listing", None)
    if absorb is None:
        return
    absorb(mcp.types.ListToolsResult(tools=list(tools)), complete=True)


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
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"[:300]
