"""`agentgw invoke PROMPT [--session ID] [--json]`: ask the agent API a question.

By default against the running local stack (its `api_url` in `.agentgw/local.json`, written
by `agentgw local up`); with `--stack NAME` against a deployed stack, whose `ApiUrl` output
names the API and whose requests are SigV4-signed (IAM authorization) with the caller's AWS
credentials from the usual boto3 chain; `--url` posts to any agent API base URL.

Prints the answer (and the tool calls, and the session id to continue the conversation), or
with `--json` the whole response. Exit status: 0 answered, 1 the API answered an error,
2 the request could not be made (no local stack, unknown stack, unreachable API).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from agentgw_local.arguments import positive_seconds
from agentgw_local.locate import (
    LOCAL_JSON,
    StackLookupError,
    add_stack_arguments,
    read_local_info,
    stack_output,
    stack_region,
)

EXIT_OK, EXIT_API_ERROR, EXIT_CANNOT_ASK = 0, 1, 2
API_URL_OUTPUT = "ApiUrl"
PROMPT_PATH = "/prompt"
DEFAULT_TIMEOUT_S = 35.0  # a little above API Gateway's 30 s, so its own answer arrives


class CannotAsk(RuntimeError):
    """The request cannot be made: says what is missing and what to do."""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any


def add_parser(subparsers: Any) -> None:
    """Register `invoke` as a top-level `agentgw` command."""
    parser = subparsers.add_parser(
        "invoke", help="ask the agent API a question (local stack by default)", description=__doc__
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", metavar="PROMPT", help='the question, e.g. "What time is it in Tokyo?"')
    parser.add_argument("--session", metavar="ID", help="continue the conversation with this session id")
    parser.add_argument("--json", action="store_true", help="print the whole JSON response")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", metavar="URL", help="an agent API base URL (unsigned requests)")
    add_stack_arguments(parser, stack_help="a deployed stack (SigV4-signed requests)", stack_group=target)
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for the answer (default %(default)g)",
    )


def local_api_url(local_file: Path | None) -> str:
    info = read_local_info(local_file)
    if not info.api_url:
        raise CannotAsk(f"{local_file or LOCAL_JSON} has no api_url: restart `agentgw local up`")
    return info.api_url


def stack_api_url(stack_name: str, session: Any) -> str:
    return stack_output(stack_name, [API_URL_OUTPUT], session.client("cloudformation"))


def signed_headers(url: str, body: bytes, session: Any) -> dict[str, str]:
    """SigV4 headers for an API Gateway (execute-api) request with the session's credentials."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = session.get_credentials()
    if credentials is None:
        raise CannotAsk("no AWS credentials found (configure them as for the AWS CLI) to sign the request")
    region = session.region_name
    if not region:
        raise CannotAsk("no AWS region configured: pass --region or set AWS_DEFAULT_REGION")
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> ApiResponse:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CannotAsk(f"{url} unreachable: {getattr(exc, 'reason', exc)}") from None
    try:
        return ApiResponse(status, json.loads(raw or b"null"))
    except ValueError:
        return ApiResponse(status, raw.decode("utf-8", "replace"))


def ask(args: argparse.Namespace) -> ApiResponse:
    payload: dict[str, Any] = {"prompt": args.prompt}
    if args.session:
        payload["session_id"] = args.session
    body = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if args.stack:
        import boto3

        session = boto3.Session(region_name=stack_region(args.region))
        url = stack_api_url(args.stack, session).rstrip("/") + PROMPT_PATH
        headers = {**signed_headers(url, body, session), "Accept": "application/json"}
    elif args.url:
        url = args.url.rstrip("/") + PROMPT_PATH
    else:
        url = local_api_url(args.local_file).rstrip("/") + PROMPT_PATH
    return post(url, body, headers, args.timeout)


def print_answer(response: ApiResponse, out: TextIO, err: TextIO) -> None:
    body = response.body
    if response.status != 200 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else body
        print(f"agentgw invoke: HTTP {response.status}: {message}", file=err)
        if isinstance(body, dict):
            _print_tool_calls(body.get("tool_calls") or [], out)
        return
    print(body.get("answer", ""), file=out)
    _print_tool_calls(body.get("tool_calls") or [], out)
    usage = body.get("usage") or {}
    print(
        f"\n[model {body.get('model')}; tokens in {usage.get('input_tokens', 0)} / out "
        f"{usage.get('output_tokens', 0)}; session {body.get('session_id')} "
        f"(--session {body.get('session_id')} continues it)]",
        file=out,
    )


def _print_tool_calls(calls: list[dict[str, Any]], out: TextIO) -> None:
    for call in calls:
        mark = "error" if call.get("is_error") else "ok"
        arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
        print(f"  tool {call.get('name')} {arguments} -> {mark} ({call.get('latency_ms')} ms)", file=out)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    # The streams of the moment (not of import time), as pytest's capture replaces them.
    out, err = out or sys.stdout, err or sys.stderr
    try:
        response = ask(args)
    except (CannotAsk, StackLookupError) as exc:
        print(f"agentgw invoke: {exc}", file=err)
        return EXIT_CANNOT_ASK
    if args.json:
        print(json.dumps(response.body, indent=2, ensure_ascii=False), file=out)
    else:
        print_answer(response, out, err)
    return EXIT_OK if response.status == 200 else EXIT_API_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentgw invoke", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
