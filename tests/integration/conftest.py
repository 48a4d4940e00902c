"""The running local stack, shared by the integration tests (and the agent/health/bench tests).

`local_stack` starts the whole stack once for this package — emulated AWS, the HTTP front
(Cognito, gateway, extra routes) on free loopback ports, the real provisioning state machine —
and yields the `LocalStack` (`.info` has the URLs and credentials, `.aws` the emulator,
`.cognito` the signing keys). `kit` (see stackkit.py) builds extra Cognito pools, gateways and
Lambda targets in the same emulator, for tests that need a configuration provisioning does not make.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentgw_local import aws as local_aws
from agentgw_local.stack import LocalStack
from integration.stackkit import Kit


@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    stack = LocalStack(port=0, stack_name="agentgw-it", aws=local_aws._active)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def kit(local_stack: LocalStack) -> Kit:
    return Kit(local_stack)
