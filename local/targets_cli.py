"""`agentgw targets check|list|new`: the gateway targets template.yaml declares.

`check` is the preflight: every target and tool schema problem provisioning or AgentCore would
refuse (exit status 1), and warnings for what Bedrock would (exit status 0). `list` shows each
declared target, its kind, tool count and whether the gateway serves its tools: the running local
stack's by default, a deployed stack's with `--stack NAME`. `new NAME` scaffolds a Lambda target
(`agentgw_local.scaffold_target`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from agentgw.gateway import TOOL_NAME_SEPARATOR
from agentgw.provisioning.errors import InvalidInput
from agentgw_local.declared_targets import DeclaredTarget, declared_targets, preflight, tool_names
from agentgw_local.locate import StackLookupError, add_stack_arguments, stack_region
from agentgw_local.template import TEMPLATE_PATH, Template, TemplateError

EXIT_OK, EXIT_REFUSED, EXIT_CANNOT_READ = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    """Register `targets` on the `agentgw` parser's subcommands."""
    targets = subparsers.add_parser("targets", help="the gateway targets template.yaml declares")
    sub = targets.add_subparsers(dest="targets_command", required=True)
    check = sub.add_parser(
        "check", help="preflight: names, tool schemas and quotas, as AgentCore checks them"
    )
    check.add_argument(
        "--template", type=Path, default=TEMPLATE_PATH, help="the SAM template (default: the project's)"
    )
    check.set_defaults(func=run)
    listing = sub.add_parser("list", help="declared targets, kind, tool count, status")
    listing.add_argument(
        "--template", type=Path, default=TEMPLATE_PATH, help="the SAM template (default: the project's)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_stack_arguments(listing, stack_help="a deployed stack (default: the local stack)")
    listing.set_defaults(func=run)
    new = sub.add_parser(
        "new", help="scaffold a Lambda target: function, tool schema, events, test, template"
    )
    new.add_argument("name", help="the target's name: lowercase letters/digits, single hyphens")
    new.add_argument(
        "--template", type=Path, default=TEMPLATE_PATH, help="the SAM template (default: the project's)"
    )
    new.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if args.targets_command == "new":
        return new_target(args.template.resolve().parent, args.name, out, err)
    try:
        template = Template(args.template)
    except TemplateError as exc:
        print(f"agentgw targets: {exc}", file=err)
        return EXIT_CANNOT_READ
    if args.targets_command == "check":
        return check(template, out)
    return list_targets(template, args, out, err)


def new_target(project: Path, name: str, out: TextIO, err: TextIO) -> int:
    from agentgw_local.scaffold_target import ScaffoldError, create

    try:
        made = create(project, name)
    except ScaffoldError as exc:
        print(f"agentgw targets new: {exc}", file=err)
        return EXIT_REFUSED
    for path in made.files:
        print(f"  wrote {path.relative_to(project)}", file=out)
    print(
        f"target {made.name} ({made.logical_id}): edit functions/{made.name}/tools.json and app.py; "
        "`agentgw local up` serves it, `sam build && sam deploy` deploys it",
        file=out,
    )
    return EXIT_OK


def check(template: Template, out: TextIO) -> int:
    findings = preflight(template)
    for finding in findings:
        print(finding, file=out)
    errors = [f for f in findings if not f.warning]
    if errors:
        print(
            f"{len(errors)} problem{'s' if len(errors) > 1 else ''}: the targets would be refused", file=out
        )
        return EXIT_REFUSED
    targets = declared_targets(template)
    tools = tool_names(targets, template.path.parent)
    count = sum(len(names) for names in tools.values())
    print(f"ok: {len(targets)} target{'s' if len(targets) > 1 else ''}, {count} tools", file=out)
    return EXIT_OK


def served_tools(args: argparse.Namespace) -> list[str]:
    """The tool names the gateway lists (raises what `agentgw tools` reports)."""
    import anyio

    from agentgw_local import tools_cli

    if args.stack:
        target = tools_cli.deployed_target(args.stack, None, stack_region(args.region))
    else:
        target = tools_cli.local_target(args.local_file)
    return [tool["name"] for tool in anyio.run(tools_cli.with_session, target, tools_cli.list_tools)]


def status(target: DeclaredTarget, tools: list[str], served: set[str] | None) -> str:
    if served is None:
        return "unknown"
    listed = sum(f"{target.name}{TOOL_NAME_SEPARATOR}{tool}" in served for tool in tools)
    if listed == len(tools):
        return "serving"
    return "not served" if listed == 0 else f"partial ({listed} of {len(tools)} tools)"


def list_targets(template: Template, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from agentgw_local import tools_cli

    try:
        targets = declared_targets(template)
        tools = tool_names(targets, template.path.parent)
    except InvalidInput as exc:
        print(f"agentgw targets: {exc} (run `agentgw targets check`)", file=err)
        return EXIT_REFUSED
    where = f"stack {args.stack}" if args.stack else "the local stack"
    served: set[str] | None
    try:
        served = set(served_tools(args))
    except (tools_cli.CliError, StackLookupError) as exc:
        print(f"agentgw targets: status unknown: {where}: {exc}", file=err)
        served = None
    except Exception as exc:  # unreachable gateway, MCP error: the declaration still lists
        print(f"agentgw targets: status unknown: {where}: {type(exc).__name__}: {exc}", file=err)
        served = None
    rows = [
        {
            "name": t.name,
            "kind": t.kind,
            "function": t.function,
            "tools": len(tools[t.name]),
            "status": status(t, tools[t.name], served),
            "schema_file": t.schema_file,
        }
        for t in targets
    ]
    if args.json:
        print(json.dumps({"where": where, "targets": rows}, indent=2), file=out)
        return EXIT_OK
    width = max(len(row["name"]) for row in rows)
    print(f"targets declared in {template.path.name}; status on {where}", file=out)
    for row in rows:
        print(
            f"  {row['name']:<{width}}  {row['kind']:<7} {row['tools']:>4} tools  {row['status']:<12} "
            f"{row['function']}",
            file=out,
        )
    return EXIT_OK
