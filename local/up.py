"""`agentgw local up`: bring the whole system up on loopback and serve until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentgw_local import agent_model
from agentgw_local.arguments import port, positive_int, stack_name
from agentgw_local.locate import LOCAL_JSON, StackInfo
from agentgw_local.settings import DEFAULT_HOST, DEFAULT_PAGE_SIZE, DEFAULT_PORT, DEFAULT_STACK_NAME
from agentgw_local.sockets import PortInUse
from agentgw_local.stack import LocalStack


def add_parser(local_subparsers: Any) -> None:
    """Register `up` on the `agentgw local` subcommands."""
    up = local_subparsers.add_parser("up", help="run the whole system offline on loopback until Ctrl-C")
    up.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    up.add_argument(
        "--port",
        type=port,
        default=DEFAULT_PORT,
        help="HTTP port: gateway, Cognito, API (default %(default)s)",
    )
    up.add_argument(
        "--aws-port", type=port, default=0, help="port of the emulated AWS endpoint (default: any free)"
    )
    up.add_argument(
        "--stack-name",
        type=stack_name,
        default=DEFAULT_STACK_NAME,
        help="stack name to provision (default %(default)s)",
    )
    up.add_argument(
        "--page-size",
        type=positive_int,
        default=DEFAULT_PAGE_SIZE,
        help="tools/list page size (default %(default)s)",
    )
    up.add_argument(
        "--state-file", type=Path, default=LOCAL_JSON, help="where to write the connection details"
    )
    agent_model.add_arguments(up)
    up.set_defaults(func=run)


def describe_state(state: Any) -> str:
    """One progress line for a provisioning state (whatever shape the provisioner reports)."""
    if isinstance(state, str):
        return state
    if callable(getattr(state, "line", None)):
        return str(state.line())
    if isinstance(state, dict):
        name, status = state.get("name") or state.get("state"), state.get("status")
        return f"{name} {status}" if status else str(name)
    name = getattr(state, "name", None)
    status = getattr(state, "status", None)
    return f"{name} {status}" if name and status else str(state)


def shell_path(path: Path, cwd: Path | None = None) -> str:
    """`path` for a shell: relative when it is under `cwd` (as `.venv/bin/agentgw`), quoted as needed."""
    cwd = cwd or Path.cwd()
    path = Path(os.path.abspath(path))
    if path.is_relative_to(cwd):
        return shlex.quote(str(path.relative_to(cwd)))
    return shlex.quote(str(path))


def agentgw_command(cwd: Path | None = None, search_path: str | None = None) -> str:
    """How the user's shell runs this `agentgw`: the bare name when PATH finds this same script,
    else its path (`make run` does not put the virtual environment on PATH)."""
    script = Path(sys.executable).parent / "agentgw"
    if not script.is_file():  # not installed as a script: the interpreter runs the module
        return f"{shell_path(Path(sys.executable), cwd)} -m agentgw_local.cli"
    found = shutil.which("agentgw", path=search_path)
    if found and os.path.samefile(found, script):
        return "agentgw"
    return shell_path(script, cwd)


def try_it(info: StackInfo, state_file: Path) -> str:
    """Commands to paste into a shell in this directory (tests/integration/test_cli.py runs each)."""
    agentgw = agentgw_command()
    local_file = "" if state_file == LOCAL_JSON else f" --local-file {shell_path(state_file)}"
    python = "python3" if shutil.which("python3") else shell_path(Path(sys.executable))
    read = f"import json;d=json.load(open({json.dumps(str(state_file))}))"
    creds = shlex.quote(f'{read};print(d["client_id"]+":"+d["client_secret"])')
    tokyo = shlex.quote(json.dumps({"timezone": "Asia/Tokyo"}))
    lines = [
        "Try it (from this directory):",
        f'  {agentgw} invoke "What time is it in Tokyo?"{local_file}',
        f"  {agentgw} tools list{local_file}",
        f"  {agentgw} tools call timeweather___get_time --args {tokyo}{local_file}",
        "",
        "or with curl:",
        f"  CREDS=$({python} -c {creds})",
        f'  TOKEN=$(curl -s -u "$CREDS" -d grant_type=client_credentials {shlex.quote(info.token_url)} \\',
        f"    | {python} -c 'import json,sys;print(json.load(sys.stdin)[\"access_token\"])')",
        f'  curl -s {shlex.quote(info.gateway_url)} -H "Authorization: Bearer $TOKEN" \\',
        "    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\",
        """    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'""",
    ]
    return "\n".join(lines)


