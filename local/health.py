"""`agentgw health`: run the gateway health check from a terminal.

By default against the running local stack (`.agentgw/local.json`, written by
`agentgw local up`); with `--stack NAME` against a deployed stack, reading the published
configuration the stack's outputs name (AWS credentials from the usual boto3 chain).
Exit status: 0 healthy, 1 unhealthy (the failing stage and why are printed), 2 the check
could not start (no local stack, unknown stack).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from agentgw.config import ClientCredentials
from agentgw.health import (
    Expectations,
    HealthReport,
    HealthTarget,
    check_published_gateway,
    run_health_check,
)
from agentgw.health.probe import DEFAULT_STAGE_TIMEOUT_S
from agentgw.oauth import fetch_token
from agentgw.provisioning.errors import InvalidInput
from agentgw_local.arguments import positive_seconds
from agentgw_local.declared_targets import declared_targets, tool_names
from agentgw_local.locate import (
    StackLookupError,
    add_stack_arguments,
    read_local_info,
    stack_output,
    stack_region,
)
from agentgw_local.template import Template, TemplateError

EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_CANNOT_CHECK = 0, 1, 2
# The local gateway embeds its tools for search on the first query (seconds on a small
# machine); a person at a terminal can wait for that, the scheduled canary uses 10 s.
LOCAL_STAGE_TIMEOUT_S = 30.0
# Stack outputs that may name the published configuration parameter, most specific first.
CONFIG_OUTPUT_KEYS = ("ConfigParameterName", "GatewayConfigParameter", "ConfigParameter")


class CannotCheck(RuntimeError):
    """The check cannot start: says what is missing and what to do."""


def add_parser(subparsers: Any) -> None:
    """Register `health` on the `agentgw` parser's subcommands."""
    parser = subparsers.add_parser(
        "health",
        help="check the gateway end to end (token, MCP, tools, search, canary call)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_stack_arguments(parser, stack_help="check a deployed stack instead of the local one")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=(
            f"per-stage timeout (default {LOCAL_STAGE_TIMEOUT_S:g} locally, "
            f"{DEFAULT_STAGE_TIMEOUT_S:g} for a deployed stack)"
        ),
    )


def local_report(local_file: Path | None, timeout_s: float) -> HealthReport:
    info = read_local_info(local_file)
    credentials = ClientCredentials(info.client_id, info.client_secret)

    def token() -> str:
        return fetch_token(info.token_url, credentials, info.scope).value

    # The stack serves this checkout's declared targets: expect each one's tools.
    template = Template()
    expectations = Expectations.from_targets(tool_names(declared_targets(template), template.path.parent))
    # The local stack always provisions a gateway with semantic search.
    return run_health_check(
        HealthTarget(info.gateway_id, info.gateway_url, search_enabled=True),
        token,
        expectations,
        stage_timeout_s=timeout_s,
    )


def config_parameter_for_stack(stack_name: str, cloudformation: Any = None, region: str | None = None) -> str:
    """The SSM parameter holding the published configuration, from the stack's outputs."""
    import boto3

    cfn = cloudformation or boto3.client("cloudformation", region_name=region)
    return stack_output(stack_name, CONFIG_OUTPUT_KEYS, cfn)


def print_report(report: HealthReport, out: TextIO) -> None:
    for stage in report.stages:
        mark = "skip" if stage.skipped else ("ok" if stage.ok else "FAIL")
        line = f"  {mark:<4} {stage.name:<15} {stage.latency_ms:>8.1f} ms"
        note = stage.error if not stage.ok else stage.detail
        if note:
            line += f"  {note}"
        print(line, file=out)
    print(report.summary(), file=out)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    # The streams of the moment (not of import time), as pytest's capture replaces them.
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if args.stack:
            region = stack_region(args.region)
            # The SSM, Secrets Manager and CloudFormation clients all follow it.
            os.environ["AWS_DEFAULT_REGION"] = region
            parameter = config_parameter_for_stack(args.stack, region=region)
            report = check_published_gateway(parameter, stage_timeout=args.timeout or DEFAULT_STAGE_TIMEOUT_S)
        else:
            report = local_report(args.local_file, args.timeout or LOCAL_STAGE_TIMEOUT_S)
    except (CannotCheck, StackLookupError, InvalidInput, TemplateError) as exc:
        print(f"agentgw health: {exc}", file=err)
        return EXIT_CANNOT_CHECK
    if args.json:
        print(json.dumps(report.to_dict(), indent=2), file=out)
    else:
        print(f"gateway {report.gateway_id or '?'} checked at {report.checked_at}", file=out)
        print_report(report, out)
    return EXIT_HEALTHY if report.ok else EXIT_UNHEALTHY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentgw health", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
