"""Run one execution of a state machine on emulated Step Functions and follow it state by state.

moto's ASL interpreter runs the execution; its history is polled and each state entered, left or
failed is reported as it happens, so a user watching `agentgw local up` sees the workflow move.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentgw_local.aws import EmulatedAws


@dataclass(frozen=True)
class StateEvent:
    """One state entered or exited, as reported to `on_state`."""

    phase: str  # "entered" | "exited" | "failed"
    state: str
    event_type: str
    detail: str = ""

    def line(self) -> str:
        arrow = {"entered": "→", "exited": "✓", "failed": "✗"}.get(self.phase, "·")
        text = f"{arrow} {self.state} {self.phase}"
        return f"{text}: {self.detail}" if self.detail else text


_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def run_execution(
    aws: EmulatedAws,
    state_machine_arn: str,
    execution_input: Mapping[str, Any],
    *,
    on_state: Callable[[StateEvent], None] | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.05,
) -> tuple[dict[str, Any], list[StateEvent], list[dict[str, Any]]]:
    """Start an execution and follow its history; return (describe_execution, events, history)."""
    sfn = aws.client("stepfunctions")
    name = f"local-{execution_input['action']}-{time.time_ns()}"
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
    )["executionArn"]
    seen = 0
    events: list[StateEvent] = []
    history: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        done = described["status"] in _TERMINAL
        history = _history(sfn, execution_arn)
        for event in history[seen:]:
            state_event = _state_event(event)
            if state_event is not None:
                events.append(state_event)
                if on_state is not None:
                    on_state(state_event)
        seen = len(history)
        if done:
            return described, events, history
        if time.monotonic() > deadline:
            sfn.stop_execution(
                executionArn=execution_arn, error="LocalTimeout", cause="local run took too long"
            )
            raise TimeoutError(f"execution {execution_arn} did not finish within {timeout_s:.0f} s")
        time.sleep(poll_s)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    events.sort(key=lambda e: e["id"])
    return events


def _state_event(event: Mapping[str, Any]) -> StateEvent | None:
    kind = str(event["type"])
    if kind.endswith("StateEntered"):
        return StateEvent("entered", event["stateEnteredEventDetails"]["name"], kind)
    if kind.endswith("StateExited"):
        return StateEvent("exited", event["stateExitedEventDetails"]["name"], kind)
    if kind in ("ExecutionFailed", "TaskFailed", "LambdaFunctionFailed"):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
        return StateEvent("failed", kind, kind, _short_error(details))
    return None


def _short_error(details: Mapping[str, Any]) -> str:
    error = str(details.get("error") or "")
    cause = str(details.get("cause") or "")
    try:
        decoded = json.loads(cause)
        if isinstance(decoded, dict):
            cause = str(decoded.get("errorMessage") or cause)
    except json.JSONDecodeError:
        pass
    return f"{error}: {cause}"[:500] if cause else error


def failure_reason(history: list[dict[str, Any]]) -> str | None:
    """Why the execution failed: the error the workflow reported (ReportFailure's input),
    else the first step failure in the history."""
    from agentgw.provisioning.cfn_response import error_reason

    for event in history:
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") == "ReportFailure":
            state = json.loads(details.get("input") or "{}")
            if state.get("error"):
                return error_reason(state["error"])
    for event in history:
        if event["type"] in ("TaskFailed", "LambdaFunctionFailed"):
            found = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
            return _short_error(found)
    return None