def print_ready(info: StackInfo, state_file: Path, out: Any) -> None:
    print("\nagentgw local stack is up (Ctrl-C to stop)\n", file=out)
    rows = [
        ("gateway_url", info.gateway_url),
        ("token_url", info.token_url),
        ("discovery_url", info.discovery_url),
        ("client_id", info.client_id),
        ("client_secret", f"(in {state_file}, mode 0600)"),
        ("scope", info.scope),
    ]
    if info.api_url:
        rows.append(("api_url", info.api_url))
    if info.aws_endpoint_url:
        rows.append(("aws_endpoint", f"{info.aws_endpoint_url} (region {info.region})"))
    for key, value in rows:
        print(f"  {key:<14} {value}", file=out)
    print(f"\n{try_it(info, state_file)}\n", file=out, flush=True)


def running_stack(state_file: Path) -> StackInfo | None:
    """The stack `state_file` describes, if something still listens at its address."""
    try:
        info = StackInfo.from_json(state_file.read_text("utf-8"))
        address = urlsplit(info.gateway_url)
        if address.hostname is None or address.port is None:
            return None
        with socket.create_connection((address.hostname, address.port), timeout=1.0):
            return info
    except (OSError, ValueError, TypeError):  # no file, not ours, or nothing listening: stale
        return None


def remove_if_ours(state_file: Path, info: StackInfo) -> None:
    """Delete the state file unless another stack has written its own there since."""
    try:
        if state_file.read_text("utf-8") == info.to_json():
            state_file.unlink()
    except OSError:
        pass


def run(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    stop = threading.Event()

    def on_state(state: Any) -> None:
        if isinstance(state, str):  # the stack's own steps after provisioning
            print(f"  {state}", file=out, flush=True)
        # One line per provisioning state: when it finishes (or fails), not also when it starts.
        elif getattr(state, "phase", None) != "entered":
            print(f"  provision: {describe_state(state)}", file=out, flush=True)

    try:
        # First, while the environment is still the user's own (bedrock resolves their AWS session).
        model = agent_model.from_args(args)
    except agent_model.ModelChoiceError as exc:
        print(f"agentgw local up: {exc}", file=err)
        return 2

    other = running_stack(args.state_file)
    if other is not None:
        # Both would write the same file, and stopping either would delete the other's.
        print(
            f"agentgw local up: a local stack is already running (gateway {other.gateway_url}, "
            f"details in {args.state_file}): stop it first, or give this one its own --state-file",
            file=err,
        )
        return 2
    stack = LocalStack(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        stack_name=args.stack_name,
        page_size=args.page_size,
        on_state=on_state,
        model=model,
    )
    print(f"agentgw: starting the local stack on {args.host}:{args.port} ...", file=out, flush=True)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        try:
            stack.start()
        except PortInUse as exc:
            print(f"agentgw local up: {exc}", file=err)
            return 2
        except RuntimeError as exc:
            print(f"agentgw local up: {exc}", file=err)
            return 1
        assert stack.info is not None
        stack.info.write(args.state_file)
        print_ready(stack.info, args.state_file, out)
        # Ctrl-C and SIGTERM both just ask the main loop to stop, so shutdown runs once, in order
        # (and works when SIGINT was ignored by a non-interactive parent shell).
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        while not stop.wait(0.5):
            pass
        print("\nagentgw: stopping ...", file=out, flush=True)
        return 0
    finally:
        stack.stop()
        if stack.info is not None:
            remove_if_ours(args.state_file, stack.info)  # the stack and its credentials are gone
        for sig, handler in previous.items():
            signal.signal(sig, handler)
