"""The tool trace of one invocation: each tool call's gateway name, arguments, error flag, latency."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from strands.hooks import AfterToolCallEvent, BeforeToolCallEvent, HookProvider, HookRegistry

from agentgw.agent.tool_selection import ToolSelection


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    is_error: bool
    latency_ms: int


class ToolTrace(HookProvider):
    """Records each tool call (gateway name, arguments, error flag, latency) as it completes."""

    def __init__(self, selection: ToolSelection) -> None:
        self._selection = selection
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self.calls: list[ToolCall] = []

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeToolCallEvent, self._before)
        registry.add_callback(AfterToolCallEvent, self._after)

    def _before(self, event: BeforeToolCallEvent) -> None:
        with self._lock:
            self._started[event.tool_use["toolUseId"]] = time.monotonic()

    def _after(self, event: AfterToolCallEvent) -> None:
        use = event.tool_use
        with self._lock:
            started = self._started.pop(use["toolUseId"], None)
            elapsed = event.duration if event.duration is not None else time.monotonic() - (started or 0)
            arguments = use.get("input")
            self.calls.append(
                ToolCall(
                    name=self._selection.gateway_name(use["name"]),
                    arguments=arguments if isinstance(arguments, dict) else {"input": arguments},
                    is_error=event.exception is not None or event.result.get("status") == "error",
                    latency_ms=round(elapsed * 1000),
                )
            )

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(call) for call in self.calls]
