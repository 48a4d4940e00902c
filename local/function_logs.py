"""Where the in-process Lambda handlers' logs go when a CLI command runs them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import IO


def route_function_logs(stream: IO[str] = sys.stderr, level: int | None = None) -> Callable[[], None]:
    """Send the in-process handlers' Powertools logs to `stream` (keeps stdout for the CLI's
    output), optionally at another level. Call after the handlers are loaded (`deploy`).
    Returns a function that puts the previous streams and levels back."""
    undo: list[Callable[[], None]] = []
    names = [n for n in logging.root.manager.loggerDict if n == "agentgw" or n.startswith("agentgw")]
    for name in names:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                previous = handler.setStream(stream)
                if previous is not None:
                    undo.append(lambda h=handler, p=previous: h.setStream(p))
        if level is not None and logger.handlers:
            undo.append(lambda lg=logger, lv=logger.level: lg.setLevel(lv))
            logger.setLevel(level)

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore
