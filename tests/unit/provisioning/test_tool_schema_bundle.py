"""Schema files kept beside function code reach the layer, where provisioning reads them on Lambda."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from agentgw.provisioning import tool_schemas
from agentgw.provisioning.errors import InvalidInput

LAYER = Path(__file__).resolve().parents[3] / "layers" / "agentgw"


def load_bundler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_tool_schemas", LAYER / "bundle_tool_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_layer_build_bundles_functions_schema_files_and_lambda_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "functions" / "clock").mkdir(parents=True)
    (project / "template.yaml").write_text("Resources: {}\n", "utf-8")
    document = {"tools": [{"name": "now", "description": "d", "inputSchema": {"type": "object"}}]}
    (project / "functions" / "clock" / "tools.json").write_text(json.dumps(document), "utf-8")
    layer_python = tmp_path / "opt" / "python"

    assert load_bundler().bundle(project, layer_python) == ["functions/clock/tools.json"]

    # On Lambda: no checkout, only the layer.
    monkeypatch.setattr(tool_schemas, "project_root", lambda: None)
    monkeypatch.setattr(tool_schemas, "LAYER_ROOT", layer_python)
    found = tool_schemas.resolve("functions/clock/tools.json")
    assert found == layer_python / "agentgw_schemas" / "functions" / "clock" / "tools.json"
    assert tool_schemas.load("functions/clock/tools.json", "clock") == document["tools"]
    with pytest.raises(
        InvalidInput, match=re.escape("tool schema file functions/other/tools.json not found")
    ):
        tool_schemas.resolve("functions/other/tools.json")


def test_a_broken_schema_file_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "functions" / "clock").mkdir(parents=True)
    (tmp_path / "template.yaml").write_text("Resources: {}\n", "utf-8")
    (tmp_path / "functions" / "clock" / "tools.json").write_text("{not json", "utf-8")
    with pytest.raises(ValueError):
        load_bundler().bundle(tmp_path, tmp_path / "out")


def test_the_makefile_finds_the_project_from_its_own_path(tmp_path: Path) -> None:
    # sam build runs make in a scratch copy of the layer folder, with --makefile naming the original.
    result = subprocess.run(
        ["make", "-s", "-f", str(LAYER / "Makefile"), "--eval", "root: ; @echo $(PROJECT_ROOT)", "root"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()) == LAYER.parent.parent
