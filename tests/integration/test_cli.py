"""`agentgw tools …` against the running stack, and `agentgw local up` as a real process."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from agentgw.tools import target_name
from agentgw_local import up
from agentgw_local.cli import build_parser
from agentgw_local.stack import LocalStack, StackInfo
from integration.local_up_process import interrupt, running, wait_until_ready

GET_TIME = f"{target_name()}___get_time"
AGENTGW = [sys.executable, "-c", "from agentgw_local.cli import main; raise SystemExit(main())"]


@pytest.fixture(scope="module")
def local_file(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert local_stack.info is not None
    return local_stack.info.write(tmp_path_factory.mktemp("agentgw") / "local.json")


def tools(*argv: str, local_file: Path) -> tuple[int, str, str]:
    args = build_parser().parse_args(["tools", *argv, "--local-file", str(local_file)])
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_local_json_is_private(local_file: Path) -> None:
    assert stat.S_IMODE(local_file.stat().st_mode) == 0o600
    info = StackInfo.from_json(local_file.read_text())
    assert info.client_secret and info.gateway_url.endswith("/mcp")
    assert info.client_secret not in repr(info)


def test_tools_list(local_file: Path) -> None:
    code, out, _ = tools("list", local_file=local_file)
    assert code == 0
    assert GET_TIME in out and "x_amz_bedrock_agentcore_search" in out
    code, out, _ = tools("list", "--json", local_file=local_file)
    names = [t["name"] for t in json.loads(out)]
    assert GET_TIME in names


def test_tools_call(local_file: Path) -> None:
    code, out, _ = tools("call", GET_TIME, "--args", '{"timezone": "UTC"}', local_file=local_file)
    assert code == 0
    assert json.loads(out)["utc_offset"] == "+00:00"
    code, out, _ = tools("call", GET_TIME, "--args", '{"timezone": "UTC"}', "--json", local_file=local_file)
    assert code == 0 and json.loads(out)["isError"] is False


def test_tools_call_errors_exit_1_with_the_reason(local_file: Path) -> None:
    """1: the gateway answered with an error, or the tool's result is one."""
    code, _, err = tools("call", GET_TIME, "--args", "{}", local_file=local_file)
    assert code == 1 and "-32602" in err and "timezone" in err
    code, out, _ = tools(
        "call", GET_TIME, "--args", '{"timezone": "Nowhere/Atlantis"}', local_file=local_file
    )
    assert code == 1 and "Atlantis" in out


def test_a_call_that_cannot_be_made_exits_2(local_file: Path) -> None:
    """2, as `invoke` and `health`: the gateway was not asked at all."""
    code, _, err = tools("call", GET_TIME, "--args", "not json", local_file=local_file)
    assert code == 2 and "--args is not JSON" in err
    code, _, err = tools("call", GET_TIME, "--args", "[1]", local_file=local_file)
    assert code == 2 and "--args must be a JSON object" in err


def test_tools_search(local_file: Path) -> None:
    code, out, _ = tools("search", "current weather forecast", "--json", local_file=local_file)
    assert code == 0
    assert json.loads(out)[0]["name"] == f"{target_name()}___get_weather"


def test_output_into_a_closed_pipe_is_no_traceback(local_file: Path) -> None:
    # `agentgw tools list | head -1`: the reader is gone before the output is written.
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*AGENTGW, "tools", "list", "--local-file", str(local_file)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141  # 128 + SIGPIPE: what a shell reports for a command its pipe ended


def test_tools_without_a_local_stack(tmp_path: Path) -> None:
    code, _, err = tools("list", local_file=tmp_path / "missing.json")
    assert code == 2 and "agentgw local up" in err


