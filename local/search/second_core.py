"""Splitting one search's work over two cores.

A query's cost is torch arithmetic on one thread (the model's forward pass, then products over the
score matrix), and torch releases the GIL inside each operator. So a search can run half of a step
on one extra thread while it runs the other half itself. Two independent single-threaded halves,
not torch's two OpenMP threads: those wait on each other at every operator, which stalls when the
machine is busy (measured: p50 183 ms against 10-48 ms per query embedding under load).

There is one extra thread per process, and a search never queues behind another for it: when it is
busy, the caller does the whole step itself, as if there were one core. Nor does a search count on
a core that other processes are using: then the extra thread waits for CPU while the caller waits
for it, slower than one core alone (measured at load 2 on this 2-core machine: p50 16 ms against
13.5). So each lending measures the share of its wall time the extra thread got a CPU for; after
``STARVED_IN_A_ROW`` lendings under ``MIN_CPU_SHARE`` the extra thread is not lent for ``BACKOFF_S``,
after which the next search probes again. One starved lending is not enough: a quiet machine has
them too (a tick of another process), and backing off for each cost ~20% of the quiet p50.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")

MIN_CPU_SHARE = 0.6
STARVED_IN_A_ROW = 3
BACKOFF_S = 1.0
_MIN_JUDGED_S = 0.001


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux: honours taskset and cgroup cpusets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class SecondCore:
    """One worker thread, created on first use, lent to one caller at a time."""

    def __init__(self) -> None:
        self._free = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # created by the first lending, under _free
        self._starved_until = 0.0  # time.monotonic(): the extra thread found no free CPU lately
        self._starved_in_a_row = 0

    def both(self, here: Callable[[], A], there: Callable[[], B]) -> tuple[A, B] | None:
        """``(here(), there())``, ``there`` running on the second thread meanwhile; ``None``, and
        nothing run, when another search holds the second thread or it found no free CPU lately.

        The callables run torch or NumPy code; each must set up what is thread-local itself
        (``torch.inference_mode()``). An exception from either is raised here, after both ended.
        """
        if time.monotonic() < self._starved_until or not self._free.acquire(blocking=False):
            return None
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="agentgw-search")
            future = self._pool.submit(_with_cpu_share, there, time.perf_counter())
            try:
                first = here()
            finally:
                # Wait even if `here` failed: the thread is not lent out again until it is done.
                second, cpu_share = future.result()
            if cpu_share is None:  # too short to tell
                pass
            elif cpu_share >= MIN_CPU_SHARE:
                self._starved_in_a_row = 0
            else:
                self._starved_in_a_row += 1
                if self._starved_in_a_row >= STARVED_IN_A_ROW:
                    self._starved_in_a_row = 0
                    self._starved_until = time.monotonic() + BACKOFF_S
            return first, second
        finally:
            self._free.release()


def _with_cpu_share(fn: Callable[[], B], submitted: float) -> tuple[B, float | None]:
    """``fn()`` and the share of the time since ``submitted`` this thread spent on a CPU (``None``
    when that time is too short to tell a busy CPU from the thread's wake-up)."""
    cpu = time.thread_time()
    result = fn()
    wall = time.perf_counter() - submitted
    return result, (time.thread_time() - cpu) / wall if wall >= _MIN_JUDGED_S else None


_shared: SecondCore | None = None
_shared_lock = threading.Lock()


def second_core() -> SecondCore | None:
    """The process's second-core helper, or ``None`` when the process may use only one CPU."""
    global _shared
    if usable_cpus() < 2:
        return None
    with _shared_lock:
        if _shared is None:
            _shared = SecondCore()
        return _shared
