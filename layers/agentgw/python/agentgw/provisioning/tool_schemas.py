"""A Lambda target's tool schema file: where it is, and whether AgentCore would accept it.

The file lives beside the function's code and holds `{"tools": [ToolDefinition, ...]}` in the
shape of `toolSchema.inlinePayload`. Provisioning registers it, the local gateway serves what
provisioning registered, the health check expects it, and the function validates against it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agentgw
from agentgw.gateway import TOOL_NAME_SEPARATOR
from agentgw.provisioning.errors import InvalidInput

# The layer's root (…/python locally, /opt/python on Lambda) and, in a checkout, the project's.
LAYER_ROOT = Path(agentgw.__file__).resolve().parent.parent
LAYER_PREFIX = "layers/agentgw/python/"
SCHEMA_BUNDLE = "agentgw_schemas"  # in the layer: the schema files kept beside function code
MAX_TOOLS_PER_TARGET = 1000  # AgentCore's quota
MAX_PREFIXED_TOOL_NAME = 64  # Bedrock's tool name limit (the agent aliases longer ones)
TOOL_KEYS = frozenset({"name", "description", "inputSchema", "outputSchema"})
SCHEMA_KEYS = frozenset({"type", "properties", "required", "items", "description"})
SCHEMA_TYPES = frozenset({"string", "number", "object", "array", "boolean", "integer"})


def project_root() -> Path | None:
    """The checkout this library runs from (None on Lambda, where only the layer exists)."""
    candidate = LAYER_ROOT.parent.parent.parent
    return candidate if (candidate / "template.yaml").is_file() else None


def resolve(file: str, root: Path | None = None) -> Path:
    """The schema file's path. `file` is relative to the project root; on Lambda (no project) a
    file in the layer's source tree is read from the layer, any other from the layer's bundle."""
    path = Path(file)
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = []
        if (root := root or project_root()) is not None:
            candidates.append(root / path)
        if file.startswith(LAYER_PREFIX):
            candidates.append(LAYER_ROOT / file[len(LAYER_PREFIX) :])
        else:  # functions/<name>/tools.json, which the layer build bundles (bundle_tool_schemas.py)
            candidates.append(LAYER_ROOT / SCHEMA_BUNDLE / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = ", ".join(str(c) for c in candidates) or "nowhere (not in the layer)"
    raise InvalidInput(f"tool schema file {file} not found (looked at {where})")


@dataclass(frozen=True)
class Finding:
    """One problem with a schema file: refusals fail, warnings are printed."""

    file: str
    message: str
    tool: str = ""
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}: tool {self.tool!r}" if self.tool else self.file
        return f"{'warning' if self.warning else 'error'}: {where}: {self.message}"


def _schema_findings(schema: Any, where: str) -> list[str]:
    if not isinstance(schema, Mapping):
        return [f"{where} must be an object"]
    problems = [
        f"{where} has {key!r}, which AgentCore does not accept (only {', '.join(sorted(SCHEMA_KEYS))})"
        for key in schema
        if key not in SCHEMA_KEYS
    ]
    kind = schema.get("type")
    if kind not in SCHEMA_TYPES:
        problems.append(f"{where}.type must be one of {', '.join(sorted(SCHEMA_TYPES))}, got {kind!r}")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        problems.append(f"{where}.properties must be an object")
    else:
        for name, sub in properties.items():
            problems += _schema_findings(sub, f"{where}.properties.{name}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.append(f"{where}.required must be a list of property names")
    elif isinstance(properties, Mapping):
        problems += [
            f"{where}.required names {r!r}, which is not a property" for r in required if r not in properties
        ]
    if "items" in schema:
        problems += _schema_findings(schema["items"], f"{where}.items")
    if "description" in schema and not isinstance(schema["description"], str):
        problems.append(f"{where}.description must be a string")
    return problems


def check_definitions(file: str, document: Any, target: str = "") -> list[Finding]:
    """Every problem AgentCore (or Bedrock, for warnings) would have with the file's tools."""
    if not isinstance(document, Mapping) or not isinstance(document.get("tools"), list):
        return [Finding(file, 'must be a JSON object {"tools": [...]}')]
    tools: Sequence[Any] = document["tools"]
    findings: list[Finding] = []
    named = document.get("target")  # the example's file names its target for its own messages
    if named is not None and target and named != target:
        findings.append(Finding(file, f"names target {named!r} but is declared for target {target}"))
    if not tools:
        findings.append(Finding(file, "declares no tools"))
    if len(tools) > MAX_TOOLS_PER_TARGET:
        findings.append(
            Finding(file, f"declares {len(tools)} tools; AgentCore allows {MAX_TOOLS_PER_TARGET}")
        )
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str) or not tool["name"]:
            findings.append(Finding(file, f"tools[{index}] must be an object with a non-empty name"))
            continue
        name = tool["name"]
        if name in seen:
            findings.append(Finding(file, "is declared twice", name))
        seen.add(name)
        if TOOL_NAME_SEPARATOR in name:
            findings.append(
                Finding(file, f"must not contain {TOOL_NAME_SEPARATOR!r} (the gateway's separator)", name)
            )
        findings += [
            Finding(file, f"has key {key!r}, not part of a tool definition", name)
            for key in tool
            if key not in TOOL_KEYS
        ]
        if not isinstance(tool.get("description"), str) or not tool["description"].strip():
            findings.append(
                Finding(file, "needs a description (the gateway's search and the model read it)", name)
            )
        if "inputSchema" not in tool:
            findings.append(Finding(file, "needs an inputSchema", name))
        for key in ("inputSchema", "outputSchema"):
            if key in tool:
                findings += [Finding(file, problem, name) for problem in _schema_findings(tool[key], key)]
        prefixed = f"{target}{TOOL_NAME_SEPARATOR}{name}" if target else ""
        if prefixed and len(prefixed) > MAX_PREFIXED_TOOL_NAME:
            findings.append(
                Finding(
                    file,
                    f"{prefixed} is {len(prefixed)} characters, over Bedrock's {MAX_PREFIXED_TOOL_NAME}: "
                    "the agent aliases it, other clients may refuse it",
                    name,
                    warning=True,
                )
            )
    return findings


def read(file: str, root: Path | None = None) -> Any:
    path = resolve(file, root)
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"tool schema file {file} is not readable JSON: {exc}") from exc


def load(file: str, target: str = "", root: Path | None = None) -> list[dict[str, Any]]:
    """The file's tool definitions, refused (InvalidInput) with every error it has."""
    document = read(file, root)
    errors = [str(f) for f in check_definitions(file, document, target) if not f.warning]
    if errors:
        raise InvalidInput("; ".join(errors))
    return [{key: tool[key] for key in tool if key in TOOL_KEYS} for tool in document["tools"]]
