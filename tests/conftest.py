"""Fixtures shared by every test package.

Emulated AWS (see local/aws.py): moto in server mode on a free loopback port, in this
process, with Step Functions executing state machines and Lambda invocations routed to the
real handlers. moto keeps its state in module globals, so one emulator runs per process.

- `emulated_aws` (module scope): starts an `EmulatedAws` for the test module and stops it
  afterwards, restoring the environment (`AWS_ENDPOINT_URL`, fake credentials, `MOTO_PORT`…).
  If another fixture already runs one in this process (e.g. a package-scoped local stack),
  that one is yielded and left running.
- `aws` (function scope): the same emulator, emptied before the test (`EmulatedAws.reset()`),
  so each test starts from an empty account. Use it when a test creates resources and counts
  them. It refuses to wipe an emulator some other fixture started (a running local stack).
- `hold_transitions(model, times)`: keep moto resources (e.g. "bedrock-agentcore-control::gateway")
  in their initial state for `times` reads before they advance; undone after the test.

    def test_something(aws):
        aws.client("ssm").put_parameter(...)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentgw_local import aws as local_aws
from agentgw_local.aws import EmulatedAws

_owned: set[int] = set()  # emulators started by `emulated_aws` (safe to reset)


@pytest.fixture(scope="module")
def emulated_aws() -> Iterator[EmulatedAws]:
    running = local_aws._active
    if running is not None:
        yield running
        return
    emulator = EmulatedAws().start()
    _owned.add(id(emulator))
    try:
        yield emulator
    finally:
        _owned.discard(id(emulator))
        emulator.stop()


@pytest.fixture
def hold_transitions() -> Iterator[Callable[[str, int], None]]:
    from moto.moto_api import state_manager

    held: list[str] = []

    def hold(model: str, times: int) -> None:
        state_manager.set_transition(model, {"progression": "manual", "times": times})
        held.append(model)

    yield hold
    for model in held:
        state_manager.unset_transition(model)


@pytest.fixture
def created_failed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`created_failed("create_gateway", **attributes)`: what that emulated AgentCore control-plane
    operation creates ends FAILED (with `attributes` set on it), as the service reports a resource
    it could not set up; undone with the test's `monkeypatch`."""
    from moto.bedrockagentcorecontrol.models import BedrockAgentCoreControlBackend

    def fail(operation: str, **attributes: Any) -> None:
        original = getattr(BedrockAgentCoreControlBackend, operation)

        def create_failing(self: Any, *args: Any, **kwargs: Any) -> Any:
            created = original(self, *args, **kwargs)
            created.status = "FAILED"
            for name, value in attributes.items():
                setattr(created, name, value)
            return created

        monkeypatch.setattr(BedrockAgentCoreControlBackend, operation, create_failing)

    return fail


@pytest.fixture
def aws(emulated_aws: EmulatedAws) -> Iterator[EmulatedAws]:
    if id(emulated_aws) not in _owned:
        pytest.fail("the `aws` fixture would wipe an emulator another fixture runs; use `emulated_aws`")
    emulated_aws.reset()
    emulated_aws._ensure_lambda_role()  # reset() removed the role the emulator's functions use
    yield emulated_aws
