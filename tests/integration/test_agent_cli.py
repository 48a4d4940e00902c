"""`agentgw invoke` against the local stack: by its local.json, by URL, and by stack name
(CloudFormation outputs in the emulated account, SigV4-signed request)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from agentgw_local import invoke
from agentgw_local.cli import build_parser
from agentgw_local.stack import LocalStack


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENTGW_MODEL_PROVIDER", "offline")
    monkeypatch.setenv("AGENTGW_SESSION_DIR", str(tmp_path / "sessions"))


def run(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["invoke", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = invoke.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_invoke_local_stack_from_its_file(local_stack: LocalStack, offline: None, tmp_path: Path) -> None:
    assert local_stack.info is not None
    state = local_stack.info.write(tmp_path / "local.json")

    code, out, err = run(["What time is it in Tokyo?", "--local-file", str(state)])

    assert code == 0, err
    assert "in Tokyo (Asia/Tokyo" in out
    assert "tool timeweather___get_time" in out
    assert "--session" in out  # tells how to continue the conversation


def test_invoke_json_and_session(local_stack: LocalStack, offline: None) -> None:
    assert local_stack.info is not None and local_stack.info.api_url
    code, out, err = run(["time in Paris", "--url", local_stack.info.api_url, "--json", "--session", "cli-1"])

    assert code == 0, err
    body = json.loads(out)
    assert body["session_id"] == "cli-1"
    assert body["tool_calls"][0]["arguments"] == {"timezone": "Paris"}


def test_invoke_reports_api_errors(local_stack: LocalStack, offline: None) -> None:
    assert local_stack.info is not None and local_stack.info.api_url
    code, _, err = run(["   ", "--url", local_stack.info.api_url])

    assert code == 1
    assert "HTTP 400" in err
    assert '"prompt" is empty' in err


def test_invoke_without_a_local_stack_says_what_to_do(tmp_path: Path) -> None:
    code, _, err = run(["hi", "--local-file", str(tmp_path / "missing.json")])

    assert code == 2
    assert "agentgw local up" in err


def test_invoke_deployed_stack_by_name_signs_the_request(
    local_stack: LocalStack, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack's ApiUrl output comes from CloudFormation; the request carries SigV4 headers."""
    assert local_stack.aws is not None and local_stack.info is not None and local_stack.info.api_url
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": local_stack.info.api_url}},
    }
    local_stack.aws.client("cloudformation").create_stack(
        StackName="agentgw-cli", TemplateBody=json.dumps(template)
    )
    sent: list[dict[str, str]] = []
    original = invoke.post

    def recording_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Any:
        sent.append(headers)
        return original(url, body, headers, timeout_s)

    monkeypatch.setattr(invoke, "post", recording_post)

    code, out, err = run(
        ["What time is it in Tokyo?", "--stack", "agentgw-cli", "--region", local_stack.aws.region]
    )

    assert code == 0, err
    assert "Asia/Tokyo" in out
    authorization = sent[0]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    assert f"/{local_stack.aws.region}/execute-api/aws4_request" in authorization
    assert "X-Amz-Date" in sent[0]


def test_invoke_unknown_stack(local_stack: LocalStack) -> None:
    assert local_stack.aws is not None
    code, _, err = run(["hi", "--stack", "no-such-stack", "--region", local_stack.aws.region])

    assert code == 2
    assert "no-such-stack" in err
