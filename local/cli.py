"""The `agentgw` command line: `agentgw local provision|up`, `agentgw tools …`, ….

Each command lives in its own module with `add_parser(subparsers)` (registering itself
and `set_defaults(func=run)`) and `run(args) -> exit code`. Adding a command is one line
in LOCAL_COMMANDS (under `agentgw local`) or COMMANDS (top level).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

# Modules whose add_parser() registers a subcommand of `agentgw local`.
LOCAL_COMMANDS: tuple[str, ...] = (
    "agentgw_local.provision_cli",
    "agentgw_local.up",
)
# Modules whose add_parser() registers a top-level subcommand.
COMMANDS: tuple[str, ...] = (
    "agentgw_local.tools_cli",
    "agentgw_local.invoke",
    "agentgw_local.health",
    "agentgw_local.targets_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentgw", description="AgentCore Gateway as a SAM application, with an offline local stack."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    local = subparsers.add_parser("local", help="the offline local stack (emulated AWS on loopback)")
    local_subparsers = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)
    for module in LOCAL_COMMANDS:
        importlib.import_module(module).add_parser(local_subparsers)
    for module in COMMANDS:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`agentgw tools list | head -1`): stop quietly, as a command killed
        # by SIGPIPE would; stdout goes to /dev/null so the exit-time flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
