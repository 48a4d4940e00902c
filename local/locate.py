"""Where a stack is: the running local stack's connection file, or a deployed stack's outputs.

Light on imports on purpose: the CLI commands that only need to find a stack do not load the
local stack itself (moto, the gateway, the search model).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class StackLookupError(RuntimeError):
    """The stack cannot be found or its description cannot be used (the message says why)."""


LOCAL_JSON = Path(".agentgw") / "local.json"


@dataclass(frozen=True)
class StackInfo:
    """Where the running stack is and how to get a token (contains the client secret)."""

    gateway_id: str
    gateway_url: str
    token_url: str
    discovery_url: str
    client_id: str
    client_secret: str
    scope: str
    region: str
    api_url: str | None = None
    aws_endpoint_url: str | None = None  # emulated AWS, for the user's own boto3 clients

    def __repr__(self) -> str:  # never print the secret
        return (
            f"StackInfo(gateway_url={self.gateway_url!r}, client_id={self.client_id!r}, client_secret='***')"
        )

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StackInfo:
        data = json.loads(text)
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

    def write(self, path: Path = LOCAL_JSON) -> Path:
        """Write the file readable by its owner only (it holds the client secret)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.to_json())
        os.chmod(path, 0o600)  # O_CREAT's mode does not apply to an existing file
        return path


def add_stack_arguments(parser: Any, *, stack_help: str, stack_group: Any = None) -> None:
    """The options every command that talks to a stack takes: `--stack`, `--region`, `--local-file`.

    `stack_group` takes `--stack` instead of `parser` when it excludes another target (`--url`).
    """
    (stack_group or parser).add_argument("--stack", metavar="NAME", help=stack_help)
    parser.add_argument("--region", help="the deployed stack's region (default: boto3's, else AWS_REGION)")
    parser.add_argument(
        "--local-file",
        type=Path,
        default=None,
        help=f"the local stack's connection file (default {LOCAL_JSON})",
    )


def stack_region(region: str | None) -> str:
    """The AWS region of a deployed stack: `--region`, else boto3's (AWS_DEFAULT_REGION, the
    profile), else AWS_REGION (which the AWS CLI reads and boto3 does not)."""
    import boto3

    found = region or boto3.session.Session().region_name or os.environ.get("AWS_REGION")
    if not found:
        raise StackLookupError(
            "no AWS region for --stack: pass --region, or set AWS_DEFAULT_REGION or a profile's region"
        )
    return found


def read_local_info(path: Path | None = None) -> StackInfo:
    """The running local stack's description, from the file `agentgw local up` writes."""
    path = path or LOCAL_JSON
    try:
        return StackInfo.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackLookupError(
            f"{path} not found: start the local stack with `agentgw local up` first"
        ) from None
    except (ValueError, TypeError) as exc:
        raise StackLookupError(
            f"{path} is not a local stack file ({exc}); restart `agentgw local up`"
        ) from None


def stack_output(stack_name: str, keys: Sequence[str], cloudformation: Any) -> str:
    """The first of `keys` among the deployed stack's outputs."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise StackLookupError(f"stack {stack_name}: {exc.response['Error'].get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise StackLookupError(f"cannot reach CloudFormation: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])} if stacks else {}
    for key in keys:
        if outputs.get(key):
            return str(outputs[key])
    raise StackLookupError(
        f"stack {stack_name} has no output {' or '.join(keys)}; is it deployed and provisioned?"
    )
