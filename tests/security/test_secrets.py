"""Secrets never leak: a full local run — provisioning (the real state machine), token
requests, MCP calls through the gateway, an agent prompt, teardown — with every log line
captured (Python logging at DEBUG for our loggers, the handlers' Powertools output, stdout and
stderr), then scanned for the client secret and for every access token the emulated Cognito
issued. Also scanned: every execution history, the executions' outputs, the published SSM
parameter, the HTTP responses (but the token endpoint's, whose job is to return a token) and
the process environment.

botocore's own DEBUG wire log prints response bodies (Secrets Manager's included) and stays
off; nothing here turns it on.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from integration.agent_support import agent_service
from integration.stackkit import Mcp

from agentgw_local import aws as local_aws
from agentgw_local.cognito import EmulatedCognito
from agentgw_local.function_logs import route_function_logs
from agentgw_local.provision import teardown
from agentgw_local.stack import LocalStack

STACK = "agentgw-secrets"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record) + " " + repr(record.__dict__))
        except Exception as exc:  # a record that cannot format is itself worth seeing
            self.lines.append(f"unformattable record: {exc!r}")


@pytest.fixture
def issued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token the emulated Cognito issues during the test."""
    tokens: list[str] = []
    original = EmulatedCognito.issue_token

    def recording(self: EmulatedCognito, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = original(self, *args, **kwargs)
        tokens.append(result["access_token"])
        return result

    monkeypatch.setattr(EmulatedCognito, "issue_token", recording)
    return tokens


@pytest.fixture
def collected(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collect]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    collector = Collect()
    root = logging.getLogger()
    ours = [logging.getLogger(n) for n in ("agentgw", "agentgw_local", "agentgw-provisioning")]
    saved = [(lg, lg.level) for lg in ours]
    root.addHandler(collector)
    for lg in ours:
        lg.setLevel(logging.DEBUG)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        for lg, level in saved:
            lg.setLevel(level)


def test_a_full_local_run_leaks_no_secret_and_no_token(
    local_stack: LocalStack, issued: list[str], collected: Collect, capfd: pytest.CaptureFixture[str]
) -> None:
    assert local_stack.aws is local_aws._active  # the package stack's emulator, shared
    agent_service().credentials.reset()  # the agent reads the new stack's secret and fetches a token
    responses: list[str] = []
    environments: list[dict[str, str]] = []
    stack = LocalStack(port=0, stack_name=STACK, aws=local_stack.aws)
    stack.start()
    routed = io.StringIO()
    restore = route_function_logs(routed, logging.DEBUG)
    try:
        info = stack.info
        assert info is not None and len(info.client_secret) >= 20
        environments.append(dict(os.environ))

        token = httpx.post(
            info.token_url,
            data={"grant_type": "client_credentials", "scope": info.scope},
            auth=(info.client_id, info.client_secret),
        ).json()["access_token"]
        mcp = Mcp(info.gateway_url, token)
        initialized = mcp.post(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t"}},
            }
        )
        responses.append(initialized.text + json.dumps(dict(initialized.headers)))
        mcp.session_id = initialized.headers["mcp-session-id"]
        for method, params in [
            ("tools/list", {}),
            ("tools/call", {"name": "timeweather___get_time", "arguments": {"timezone": "Asia/Tokyo"}}),
            ("tools/call", {"name": "x_amz_bedrock_agentcore_search", "arguments": {"query": "time"}}),
            ("tools/call", {"name": "timeweather___get_time", "arguments": {"timezone": "Nowhere/Land"}}),
        ]:
            reply = mcp.post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            assert reply.status_code == 200, reply.text
            responses.append(reply.text + json.dumps(dict(reply.headers)))
        refused = Mcp(info.gateway_url, token[:-4] + "AAAA").post(
            {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        )
        assert refused.status_code == 401
        responses.append(refused.text + json.dumps(dict(refused.headers)))

        # The agent API, answered by the offline model with the gateway's real tools.
        assert info.api_url
        answer = httpx.post(
            f"{info.api_url}/prompt", json={"prompt": "What time is it in Tokyo?"}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["tool_calls"], answer.text  # it did go through the gateway with a token
        responses.append(answer.text + json.dumps(dict(answer.headers)))
        environments.append(dict(os.environ))

        sfn = stack.aws.client("stepfunctions")  # type: ignore[union-attr]
        parameter = stack.aws.client("ssm").get_parameter(Name=stack.provision_result.parameter_name)  # type: ignore[union-attr]
        removed = teardown(stack.aws, stack_name=STACK)  # type: ignore[arg-type]
        assert removed.status == "SUCCEEDED", removed.error
        histories, outputs = [], [json.dumps(stack.provision_result.to_json()), json.dumps(removed.to_json())]
        for machine in sfn.list_state_machines()["stateMachines"]:
            if STACK not in machine["name"]:
                continue
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
                arn = execution["executionArn"]
                outputs.append(json.dumps(sfn.describe_execution(executionArn=arn), default=str))
                for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
                    histories.append(json.dumps(page["events"], default=str))
    finally:
        restore()
        stack.stop()
        agent_service().credentials.reset()
    out, err = capfd.readouterr()

    assert len(issued) >= 2  # ours and the agent's (and the provisioning's check, if it makes one)
    assert any('"output"' in h for h in histories)  # the histories do carry data
    places = {
        "python logs": "\n".join(collected.lines),
        "handler logs": routed.getvalue(),
        "stdout": out,
        "stderr": err,
        "execution histories": "\n".join(histories),
        "execution outputs": "\n".join(outputs),
        "published parameter": json.dumps(parameter, default=str),
        "responses": "\n".join(responses),
        "environment": json.dumps(environments),
        "repr": repr(info),
    }
    assert "get_time" in places["python logs"] + places["handler logs"] + out  # the logs were captured
    secrets = {"client secret": info.client_secret} | {f"token {i}": t for i, t in enumerate(issued)}
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, value in secrets.items()
        if value in text
    ]
    # Tokens are also looked for by their signature alone (a log could cut the header off).
    leaks += [
        f"signature of token {i} in {where}"
        for where, text in places.items()
        for i, t in enumerate(issued)
        if t.rsplit(".", 1)[1] in text
    ]
    assert leaks == []


def test_template_outputs_and_environments_carry_no_secret_values() -> None:
    """Deployed surfaces: stack outputs and function environments name secrets (ARNs,
    parameter names), never resolve them; parameters that could hold one are NoEcho."""
    from pathlib import Path

    from cfnlint.decode import decode

    template, matches = decode(str(Path(__file__).resolve().parents[2] / "template.yaml"))
    assert template is not None, matches
    outputs = template.get("Outputs") or {}
    environments = {
        name: ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        for name, resource in template["Resources"].items()
    }
    environments["Globals"] = template["Globals"]["Function"]["Environment"]["Variables"]
    assert outputs and any(environments.values())

    def dynamic_references(value: Any) -> list[str]:
        text = json.dumps(value, default=str)
        return [ref for ref in ("{{resolve:secretsmanager", "{{resolve:ssm-secure") if ref in text]

    problems = [f"output {k}: {dynamic_references(v)}" for k, v in outputs.items() if dynamic_references(v)]
    for resource, variables in environments.items():
        for name, value in variables.items():
            if dynamic_references(value):
                problems.append(f"{resource} env {name} resolves a secret")
            secretish = any(word in name.upper() for word in ("SECRET", "PASSWORD", "TOKEN", "API_KEY"))
            if secretish and not name.upper().endswith(("_ARN", "_NAME", "_PARAMETER")):
                problems.append(f"{resource} env {name} looks like a secret value")
    for name in outputs:
        if "secret" in name.lower() and not name.endswith("Arn"):
            problems.append(f"output {name} may expose a secret")
    for name, parameter in (template.get("Parameters") or {}).items():
        sensitive = any(word in name.lower() for word in ("secret", "password", "token"))
        if sensitive and not name.endswith("Arn") and str(parameter.get("NoEcho")).lower() != "true":
            problems.append(f"parameter {name} should be NoEcho")
    assert problems == []
