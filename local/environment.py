"""Process environment overlays: set variables for the life of a local service, then put them back."""

from __future__ import annotations

import os
from collections.abc import Mapping


class EnvOverlay:
    """Variables set on top of `os.environ`, each restored to what it was by `restore()`.

    The local stack's handlers run in this process, so this is how they see emulator
    endpoints and local URLs (never secrets).
    """

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, values: Mapping[str, str | None]) -> None:
        """Set each variable; None removes it (until `restore`)."""
        for key, value in values.items():
            self._saved.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
