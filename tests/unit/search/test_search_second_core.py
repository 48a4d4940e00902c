"""SecondCore: half of a search's work on one extra thread, never queued behind another search."""

from __future__ import annotations

import threading
import time

import pytest

from agentgw_local.search.second_core import STARVED_IN_A_ROW, SecondCore, second_core, usable_cpus


def test_the_second_callable_runs_on_another_thread_at_the_same_time() -> None:
    core = SecondCore()
    both_running = threading.Barrier(2, timeout=10)  # breaks unless the two run concurrently

    def here() -> str:
        both_running.wait()
        return threading.current_thread().name

    def there() -> str:
        both_running.wait()
        return threading.current_thread().name

    first, second = core.both(here, there)
    assert first == threading.current_thread().name
    assert second.startswith("agentgw-search") and second != first


def test_a_busy_second_core_runs_nothing_and_says_so() -> None:
    core = SecondCore()
    ran: list[str] = []
    with core._free:  # lent to another search: the caller does the whole step itself
        assert core.both(lambda: ran.append("here"), lambda: ran.append("there")) is None
    assert ran == []
    assert core.both(lambda: 1, lambda: 2) == (1, 2)


def test_a_second_thread_that_found_no_cpu_is_not_lent_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load from other processes the extra thread waits for a CPU while the caller waits for
    it: slower than one core. STARVED_IN_A_ROW lendings where it was on a CPU for under
    MIN_CPU_SHARE of the time (here: asleep, as a thread that gets no CPU) stop the lending for
    BACKOFF_S; fewer do not."""
    core = SecondCore()
    for _ in range(STARVED_IN_A_ROW):
        assert core.both(lambda: 1, lambda: time.sleep(0.02)) == (1, None)  # still answered
    assert core.both(lambda: 1, lambda: 2) is None  # backing off: the caller goes alone
    monkeypatch.setattr(core, "_starved_until", time.monotonic() - 1)  # BACKOFF_S later
    assert core.both(lambda: 1, lambda: 2) == (1, 2)  # lent again


def test_errors_are_raised_after_both_ended_and_the_core_is_lent_again() -> None:
    core = SecondCore()
    there_done = threading.Event()

    def failing_here() -> None:
        raise ValueError("here failed")

    def slow_there() -> None:
        there_done.wait(0.05)
        there_done.set()

    with pytest.raises(ValueError, match="here failed"):
        core.both(failing_here, slow_there)
    assert there_done.is_set()  # waited for, not left running
    with pytest.raises(RuntimeError, match="there failed"):
        core.both(lambda: 1, lambda: (_ for _ in ()).throw(RuntimeError("there failed")))
    assert core.both(lambda: "a", lambda: "b") == ("a", "b")  # released after each failure


def test_one_shared_helper_when_two_cpus_are_usable() -> None:
    if usable_cpus() < 2:
        assert second_core() is None
    else:
        assert second_core() is second_core() is not None
