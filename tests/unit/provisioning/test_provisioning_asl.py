"""The state machine definition's contract with the handlers and the template."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentgw.provisioning.errors import RETRYABLE_ERRORS
from agentgw_local.template import Template

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = json.loads((ROOT / "statemachine" / "provision.asl.json").read_text("utf-8"))
TERMINAL_FAILURE_HANDLERS = {"Rollback", "ReportFailure", "ReportUndelivered"}


def all_states(states: dict[str, Any] = DEFINITION["States"]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"]["States"])


def tasks() -> list[tuple[str, dict[str, Any]]]:
    return [(name, state) for name, state in all_states() if state["Type"] == "Task"]


def test_every_task_retries_transient_errors_with_backoff_and_jitter() -> None:
    for name, state in tasks():
        retriers = state.get("Retry", [])
        assert retriers, f"{name} has no Retry"
        for retrier in retriers:
            assert retrier["BackoffRate"] > 1, name
            assert retrier.get("JitterStrategy") == "FULL", name
        if not name.startswith("Report"):
            assert set(RETRYABLE_ERRORS) <= set(retriers[0]["ErrorEquals"]), name


def test_validation_and_catch_all_errors_are_never_retried() -> None:
    for name, state in tasks():
        for retrier in state["Retry"]:
            retried = set(retrier["ErrorEquals"])
            assert not retried & {"ValidationException", "States.ALL", "States.TaskFailed", "InvalidInput"}, (
                name
            )


def test_every_failure_path_reaches_a_report() -> None:
    top = DEFINITION["States"]
    for name, state in top.items():
        if state["Type"] in ("Task", "Map"):
            catchers = state.get("Catch", [])
            assert catchers and catchers[-1]["ErrorEquals"] == ["States.ALL"], f"{name} can fail uncaught"
            assert catchers[-1]["Next"] in TERMINAL_FAILURE_HANDLERS, name
    assert top["Rollback"]["Next"] == "ReportFailure"
    assert top["Rollback"]["Catch"][0]["Next"] == "ReportFailure"
    assert top["ReportFailure"]["Next"] == "Failed"


def test_waits_come_from_the_execution_input() -> None:
    waits = [state for _, state in all_states() if state["Type"] == "Wait"]
    assert waits and all(
        w == {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": w["Next"]} for w in waits
    )


def test_substitutions_match_the_template_and_the_handlers() -> None:
    text = json.dumps(DEFINITION)
    used = set(re.findall(r"\$\{(\w+)\}", text))
    template = Template()
    machine = template.resources["ProvisionStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachine/provision.asl.json"
    substitutions = machine["DefinitionSubstitutions"]
    assert used == set(substitutions)
    functions = template.functions()
    for key, value in substitutions.items():
        logical_id = value["Fn::GetAtt"][0] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"]
        logical_id = logical_id.split(".")[0]
        assert key == f"{logical_id}Arn"
        assert callable(functions[logical_id].load_handler())


def test_one_function_per_step() -> None:
    handlers = [
        Template().functions()[f"{key[: -len('FunctionArn')]}Function"].handler
        for key in Template().resources["ProvisionStateMachine"]["Properties"]["DefinitionSubstitutions"]
    ]
    assert len(handlers) == len(set(handlers))
