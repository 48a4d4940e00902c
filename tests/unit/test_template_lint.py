"""cfn-lint on template.yaml, and on every state machine definition.

cfn-lint does not open files behind `DefinitionUri`, so each `statemachine/*.asl.json` is
wrapped in an `AWS::StepFunctions::StateMachine` and linted through `cfnlint.api`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint, lint_file

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted((ROOT / "statemachine").glob("*.asl.json"))
REGIONS = ["us-east-1", "us-west-2", "eu-central-1"]


def describe(matches: list[Any]) -> list[str]:
    return [f"{m.rule.id} {m.filename}:{m.linenumber} {m.message}" for m in matches]


def test_template_lints_clean() -> None:
    matches = lint_file(ROOT / "template.yaml", config=ManualArgs(regions=REGIONS))
    assert describe(matches) == []


def wrapped(definition: dict[str, Any]) -> str:
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "StateMachine": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {
                        "StateMachineType": "STANDARD",
                        "RoleArn": "arn:aws:iam::123456789012:role/states",
                        "Definition": definition,
                    },
                }
            },
        }
    )


def test_there_are_definitions() -> None:
    assert [p.name for p in DEFINITIONS] == ["provision.asl.json"]


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_state_machine_definition_lints_clean(path: Path) -> None:
    definition = json.loads(path.read_text("utf-8"))
    matches = lint(wrapped(definition), config=ManualArgs(regions=REGIONS))
    assert describe(matches) == []


def test_the_wrapper_really_lints_definitions() -> None:
    broken = {"StartAt": "Missing", "States": {"Only": {"Type": "Pass", "Nexxt": "Nowhere"}}}
    assert lint(wrapped(broken), config=ManualArgs(regions=REGIONS)) != []
