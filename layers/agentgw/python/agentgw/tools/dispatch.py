"""Serve the example target's tools behind the AgentCore Gateway Lambda contract.

The event is the tool's `arguments` object and nothing else; the tool is named by
`context.client_context.custom["bedrockAgentCoreToolName"]`, prefixed `{target}___`.
`handle` picks the tool by exact name, validates the arguments against the same
`schemas.json` the gateway registers, runs it, and returns its JSON result. Every failure
is raised as a `ToolError` whose message tells the agent what to change or whether to
retry (see `agentgw.tools.errors` for why raising is the contract).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from jsonschema import Draft202012Validator

from agentgw import lambda_context as keys
from agentgw.tools import TOOL_NAME_SEPARATOR, target_name, tool_definitions
from agentgw.tools.errors import (
    InternalToolError,
    InvalidArgumentsError,
    NotFoundError,
    ToolError,
    UnknownToolError,
)
from agentgw.tools.local_time import get_time
from agentgw.tools.weather import get_weather

# Only for `sam local invoke`, which cannot send a client context: names the tool (prefixed
# or bare) when the invocation carries none. Never consulted when the gateway names a tool.
ENV_FALLBACK_TOOL_NAME = "AGENTGW_FALLBACK_TOOL_NAME"
MAX_STRING_LENGTH = 200  # longer "place names" or "zones" are prompts pasted by mistake
DEADLINE_MARGIN_S = 0.5  # stop calling upstreams this long before Lambda's own timeout
METRICS_NAMESPACE = "agentgw"


@dataclass(frozen=True)
class Call:
    """What a tool implementation gets besides its arguments."""

    deadline: float | None  # time.monotonic() value; None when the context gives no limit


ToolFunction = Callable[[dict[str, Any], Call], dict[str, Any]]

TOOLS: dict[str, ToolFunction] = {
    "get_time": lambda args, call: get_time(args["timezone"]),
    "get_weather": lambda args, call: get_weather(args["location"], deadline=call.deadline),
}


@dataclass(frozen=True)
class GatewayRequest:
    """The AgentCore keys of one invocation's client context."""

    tool_name: str  # as sent: "{target}___{tool}"
    gateway_id: str | None = None
    target_id: str | None = None
    mcp_message_id: str | None = None
    agentcore_request_id: str | None = None
    message_version: str | None = None

    @property
    def tool(self) -> str:
        """The bare tool name: everything after the first `___` (targets have no `_`)."""
        _, separator, tool = self.tool_name.partition(TOOL_NAME_SEPARATOR)
        return tool if separator else self.tool_name


def gateway_request(
    context: Any, environ: Mapping[str, str] | None = None, tools: ToolSet | None = None
) -> GatewayRequest:
    client_context = getattr(context, "client_context", None)
    custom = getattr(client_context, "custom", None) or {}
    if not isinstance(custom, Mapping):
        custom = {}
    tool_name = custom.get(keys.TOOL_NAME_KEY)
    if not tool_name:
        tool_name = (os.environ if environ is None else environ).get(ENV_FALLBACK_TOOL_NAME, "").strip()
    if not tool_name or not isinstance(tool_name, str):
        raise UnknownToolError(
            f"No tool name: this function is an AgentCore Gateway Lambda target and takes the tool "
            f"from the client context key {keys.TOOL_NAME_KEY!r}, which this invocation did not carry. "
            f"Call it through the gateway (tools: {(tools or example()).tool_list()})."
        )

    def text(key: str) -> str | None:
        value = custom.get(key)
        return None if value is None else str(value)

    return GatewayRequest(
        tool_name=tool_name,
        gateway_id=text(keys.GATEWAY_ID_KEY),
        target_id=text(keys.TARGET_ID_KEY),
        mcp_message_id=text(keys.MCP_MESSAGE_ID_KEY),
        agentcore_request_id=text(keys.AWS_REQUEST_ID_KEY),
        message_version=text(keys.MESSAGE_VERSION_KEY),
    )


