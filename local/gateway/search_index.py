"""The built-in search tool's index: one per gateway, over that gateway's tools.

The index (`agentgw_local.search.ToolIndex`) is kept per gateway and updated incrementally
when a search runs: only the tools whose definitions changed since the last search are
re-embedded, and nothing at all while the gateway's snapshot is unchanged. Searching and
indexing block (model passes): call them off the event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from agentgw_local.gateway.catalog import GatewayView

SEARCH_RESULTS = 10
SEARCH_RESULT_FIELDS = ("name", "description", "inputSchema")


class ToolSearch:
    """Ranks a gateway's tools against a query."""

    def __init__(self, index_factory: Callable[[], Any] | None = None) -> None:
        self._index_factory = index_factory
        self._states: dict[str, _IndexState] = {}
        self._lock = threading.Lock()

    def search(self, view: GatewayView, query: str, k: int = SEARCH_RESULTS) -> list[dict[str, Any]]:
        """The `k` tools of `view` most relevant to `query`."""
        state = self._state(view.gateway_id)
        with state.lock:
            state.sync(view)
            # AgentCore's search answers with the definition fields only (no outputSchema).
            return [
                {key: tool[key] for key in SEARCH_RESULT_FIELDS if key in tool}
                for tool in state.index.search(query, k=k)
            ]

    def warm(self, view: GatewayView) -> None:
        """Build the gateway's index now, so that its first search is fast."""
        state = self._state(view.gateway_id)
        with state.lock:
            state.sync(view)

    def _state(self, gateway_id: str) -> _IndexState:
        with self._lock:
            state = self._states.get(gateway_id)
            if state is None:
                state = _IndexState(self._make_index())
                self._states[gateway_id] = state
            return state

    def _make_index(self) -> Any:
        if self._index_factory is not None:
            return self._index_factory()
        from agentgw_local.search import ToolIndex  # loads the embedding model's libraries

        return ToolIndex()


class _IndexState:
    """One gateway's index and the tool definitions it holds."""

    def __init__(self, index: Any) -> None:
        self.index = index
        self.indexed: dict[str, str] = {}  # name -> canonical JSON of the indexed definition
        self.fingerprint: tuple[Any, ...] | None = None
        self.lock = threading.Lock()

    def sync(self, view: GatewayView) -> None:
        if self.fingerprint == view.fingerprint:
            return
        current = {tool.name: tool.definition for tool in view.tools}
        canonical = {name: json.dumps(defn, sort_keys=True) for name, defn in current.items()}
        gone = [name for name in self.indexed if name not in current]
        changed = [current[name] for name, text in canonical.items() if self.indexed.get(name) != text]
        if gone:
            self.index.remove(gone)
        if changed:
            self.index.upsert(changed)
        self.indexed = canonical
        self.fingerprint = view.fingerprint
