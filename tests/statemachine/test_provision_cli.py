"""`agentgw local provision` as a user runs it (its own process, its own emulated AWS)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from agentgw_local.cli import main
from agentgw_local.settings import local_stack_urls

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "agentgw_local.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "local", "provision", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_json_output_is_the_result_only_without_the_throwaway_emulators_urls() -> None:
    done = run("--json", "--teardown")

    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)  # stdout holds the JSON document and nothing else
    assert result["status"] == "SUCCEEDED"
    assert result["states"][:3] == ["ChooseAction", "CreateAuthorizer", "CreateGateway"]
    assert result["states"][-2:] == ["ReportSuccess", "Done"]
    gateway = result["gateway"]
    assert gateway == {"id": gateway["id"], "status": "READY"}
    assert [(t["name"], t["status"]) for t in result["targets"]] == [("timeweather", "READY")]
    assert result["config"]["gateway_id"] == gateway["id"]
    assert "client_secret" not in result["config"]
    # The emulator ended with the command: no URL of it is printed (nothing serves them).
    assert "http" not in done.stdout and "url" not in done.stdout
    assert result["teardown"]["status"] == "SUCCEEDED"
    kinds = {item.split(":")[0] for item in result["teardown"]["deleted"]}
    assert kinds >= {"gateway", "rolePolicy", "parameter", "secret", "userPool"}
    # Progress went to stderr, one line per state entered and left.
    assert "→ CreateGateway entered" in done.stderr and "✓ CreateGateway exited" in done.stderr


def test_human_output_streams_states_then_a_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process (the imports are warm); the command sets the local-stack URL variables, which
    # monkeypatch puts back afterwards.
    for key in local_stack_urls("http://127.0.0.1:8080"):
        monkeypatch.setenv(key, "")
    assert main(["local", "provision"]) == 0
    # The handlers' loggers got their streams and levels back (the CLI routed them to stderr).
    powertools = logging.getLogger("agentgw-provisioning")
    assert powertools.level != logging.WARNING or not powertools.handlers

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "→ ChooseAction entered"
    assert lines.index("→ CheckGateway entered") < lines.index("✓ CheckGateway exited")
    summary = lines[lines.index(next(line for line in lines if line.startswith("provisioning SUCCEEDED"))) :]
    assert summary[0] == (
        "provisioning SUCCEEDED on this command's own emulated AWS, which ends with it: no stack "
        "serves this gateway; `agentgw local up` provisions one and serves it"
    )
    assert any(line.startswith("  gateway  ") and line.endswith("  READY") for line in summary)
    assert not any("http" in line for line in lines)  # no URL of the emulator that is gone


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--max-polls", "0"], "maxPolls must be between 1 and 1000, got 0"),
        (["--wait-seconds", "-1"], "waitSeconds must be between 0 and 3600, got -1"),
    ],
)
def test_out_of_range_polling_is_one_line_and_exit_2(option: list[str], says: str) -> None:
    done = run(*option)

    assert done.returncode == 2, done.stderr[-2000:]
    assert f"agentgw local provision: {says}" in done.stderr
    assert "Traceback" not in done.stderr
