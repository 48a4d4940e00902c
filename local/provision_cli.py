"""`agentgw local provision`: run the real provisioning workflow on emulated AWS.

Prints one line per state as it is entered and left; `--json` prints only the result
(`{"status", "states", "gateway", "targets", …}`) on stdout and the progress on stderr.

The emulated AWS it runs on is its own and ends with the command, so the result names what
was created (ids, states, names) but no URL: nothing answers at the gateway's or Cognito's
URLs afterwards (`agentgw local up` provisions a gateway and serves it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from agentgw.provisioning.errors import InvalidInput
from agentgw_local.arguments import stack_name
from agentgw_local.aws import EmulatedAws
from agentgw_local.cloudformation import deploy
from agentgw_local.execution import StateEvent
from agentgw_local.function_logs import route_function_logs
from agentgw_local.provision import ProvisionResult, provision, teardown
from agentgw_local.settings import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STACK_NAME, local_stack_urls


def add_parser(local_subparsers: Any) -> None:
    """Register `provision` on the `agentgw local` subcommands."""
    cmd = local_subparsers.add_parser(
        "provision", help="run statemachine/provision.asl.json on emulated AWS with the real handlers"
    )
    cmd.add_argument("--json", action="store_true", help="print the result as JSON (progress goes to stderr)")
    cmd.add_argument(
        "--stack-name", type=stack_name, default=DEFAULT_STACK_NAME, help="stack name (default %(default)s)"
    )
    cmd.add_argument("--wait-seconds", type=int, default=0, help="seconds between polls (default 0)")
    cmd.add_argument("--max-polls", type=int, default=60, help="polls before giving up (default 60)")
    cmd.add_argument("--exception-level", choices=["DEBUG", "NONE"], default="DEBUG")
    cmd.add_argument("--teardown", action="store_true", help="then run the Delete path (sam delete)")
    cmd.add_argument("--verbose", action="store_true", help="show the handlers' logs (on stderr)")
    cmd.set_defaults(func=run)


THROWAWAY = (
    "on this command's own emulated AWS, which ends with it: no stack serves this gateway; "
    "`agentgw local up` provisions one and serves it"
)
# Fields of the published configuration that are URLs of the throwaway emulator.
_URL_FIELDS = ("gateway_url", "token_url", "discovery_url")


def _summary(result: ProvisionResult) -> str:
    lines = [f"provisioning {result.status} {THROWAWAY}"]
    if result.gateway:
        lines.append(f"  gateway  {result.gateway['id']}  {result.gateway['status']}")
    for target in result.targets:
        lines.append(f"  target   {target['name']}  {target['id']}  {target['status']}")
    if result.config:
        lines.append(f"  config   {result.parameter_name}")
        lines.append(f"  secret   {result.secret_arn}  (value in Secrets Manager only)")
    if result.error:
        lines.append(f"  error    {result.error}")
    return "\n".join(lines)


def run(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    progress = err if args.json else out

    def on_state(event: StateEvent) -> None:
        print(event.line(), file=progress, flush=True)

    # The published URLs take the local stack's shape; nothing serves them (see THROWAWAY).
    os.environ.update(local_stack_urls(f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"))
    with EmulatedAws() as aws:
        deploy(aws, stack_name=args.stack_name)  # loads the handlers, so their logs can be routed
        restore_logs = route_function_logs(err, None if args.verbose else logging.WARNING)
        try:
            document, ok = _provision(aws, args, on_state, out)
        except InvalidInput as exc:  # the execution input's own checks (--wait-seconds, --max-polls)
            print(f"agentgw local provision: {exc}", file=err, flush=True)
            return 2
        finally:
            restore_logs()
    if args.json:
        print(json.dumps(document, indent=2), file=out, flush=True)
    return 0 if ok else 1


def _provision(
    aws: EmulatedAws, args: argparse.Namespace, on_state: Any, out: Any
) -> tuple[dict[str, Any], bool]:
    result = provision(
        aws,
        stack_name=args.stack_name,
        on_state=on_state,
        wait_seconds=args.wait_seconds,
        max_polls=args.max_polls,
        exception_level=args.exception_level,
    )
    document = _without_urls(result.to_json())
    ok = result.status == "SUCCEEDED"
    if not args.json:
        print(_summary(result), file=out, flush=True)
    if args.teardown:
        removed = teardown(aws, stack_name=args.stack_name, on_state=on_state)
        deleted = (removed.output.get("teardown") or {}).get("deleted", [])
        document["teardown"] = {"status": removed.status, "deleted": deleted, "error": removed.error}
        ok = ok and removed.status == "SUCCEEDED"
        if not args.json:
            print(f"teardown {removed.status}: {len(deleted)} resources deleted", file=out, flush=True)
    return document, ok


def _without_urls(document: dict[str, Any]) -> dict[str, Any]:
    """The result without the URLs of the throwaway emulator (they would answer 404 or nothing)."""
    if document.get("gateway"):
        document["gateway"] = {k: v for k, v in document["gateway"].items() if k != "url"}
    if document.get("config"):
        document["config"] = {k: v for k, v in document["config"].items() if k not in _URL_FIELDS}
    return document