def _run_up(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTGW_", "MOTO_"))}
    return subprocess.Popen(
        [*AGENTGW, "local", "up", "--port", str(port), "--state-file", str(tmp_path / "local.json")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_local_up_serves_until_interrupted(tmp_path: Path) -> None:
    state = tmp_path / "local.json"
    with running(_run_up(tmp_path, 0)) as process:
        wait_until_ready(process, state)
        secret = StackInfo.from_json(state.read_text()).client_secret
        code, out, err = tools("call", GET_TIME, "--args", '{"timezone": "Asia/Tokyo"}', local_file=state)
        assert code == 0, err
        assert json.loads(out)["utc_offset"] == "+09:00"
        # A user's own boto3 client against the emulated AWS endpoint the stack reports.
        info = StackInfo.from_json(state.read_text())
        control = boto3.client(
            "bedrock-agentcore-control",
            endpoint_url=info.aws_endpoint_url,
            region_name=info.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        arn = control.create_api_key_credential_provider(name="cli-key", apiKey="cli-key-0e4f")[
            "credentialProviderArn"
        ]
        assert control.get_api_key_credential_provider(name="cli-key")["credentialProviderArn"] == arn
        stdout, stderr = interrupt(process)
    assert process.returncode == 0, stderr
    assert "provision: ✓ PublishConfig exited" in stdout
    assert "gateway_url" in stdout and "curl" in stdout
    assert secret not in stdout and secret not in stderr
    assert f"aws_endpoint   {info.aws_endpoint_url}" in stdout
    assert "cli-key-0e4f" not in stdout + stderr
    assert not state.exists()  # the credentials go with the stack


def test_local_up_on_a_busy_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = _run_up(tmp_path, port)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert f"port {port} on 127.0.0.1 is busy" in stderr
    assert "Traceback" not in stderr


def test_a_second_local_up_on_the_same_state_file_is_refused(local_file: Path, tmp_path: Path) -> None:
    """Two stacks would share one state file, and stopping either would delete the other's."""
    shared = tmp_path / "local.json"
    shared.write_bytes(local_file.read_bytes())  # what a running `local up` wrote: it listens
    with socket.socket() as busy:  # were it not refused, it would stop at this busy port, not serve
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = build_parser().parse_args(["local", "up", "--port", port, "--state-file", str(shared)])
        out, err = io.StringIO(), io.StringIO()
        assert args.func(args, out, err) == 2
    assert "a local stack is already running" in err.getvalue() and "--state-file" in err.getvalue()
    assert shared.read_bytes() == local_file.read_bytes()  # left as it was


def test_a_stale_state_file_does_not_block_and_only_our_own_is_removed(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    assert local_stack.info is not None
    state = tmp_path / "local.json"
    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    stale = dataclasses.replace(local_stack.info, gateway_url=f"http://127.0.0.1:{port}/gateways/x/mcp")
    stale.write(state)
    assert up.running_stack(state) is None
    assert up.running_stack(tmp_path / "missing.json") is None
    assert up.running_stack(local_stack.info.write(tmp_path / "live.json")) == local_stack.info

    up.remove_if_ours(state, local_stack.info)  # another stack's file since: kept
    assert state.exists()
    up.remove_if_ours(state, stale)
    assert not state.exists()


def test_tools_against_a_deployed_stack_by_name(local_stack: LocalStack, tmp_path: Path) -> None:
    """--stack NAME: the ConfigParameterName output → published config (SSM) → secret → gateway."""
    assert local_stack.aws is not None and local_stack.provision_result is not None
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ConfigParameterName": {"Value": local_stack.provision_result.parameter_name}},
    }
    local_stack.aws.client("cloudformation").create_stack(
        StackName="agentgw-tools", TemplateBody=json.dumps(template)
    )
    region = local_stack.aws.region
    missing = tmp_path / "no-local-stack.json"  # proves the local file is not what is used
    code, out, err = tools(
        "call",
        GET_TIME,
        "--args",
        '{"timezone": "UTC"}',
        "--stack",
        "agentgw-tools",
        "--region",
        region,
        local_file=missing,
    )
    assert code == 0, err
    assert json.loads(out)["timezone"] == "UTC"
    code, _, err = tools("list", "--stack", "no-such-stack", "--region", region, local_file=missing)
    assert code == 2 and "no-such-stack" in err


def test_the_commands_local_up_prints_work_when_pasted(tmp_path: Path) -> None:
    """As after `make run`: the virtual environment is not on PATH, so the banner names the
    `agentgw` it runs as by its path; each command is pasted into a shell in that directory."""
    script = Path(sys.executable).parent / "agentgw"
    path = os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != script.parent
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTGW_", "MOTO_"))}
    env["PATH"] = path
    state = "my stack/local.json"  # a path the shell must be given quoted
    process = subprocess.Popen(
        [str(script), "local", "up", "--port", "0", "--state-file", state],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or "tools/list" not in banner[-1]:  # the banner's last line
            line = process.stdout.readline()
            assert line, process.communicate()
            banner.append(line.rstrip("\n"))
        text = "\n".join(banner)
        commands = text.split("Try it (from this directory):\n", 1)[1].split("\n\n")[0].splitlines()
        curl = text.split("or with curl:\n", 1)[1]

        def paste(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", "-c", f"set -eo pipefail\n{command}"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        assert [c.split()[:2] for c in commands] == [[shlex.quote(str(script)), word] for word in
                                                     ("invoke", "tools", "tools")]  # fmt: skip
        invoke, tools_list, tools_call = (paste(c.strip()) for c in commands)
        assert invoke.returncode == 0, invoke.stderr
        assert "Asia/Tokyo" in invoke.stdout
        assert tools_list.returncode == 0, tools_list.stderr
        assert GET_TIME in tools_list.stdout
        assert tools_call.returncode == 0, tools_call.stderr
        assert json.loads(tools_call.stdout)["utc_offset"] == "+09:00"
        pasted = paste("\n".join(line[2:] for line in curl.splitlines()))  # the lines, as shown
        assert pasted.returncode == 0, pasted.stderr
        assert GET_TIME in pasted.stdout and '"result"' in pasted.stdout
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_the_banner_names_agentgw_as_the_shell_finds_it(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "agentgw"
    venv = script.parents[1]
    # Under the current directory, the relative path (`.venv/bin/agentgw` after `make run`).
    assert up.agentgw_command(cwd=venv.parent, search_path="") == f"{venv.name}/bin/agentgw"
    assert up.agentgw_command(cwd=tmp_path, search_path="") == shlex.quote(str(script))
    # On PATH (an activated virtual environment): the bare name, but only for this same script.
    assert up.agentgw_command(cwd=tmp_path, search_path=str(script.parent)) == "agentgw"
    other = tmp_path / "bin"
    other.mkdir()
    (other / "agentgw").write_text("#!/bin/sh\nexit 1\n")
    (other / "agentgw").chmod(0o755)
    assert up.agentgw_command(cwd=tmp_path, search_path=str(other)) == shlex.quote(str(script))
    assert up.shell_path(tmp_path / "my stack" / "local.json", tmp_path) == "'my stack/local.json'"
