"""The MCP Inspector CLI against the running local gateway.

Runs only where the Inspector is already installed (npx cache), since tests stay offline:
`npx -y @modelcontextprotocol/inspector@2.12.0 --cli --help` once installs it. v0.x has no
`--header`, hence the pinned major version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache

import httpx
import pytest

from agentgw.tools import target_name
from agentgw_local.stack import LocalStack

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
OFFLINE = {**os.environ, "npm_config_offline": "true", "npm_config_update_notifier": "false"}


@cache
def inspector_available() -> bool:
    if shutil.which("npx") is None:
        return False
    try:
        probe = subprocess.run(
            ["npx", "--no-install", INSPECTOR, "--cli", "--help"],
            env=OFFLINE,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0 and "--header" in probe.stdout


pytestmark = pytest.mark.skipif(
    not inspector_available(), reason=f"MCP Inspector CLI not installed (npx -y {INSPECTOR} --cli --help)"
)


def inspector(local_stack: LocalStack, *args: str, token: bool = True) -> subprocess.CompletedProcess[str]:
    info = local_stack.info
    assert info is not None
    command = ["npx", "--no-install", INSPECTOR, "--cli", info.gateway_url, "--transport", "http"]
    if token:
        access = httpx.post(
            info.token_url,
            data={"grant_type": "client_credentials"},
            auth=(info.client_id, info.client_secret),
        ).json()["access_token"]
        command += ["--header", f"Authorization: Bearer {access}"]
    return subprocess.run([*command, *args], env=OFFLINE, capture_output=True, text=True, timeout=180)


def test_inspector_lists_and_calls_tools(local_stack: LocalStack) -> None:
    listed = inspector(local_stack, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    names = [tool["name"] for tool in json.loads(listed.stdout)["tools"]]
    assert f"{target_name()}___get_time" in names

    called = inspector(
        local_stack,
        "--method",
        "tools/call",
        "--tool-name",
        f"{target_name()}___get_time",
        "--tool-arg",
        "timezone=Europe/Paris",
    )
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)
    assert result["isError"] is False
    assert json.loads(result["content"][0]["text"])["timezone"] == "Europe/Paris"


def test_inspector_without_a_token_is_sent_to_oauth(local_stack: LocalStack) -> None:
    refused = inspector(local_stack, "--method", "tools/list", token=False)
    assert refused.returncode != 0
    assert "auth" in (refused.stdout + refused.stderr).lower()
