"""The example tool target (get_time, get_weather) and its schemas.

`schemas.json` is the single source of truth for the tool definitions: provisioning
registers it as the target's inline payload, the local gateway serves it, and the tool
function validates arguments against it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from agentgw.gateway import TOOL_NAME_SEPARATOR

__all__ = ["TOOL_NAME_SEPARATOR", "load_schemas", "target_name", "tool_definitions"]


@cache
def load_schemas() -> dict[str, Any]:
    """Return `{"target": name, "tools": [{name, description, inputSchema}, ...]}`."""
    return json.loads(resources.files(__package__).joinpath("schemas.json").read_text("utf-8"))


def tool_definitions() -> list[dict[str, Any]]:
    """The tool definitions, in the shape of `toolSchema.inlinePayload`."""
    return load_schemas()["tools"]


def target_name() -> str:
    return load_schemas()["target"]
