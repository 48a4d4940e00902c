"""layers/agentgw/requirements.txt (what `sam build` installs into the layer) stays generated
from pyproject.toml's runtime pins, with every version equal to constraints.txt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "agentgw"


def pins(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            result[name.lower().replace("_", "-")] = version
    return result


def test_requirements_are_generated_from_pyproject() -> None:
    generated = subprocess.run(
        [sys.executable, str(LAYER / "gen_requirements.py")], capture_output=True, text=True, check=True
    ).stdout
    assert (LAYER / "requirements.txt").read_text("utf-8") == generated, (
        "regenerate: make -C layers/agentgw requirements.txt PYTHON=../../.venv/bin/python"
    )


def test_every_layer_pin_matches_constraints() -> None:
    layer = pins((LAYER / "requirements.txt").read_text("utf-8"))
    constraints = pins((ROOT / "constraints.txt").read_text("utf-8"))
    assert {"boto3", "aws-lambda-powertools", "strands-agents", "mcp"} <= set(layer)
    assert {name: v for name, v in layer.items() if constraints.get(name) != v} == {}
