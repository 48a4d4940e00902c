"""`agentgw local up`'s model options: a combination that cannot make a model is one line on
stderr and exit 2, before anything starts; a good one makes the model it names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from agentgw_local import agent_model
from agentgw_local.agent_model import Offline, OpenAICompatible
from agentgw_local.cli import build_parser

URL = "http://127.0.0.1:11434/v1"
OPENAI = ["--model-provider", "openai", "--openai-base-url", URL, "--model-id", "qwen2.5"]


@pytest.fixture(autouse=True)
def no_user_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_KEY", raising=False)


def up(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(["local", "up", "--state-file", str(tmp_path / "local.json"), *argv])
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["--model-provider", "openai", "--model-id", "m"],
            "--model-provider openai needs --openai-base-url",
        ),
        (["--model-provider", "openai", "--openai-base-url", "localhost:11434"], "is not an http(s) URL"),
        (
            ["--model-provider", "openai", "--openai-base-url", URL],
            "--model-provider openai needs --model-id",
        ),
        (
            [*OPENAI, "--openai-api-key-env", "MY_KEY"],
            "--openai-api-key-env MY_KEY: the environment variable MY_KEY is not set",
        ),
        ([*OPENAI, "--aws-profile", "dev"], "--aws-profile is for --model-provider bedrock, not openai"),
        (["--openai-base-url", URL], "--openai-base-url is for --model-provider openai, not offline"),
        (["--model-id", "m"], "--model-id is for --model-provider openai or bedrock, not offline"),
        (
            ["--model-provider", "bedrock", "--openai-no-api-key"],
            "--openai-no-api-key is for --model-provider openai",
        ),
    ],
)
def test_bad_combinations_are_one_line_and_exit_2(tmp_path: Path, argv: list[str], says: str) -> None:
    code, out, err = up(tmp_path, *argv)
    assert code == 2
    assert err.startswith("agentgw local up: ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""  # nothing started
    assert not (tmp_path / "local.json").exists()


def test_the_key_and_no_key_options_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(
            ["local", "up", *OPENAI, "--openai-api-key-env", "K", "--openai-no-api-key"]
        )
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def choose(*argv: str, environ: dict[str, str]) -> agent_model.AgentModel:
    return agent_model.from_args(build_parser().parse_args(["local", "up", *argv]), environ)


def test_the_default_is_offline() -> None:
    assert choose(environ={}) == Offline()


def test_openai_takes_the_key_from_OPENAI_API_KEY_when_set() -> None:
    model = choose(*OPENAI, environ={"OPENAI_API_KEY": "sk-user"})
    assert model == OpenAICompatible(
        base_url=URL, model_id="qwen2.5", api_key="sk-user", key_source="OPENAI_API_KEY"
    )
    assert "sk-user" not in repr(model) and "sk-user" not in model.describe()
    assert model.describe() == (
        f"openai qwen2.5 at {URL} (API key from $OPENAI_API_KEY, kept in the emulated Secrets Manager)"
    )


def test_openai_takes_the_key_from_the_named_variable() -> None:
    model = choose(
        *OPENAI, "--openai-api-key-env", "MY_KEY", environ={"MY_KEY": "k1", "OPENAI_API_KEY": "k2"}
    )
    assert isinstance(model, OpenAICompatible) and model.api_key == "k1" and model.key_source == "MY_KEY"


def test_openai_without_a_key_for_local_servers() -> None:
    assert choose(*OPENAI, environ={}) == OpenAICompatible(base_url=URL, model_id="qwen2.5")
    keyless = choose(*OPENAI, "--openai-no-api-key", environ={"OPENAI_API_KEY": "sk-user"})
    assert isinstance(keyless, OpenAICompatible) and keyless.api_key is None
    assert keyless.describe() == f"openai qwen2.5 at {URL} (no API key)"
    # Without a key, the agent gets no secret: an empty value, which its settings read as unset.
    assert keyless.start(_NoAws(), "s")["AGENTGW_OPENAI_API_KEY_SECRET_ARN"] == ""


class _NoAws:
    def client(self, service: str) -> object:
        raise AssertionError(f"no {service} call expected without a key")
