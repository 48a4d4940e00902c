"""`agentgw local up` run as a user runs it, in a child process: waiting for it to be ready and
stopping it with Ctrl-C, so tests of the command read as what they check."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """The process, killed on the way out if a failed test left it running."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_until_ready(process: subprocess.Popen[str], state: Path, timeout_s: float = 240) -> None:
    """Until the stack has written its state file (it does so once it serves)."""
    deadline = time.monotonic() + timeout_s
    while not state.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "local up did not become ready"
        time.sleep(0.2)


def interrupt(process: subprocess.Popen[str], timeout_s: float = 60) -> tuple[str, str]:
    """Ctrl-C, then what the command printed (stdout, stderr) once it has stopped."""
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=timeout_s)
