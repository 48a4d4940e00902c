"""The gateway's worker threads, for the blocking work of a request (Lambda handlers, search)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

_T = TypeVar("_T")


class WorkerPool:
    """At most `max_workers` blocking calls at once; the rest queue.

    A plain executor hop costs ~50 µs here; `anyio.to_thread.run_sync` with a CapacityLimiter
    ~200 µs, a fifth of the per-call budget at 1,000 tools/call per second.
    """

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run blocking `fn(*args)` in a worker, in a copy of the caller's context (as
        `asyncio.to_thread` does)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="agentgw-gateway")
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Stop taking work; queued calls are cancelled, running ones finish on their own."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