class ToolSet:
    """One target's tools: their definitions (its schema file) and their implementations.

    A Lambda target's handler builds one (`from_file` with the `tools.json` beside it) and passes
    it to `handle`; the example target's is `example()`.
    """

    def __init__(
        self, definitions: list[dict[str, Any]], implementations: Mapping[str, ToolFunction], target: str = ""
    ) -> None:
        self.definitions = {tool["name"]: tool for tool in definitions}
        self.implementations = implementations
        self.target = target  # only for messages; the gateway's prefix names the target at run time
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def from_file(cls, path: Path, implementations: Mapping[str, ToolFunction], target: str = "") -> ToolSet:
        """The tools in `path` (refused as AgentCore would refuse them), each with its implementation."""
        from agentgw.provisioning import tool_schemas

        definitions = tool_schemas.load(str(path), target)
        defined = {tool["name"] for tool in definitions}
        if defined != set(implementations):
            raise ValueError(
                f"{path.name} defines {sorted(defined)} but the handler implements {sorted(implementations)}"
            )
        return cls(definitions, implementations, target)

    def validator(self, tool: str) -> Draft202012Validator:
        if tool not in self._validators:
            self._validators[tool] = Draft202012Validator(self.definitions[tool]["inputSchema"])
        return self._validators[tool]

    def tool_list(self) -> str:
        prefix = f"{self.target}{TOOL_NAME_SEPARATOR}" if self.target else ""
        return ", ".join(f"{prefix}{name}" for name in self.definitions)

    def expected(self, tool: str) -> str:
        schema = self.definitions[tool]["inputSchema"]
        required = set(schema.get("required", []))
        parts = [
            f"{name} ({prop.get('type', 'any')}{', required' if name in required else ''})"
            for name, prop in schema.get("properties", {}).items()
        ]
        return f"{tool} takes {{{', '.join(parts)}}}"

    def validate_arguments(self, tool: str, arguments: Any) -> dict[str, Any]:
        """Check `arguments` against the tool's input schema; raise `InvalidArgumentsError`.

        The schema model AgentCore accepts has no `additionalProperties` or `minLength`, so
        unknown arguments and blank or overlong strings are checked here, by hand.
        """
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise InvalidArgumentsError(
                f"Invalid arguments for {tool}: expected a JSON object, got {type(arguments).__name__}. "
                f"{self.expected(tool)}."
            )
        problems = [
            (f"{'.'.join(str(p) for p in error.absolute_path)}: " if error.absolute_path else "")
            + error.message
            for error in sorted(
                self.validator(tool).iter_errors(arguments), key=lambda e: list(e.absolute_path)
            )
        ]
        known = self.definitions[tool]["inputSchema"].get("properties", {})
        problems += [f"unexpected argument {name!r}" for name in arguments if name not in known]
        for name, value in arguments.items():
            if name in known and isinstance(value, str):
                if not value.strip():
                    problems.append(f"{name!r} must not be empty")
                elif len(value) > MAX_STRING_LENGTH:
                    problems.append(f"{name!r} is longer than {MAX_STRING_LENGTH} characters")
        if problems:
            raise InvalidArgumentsError(
                f"Invalid arguments for {tool}: {'; '.join(problems)}. {self.expected(tool)}."
            )
        return {name: value.strip() if isinstance(value, str) else value for name, value in arguments.items()}


@cache
def example() -> ToolSet:
    """The example target's tools (agentgw/tools/schemas.json, implemented in this package)."""
    return ToolSet(tool_definitions(), TOOLS, target_name())


def validate_arguments(tool: str, arguments: Any, tools: ToolSet | None = None) -> dict[str, Any]:
    return (tools or example()).validate_arguments(tool, arguments)


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    millis = remaining() if callable(remaining) else 0
    if not isinstance(millis, int | float) or millis <= 0:
        return None
    seconds = millis / 1000
    return time.monotonic() + seconds - min(DEADLINE_MARGIN_S, seconds / 10)


