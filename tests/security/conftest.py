"""Fixtures for the security and reliability tests: the integration package's local stack
(reused, not rebuilt: one provisioned stack for this package too) and a loopback identity
provider the test controls (keys, rotation, outages)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from integration.conftest import kit, local_stack  # noqa: F401  (fixtures reused as they are)

from security.idp import LoopbackIdp


@pytest.fixture
def idp() -> Iterator[LoopbackIdp]:
    server = LoopbackIdp().start()
    try:
        yield server
    finally:
        server.stop()
