"""Where moto's AgentCore control plane falls short of the service, made to behave as AWS does.

UpdateGatewayTarget puts a target in UPDATING and the service then brings it back to READY;
moto sets UPDATING and has no transition out of it, so a workflow polling for READY after an
update would wait forever. Installed once per process by `EmulatedAws.start`.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.bedrockagentcorecontrol.models import GatewayTarget

        original_init = GatewayTarget.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            # Progressed like CREATING → READY (immediately, or as a test's state_manager says).
            self._transitions = [*self._transitions, ("UPDATING", "READY")]

        GatewayTarget.__init__ = __init__  # type: ignore[method-assign]
        _installed = True