def run_tool(
    request: GatewayRequest, event: Any, context: Any, tools: ToolSet | None = None
) -> dict[str, Any]:
    """Resolve, validate and run the tool; no logging or metrics (see `handle`)."""
    tools = tools or example()
    tool = request.tool
    if tool not in tools.implementations or tool not in tools.definitions:
        raise UnknownToolError(
            f"Unknown tool {request.tool_name!r}. This target serves: {tools.tool_list()}."
        )
    arguments = tools.validate_arguments(tool, event)
    return tools.implementations[tool](arguments, Call(deadline=_deadline(context)))


def handle(
    event: Any,
    context: Any,
    *,
    logger: Logger,
    tracer: Tracer,
    metrics_namespace: str = METRICS_NAMESPACE,
    tools: ToolSet | None = None,
) -> dict[str, Any]:
    """The tool function's whole job, for the Lambda handler to call once. `tools`: the target's
    tools (default: the example target's).

    Metrics are per invocation (Powertools' `EphemeralMetrics`, one EMF document flushed
    before returning), not the process-wide `Metrics` singleton: callers that run several
    invocations at once in one process (the local gateway) would otherwise flush each
    other's values under the wrong `tool` dimension.
    """
    # The function's service, as its logger has it (read from the environment at import; in the
    # local stack's shared process the environment at invocation time is not the function's).
    metrics = EphemeralMetrics(namespace=metrics_namespace, service=logger.service)
    started = time.perf_counter()
    tool = "unknown"  # metric dimension until the name is known to be one of ours
    try:
        tools = tools or example()
        request = gateway_request(context, tools=tools)
        # Context-local keys: callers that run several invocations in one process (the local
        # gateway's worker threads) must not see one call's gateway ids on another's logs.
        logger.thread_safe_append_keys(
            tool_name=request.tool,
            gateway_tool_name=request.tool_name,
            gateway_id=request.gateway_id,
            target_id=request.target_id,
            mcp_message_id=request.mcp_message_id,
            agentcore_request_id=request.agentcore_request_id,
        )
        if request.tool in tools.implementations:
            tool = request.tool
        tracer.put_annotation("tool", tool)
        with tracer.provider.in_subsegment(f"## {tool}"):
            result = run_tool(request, event, context, tools)
    except ToolError as exc:
        _record(metrics, tool, started, failed=True, error_type=type(exc).__name__)
        # The caller's mistakes are warnings; upstream trouble and misconfiguration are errors.
        caller_error = isinstance(exc, InvalidArgumentsError | NotFoundError | UnknownToolError)
        log = logger.warning if caller_error else logger.error
        log(
            "tool call failed",
            extra={"error_type": type(exc).__name__, "error": str(exc), "retryable": exc.retryable},
        )
        raise
    except Exception as exc:
        _record(metrics, tool, started, failed=True, error_type="InternalToolError")
        logger.exception("tool call failed unexpectedly")
        request_id = getattr(context, "aws_request_id", "unknown")
        raise InternalToolError(
            f"{tool} failed because of an internal error (request {request_id}); this is a bug in the "
            "tool, not in the arguments. Try again later."
        ) from exc
    _record(metrics, tool, started, failed=False)
    logger.info("tool call succeeded", extra={"latency_ms": _elapsed_ms(started)})
    return result


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _record(
    metrics: EphemeralMetrics, tool: str, started: float, *, failed: bool, error_type: str = ""
) -> None:
    """Per-tool latency, calls and errors (ToolErrors is 0 on success so its average is a rate)."""
    metrics.add_dimension(name="tool", value=tool)
    metrics.add_metric(name="ToolLatency", unit=MetricUnit.Milliseconds, value=_elapsed_ms(started))
    metrics.add_metric(name="ToolInvocations", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ToolErrors", unit=MetricUnit.Count, value=1 if failed else 0)
    if error_type:
        metrics.add_metadata(key="error_type", value=error_type)
    metrics.flush_metrics()
