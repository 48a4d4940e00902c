"""A real model in the local stack: the `openai` provider end to end against a loopback
OpenAI-compatible endpoint replaying a recorded tool-using conversation (tests/openai_replay.py).

The agent really calls the gateway's tool between the two model turns; the API key goes from the
user's environment variable into the emulated Secrets Manager and from there to the endpoint,
and nowhere else: not the state file, the console, the session files or the environment.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai_replay import Recording, ReplayServer, tool_results

from agentgw.tools import target_name
from agentgw_local import aws as local_aws
from agentgw_local.agent_model import OpenAICompatible, openai_secret_name
from agentgw_local.stack import LocalStack, StackInfo
from integration.agent_support import agent_service
from integration.local_up_process import interrupt, running, wait_until_ready

GET_TIME = f"{target_name()}___get_time"
AGENTGW = [sys.executable, "-c", "from agentgw_local.cli import main; raise SystemExit(main())"]
PROMPT = {"prompt": "What time is it in Tokyo?"}


@pytest.fixture
def recording() -> Recording:
    recording = Recording.load("openai_get_time")
    assert recording.tool_call()["name"] == GET_TIME, "the recording calls another tool than the gateway has"
    return recording


@pytest.fixture
def key() -> str:
    return "sk-agentgw-" + secrets.token_urlsafe(24)


def _assert_replayed_turn(body: dict, replay: ReplayServer, recording: Recording, key: str | None) -> None:
    assert replay.refusals == []
    # The model was called twice, with the key; the gateway's real tool result went back in between.
    assert len(replay.requests) == 2
    assert all(seen.authorization == (f"Bearer {key}" if key else None) for seen in replay.requests)
    assert [r for r in tool_results(replay.requests[1]) if '"utc_offset": "+09:00"' in r], replay.requests[1]
    # The answer is the replayed model's; the tool call is the one the recording asked for.
    assert body["answer"] == recording.final_answer
    assert body["model"] == f"openai:{recording.model}"
    assert [(c["name"], c["arguments"], c["is_error"]) for c in body["tool_calls"]] == [
        (GET_TIME, {"timezone": "Asia/Tokyo"}, False)
    ]
    assert body["usage"] == {"input_tokens": 212 + 268, "output_tokens": 19 + 16}


def test_openai_provider_through_local_up(tmp_path: Path, recording: Recording, key: str) -> None:
    """`agentgw local up --model-provider openai …` as a user runs it, the key in OPENAI_API_KEY."""
    state = tmp_path / "local.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTGW_", "MOTO_", "OPENAI_"))}
    with ReplayServer(recording, api_key=key) as replay:
        base_url = replay.base_url
        process = subprocess.Popen(
            [
                *AGENTGW,
                "local",
                "up",
                "--port",
                "0",
                "--state-file",
                str(state),
                "--model-provider",
                "openai",
                "--openai-base-url",
                base_url,
                "--model-id",
                recording.model,
            ],
            cwd=tmp_path,
            env={**env, "OPENAI_API_KEY": key},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with running(process):
            wait_until_ready(process, state)
            state_text = state.read_text("utf-8")
            info = StackInfo.from_json(state_text)
            assert info.api_url
            response = httpx.post(f"{info.api_url}/prompt", json=PROMPT, timeout=60)
            assert response.status_code == 200, response.text
            _assert_replayed_turn(response.json(), replay, recording, key)
            stdout, stderr = interrupt(process)
    assert process.returncode == 0, stderr
    assert f"agent model: openai {recording.model} at {base_url} (API key from $OPENAI_API_KEY" in stdout
    # The key is in none of what the stack wrote or said.
    assert key not in state_text
    assert key not in stdout and key not in stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.parent.name == "messages" for p in written), "no session was kept"
    assert [p for p in written if key in p.read_text("utf-8", "replace")] == []


KEY_VARIABLE = "AGENTGW_TEST_USERS_OPENAI_KEY"


@pytest.fixture
def openai_stack(
    recording: Recording, key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalStack, ReplayServer]]:
    monkeypatch.setenv(KEY_VARIABLE, key)  # the user's own variable, named to `local up`
    with ReplayServer(recording, api_key=key) as replay:
        model = OpenAICompatible(
            base_url=replay.base_url, model_id=recording.model, api_key=key, key_source=KEY_VARIABLE
        )
        # The package's emulator when one runs (moto allows one per process); a stack of its own.
        stack = LocalStack(port=0, stack_name="agentgw-model", aws=local_aws._active, model=model)
        stack.start()
        try:
            yield stack, replay
        finally:
            stack.stop()
            agent_service().credentials.reset()


def test_openai_key_lives_only_in_the_emulated_secrets_manager(
    openai_stack: tuple[LocalStack, ReplayServer],
    recording: Recording,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack, replay = openai_stack
    assert stack.aws is not None and stack.info is not None
    caplog.set_level(logging.INFO)
    # The agent's environment names the secret; no environment variable holds the key, not even
    # the user's own while the stack runs (a deployed function has no such variable).
    arn = os.environ["AGENTGW_OPENAI_API_KEY_SECRET_ARN"]
    assert KEY_VARIABLE not in os.environ
    assert os.environ["AGENTGW_MODEL_PROVIDER"] == "openai"
    assert os.environ["AGENTGW_OPENAI_BASE_URL"] == replay.base_url
    assert [name for name, value in os.environ.items() if key in value] == []
    secret = stack.aws.client("secretsmanager").get_secret_value(SecretId=arn)
    assert secret["Name"] == openai_secret_name("agentgw-model")
    assert secret["SecretString"] == key

    response = httpx.post(f"{stack.info.api_url}/prompt", json=PROMPT, timeout=60)
    assert response.status_code == 200, response.text
    _assert_replayed_turn(response.json(), replay, recording, key)
    assert key not in caplog.text
    assert key not in stack.info.to_json()
    assert key not in repr(stack.model)
    stack.stop()
    assert os.environ[KEY_VARIABLE] == key  # the user's environment is theirs again
