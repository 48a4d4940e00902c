"""The errors a tool call can end in, each with a message an agent can act on.

The tool function *raises* these (it never returns an error-shaped success). Why: the
gateway turns a Lambda's returned JSON into one text content item of a *successful* result
(`isError: false`) -- AWS documents no returned-payload error shape, so a returned
`{"error": ...}` would read as success to the agent and to every metric. An unhandled Lambda
error is what the gateway reports as `isError: true`. With the gateway's
`exceptionLevel: DEBUG` (documented to return "details on ... lambda function errors"; the
exact wording is AWS's, our local gateway uses "errorType: errorMessage") the agent reads
our `str(exc)`; without it the gateway masks every failure as "An internal error occurred.
Please retry later.", so the message is also logged. Messages never carry stack traces,
internal paths or secrets.
"""

from __future__ import annotations


class ToolError(Exception):
    """Base class: the call failed for a reason stated in `str(exc)`."""

    #: Whether retrying the same call later may succeed (upstream trouble), as opposed to
    #: the caller having to change the call (bad input).
    retryable: bool = False


class UnknownToolError(ToolError):
    """The gateway asked for a tool this function does not serve."""


class InvalidArgumentsError(ToolError):
    """The arguments do not match the tool's input schema or are unusable."""


class NotFoundError(ToolError):
    """The input was well-formed but names nothing we can resolve (zone, place)."""


class UpstreamError(ToolError):
    """A service the tool depends on failed, was unreachable or too slow."""

    retryable = True


class ConfigurationError(ToolError):
    """The deployment is misconfigured (e.g. a bad environment variable)."""


class InternalToolError(ToolError):
    """An unexpected bug; the details are in the logs, not in the message."""
