"""`agentgw targets list` against the running local stack."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agentgw_local.cli import build_parser
from agentgw_local.stack import LocalStack


@pytest.fixture(scope="module")
def local_file(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert local_stack.info is not None
    return local_stack.info.write(tmp_path_factory.mktemp("agentgw") / "local.json")


def targets(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["targets", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_list_shows_each_declared_target_served_by_the_local_stack(local_file: Path) -> None:
    code, out, err = targets("list", "--json", "--local-file", str(local_file))
    assert code == 0, err
    listed = json.loads(out)
    assert listed["where"] == "the local stack"
    assert listed["targets"] == [
        {
            "name": "timeweather",
            "kind": "lambda",
            "function": "ToolsFunction",
            "tools": 2,
            "status": "serving",
            "schema_file": "layers/agentgw/python/agentgw/tools/schemas.json",
        }
    ]
    code, out, _ = targets("list", "--local-file", str(local_file))
    assert code == 0
    assert "timeweather  lambda     2 tools  serving" in out


def test_list_without_a_running_stack_still_lists_the_declaration(tmp_path: Path) -> None:
    code, out, err = targets("list", "--local-file", str(tmp_path / "absent.json"))
    assert code == 0
    assert "timeweather" in out and "unknown" in out
    assert "status unknown: the local stack" in err
