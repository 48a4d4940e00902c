"""`--model-provider bedrock` in the local stack: the agent's Bedrock runtime client goes to the
real regional endpoint with the user's own credentials, resolved before the emulator takes over
the environment, while every other client goes to the emulator. No request leaves this machine:
the Bedrock request is stopped once signed (botocore's `before-send`) and inspected."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from agentgw.agent.settings import Settings
from agentgw.agent.tool_selection import ToolSelection
from agentgw_local import agent_model
from agentgw_local import aws as local_aws
from agentgw_local.aws import EmulatedAws
from agentgw_local.cli import build_parser
from agentgw_local.environment import EnvOverlay
from agentgw_local.real_bedrock import RealBedrock
from agentgw_local.template import Template

MODEL_ID = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture
def user_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user's environment with no AWS settings at all (no files, no instance metadata)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "MOTO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


class Sent(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def signed_request(client: Any, call: str, **params: Any) -> Any:
    """The request `client` would send for `call`, signed, without sending it."""

    def stop(request: Any, **_: Any) -> None:
        raise Sent(request)

    client.meta.events.register(f"before-send.{client.meta.service_model.service_id.hyphenize()}.*", stop)
    with pytest.raises(Sent) as sent:
        getattr(client, call)(**params)
    return sent.value.request


def agent_service() -> Any:
    """The service the local stack's agent function answers with now."""
    return Template().functions()["AgentFunction"].handler_module().service


def bedrock_client_of_the_agent() -> tuple[Any, str]:
    """What the agent builds for a request: its settings from the environment, then the model."""
    settings = Settings.from_env()
    model, name = agent_service().models.build(settings, ToolSelection(tools=[]))
    return model.client, name


def converse(client: Any, model_id: str) -> Any:
    return signed_request(
        client, "converse", modelId=model_id, messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )


def test_bedrock_alone_reaches_the_users_account(user_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSOWNKEY00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-own-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    args = build_parser().parse_args(["local", "up", "--model-provider", "bedrock", "--model-id", MODEL_ID])
    model = agent_model.from_args(args)  # as `local up` does: before the emulator starts
    assert isinstance(model, RealBedrock)
    assert "users-own-secret" not in repr(model)

    assert local_aws._active is None, "this test starts the emulator itself"
    with EmulatedAws(region="us-east-1") as aws:  # from here the environment is the emulator's
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        overlay = EnvOverlay()
        overlay.set(model.start(aws, "agentgw-local"))
        try:
            client, name = bedrock_client_of_the_agent()
            assert name == f"bedrock:{MODEL_ID}"
            request = converse(client, MODEL_ID)
            assert request.url.startswith("https://bedrock-runtime.eu-west-1.amazonaws.com/model/")
            authorization = request.headers["Authorization"].decode()
            assert "Credential=AKIAUSERSOWNKEY00001/" in authorization
            assert "/eu-west-1/bedrock/aws4_request" in authorization
            assert "X-Amz-Security-Token" not in request.headers  # nothing of the emulator's mixed in

            # Everything else follows the process's settings: the emulator, with its credentials.
            ssm = boto3.client("ssm")
            assert ssm.meta.endpoint_url == aws.endpoint_url
            assert (
                "Credential=testing/"
                in signed_request(ssm, "get_parameter", Name="p").headers["Authorization"].decode()
            )
            aws.client("secretsmanager").create_secret(Name="probe", SecretString="emulated")
            assert agent_service().credentials.secret_string("probe", 0) == "emulated"
        finally:
            model.stop()
            overlay.restore()
            agent_service().credentials.reset()
        # Stopped, the stack's Bedrock is gone: `bedrock` is the deployed path again (the process's
        # own credentials and endpoint, here the emulator's).
        assert "bedrock" not in agent_service().models.extra_providers
        monkeypatch.setenv("AGENTGW_MODEL_PROVIDER", "bedrock")
        client, _ = bedrock_client_of_the_agent()
        assert client.meta.endpoint_url == aws.endpoint_url


def test_a_named_profile_wins_over_the_environment(user_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (user_env / "config").write_text("[profile dev]\nregion = eu-central-1\n")
    (user_env / "credentials").write_text(
        "[dev]\naws_access_key_id = AKIADEVPROFILE000001\naws_secret_access_key = dev-secret\n"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASOMEOTHERKEY0001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "other-secret")
    model = RealBedrock.from_user_environment(model_id=MODEL_ID, profile="dev")
    assert model.region == "eu-central-1"
    assert model.describe() == (
        f"bedrock {MODEL_ID} at https://bedrock-runtime.eu-central-1.amazonaws.com "
        "(AWS profile dev; everything else emulated)"
    )
    # What the emulator then sets changes neither the region, the credentials nor the endpoint.
    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    built, _ = model.build(Settings(provider="bedrock", model_id=MODEL_ID), ToolSelection(tools=[]))
    request = converse(built.client, MODEL_ID)  # type: ignore[attr-defined]
    assert request.url.startswith("https://bedrock-runtime.eu-central-1.amazonaws.com/")
    assert "Credential=AKIADEVPROFILE000001/" in request.headers["Authorization"].decode()


def _up(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["local", "up", "--state-file", str(tmp_path / "local.json"), *argv])
    out, err = io.StringIO(), io.StringIO()
    return args.func(args, out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("setup", "argv", "says"),
    [
        (
            {"AWS_REGION": "us-east-1"},
            [],
            "--model-provider bedrock needs AWS credentials and none were found",
        ),
        ({"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": "s"}, [], "no AWS region for Bedrock"),
        ({}, ["--aws-profile", "nope"], "--aws-profile: The config profile (nope) could not be found"),
    ],
)
def test_bedrock_without_usable_aws_settings_is_one_line_and_exit_2(
    user_env: Path, monkeypatch: pytest.MonkeyPatch, setup: dict[str, str], argv: list[str], says: str
) -> None:
    for name, value in setup.items():
        monkeypatch.setenv(name, value)
    code, out, err = _up(user_env, "--model-provider", "bedrock", *argv)
    assert code == 2
    assert err.startswith("agentgw local up: ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""
