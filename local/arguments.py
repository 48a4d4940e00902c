"""Argument types for the `agentgw` commands: a bad value is argparse's usage error (exit 2, one
line naming the option) before anything starts, instead of a traceback from deep in the stack."""

from __future__ import annotations

import argparse
import math

from agentgw.provisioning.errors import InvalidInput
from agentgw.provisioning.names import ResourceNames


def port(text: str) -> int:
    """A TCP port; 0 lets the system pick a free one."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (0-65535)")
    return number


def positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return number


def positive_seconds(text: str) -> float:
    # socket timeouts take neither 0 (non-blocking: "Operation now in progress") nor a negative.
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return seconds


def query(text: str) -> str:
    """Words to search for: something other than blanks."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def stack_name(text: str) -> str:
    """A CloudFormation stack name, by the rule provisioning derives every resource name from."""
    try:
        ResourceNames(stack_name=text, account_id="000000000000", region="us-east-1")
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
