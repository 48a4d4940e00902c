"""What a healthy gateway looks like: every declared target's tools (as provisioning published
them), a search that finds get_time, and the get_time canary."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentgw.gateway import SEARCH_TOOL_NAME, TOOL_NAME_SEPARATOR
from agentgw.gateway.client import SearchResultError, parse_search_result, texts_of
from agentgw.tools import target_name, tool_definitions

SEARCH_TOOL = SEARCH_TOOL_NAME


class CheckFailed(Exception):
    """A stage saw something wrong; the message says what, for the report."""


@dataclass(frozen=True)
class Expectations:
    tools: tuple[str, ...]  # gateway tool names that must be listed
    search_query: str = "what time is it in Tokyo"
    search_expected: str = ""  # the tool that must rank in the top results for the query
    search_top_k: int = 3
    canary_tool: str = ""
    canary_arguments: Mapping[str, Any] = field(default_factory=lambda: {"timezone": "UTC"})
    max_clock_skew_s: float = 300.0  # the canary's reported time vs. ours
    # Target name → its gateway tool names, to say whose tools are missing (empty: unknown).
    targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_targets(cls, targets: Mapping[str, Sequence[str]], **overrides: Any) -> Expectations:
        """Every declared target's tools; search and canary on the first target with get_time."""
        by_target = {
            name: tuple(f"{name}{TOOL_NAME_SEPARATOR}{tool}" for tool in tools)
            for name, tools in targets.items()
        }
        canaries = [
            f"{name}{TOOL_NAME_SEPARATOR}get_time" for name, tools in targets.items() if "get_time" in tools
        ]
        if not canaries:
            raise ValueError(
                f"no declared target has a get_time tool for the canary (targets: {', '.join(targets)})"
            )
        defaults: dict[str, Any] = {
            "tools": tuple(name for names in by_target.values() for name in names),
            "targets": by_target,
            "search_expected": canaries[0],
            "canary_tool": canaries[0],
        }
        return cls(**{**defaults, **overrides})

    @classmethod
    def from_schemas(cls, **overrides: Any) -> Expectations:
        """The example target's tools (schemas.json), probed with get_time."""
        target = target_name()
        names = tuple(f"{target}{TOOL_NAME_SEPARATOR}{tool['name']}" for tool in tool_definitions())
        get_time = f"{target}{TOOL_NAME_SEPARATOR}get_time"
        if get_time not in names:
            raise ValueError(f"schemas.json has no get_time tool for the canary (tools: {', '.join(names)})")
        defaults: dict[str, Any] = {"tools": names, "search_expected": get_time, "canary_tool": get_time}
        return cls(**{**defaults, **overrides})


def check_expected_tools(
    listed: Sequence[str], expected: Sequence[str], targets: Mapping[str, Sequence[str]] | None = None
) -> str:
    """Every expected tool is listed; returns a detail line, raises CheckFailed otherwise
    (naming the targets whose tools are missing, when `targets` says whose they are)."""
    present = set(listed)
    missing = [name for name in expected if name not in present]
    if missing:
        message = f"missing from tools/list: {', '.join(missing)} ({len(listed)} tools listed)"
        short = [
            f"{name} ({sum(tool not in present for tool in tools)} of {len(tools)} missing)"
            for name, tools in (targets or {}).items()
            if any(tool not in present for tool in tools)
        ]
        if short:
            message += f"; targets with missing tools: {', '.join(short)}"
        raise CheckFailed(message)
    across = f" of {len(targets)} targets" if targets else ""
    return f"all {len(expected)} expected tools{across} listed"


def text_of(content: Sequence[Any]) -> str:
    """The text of the first text content item ('' when there is none)."""
    texts = texts_of(content)
    return texts[0] if texts else ""


def search_result_names(structured: Any, content: Sequence[Any]) -> list[str]:
    """Tool names from the search tool's result, most relevant first (`parse_search_result`)."""
    try:
        found = parse_search_result(structured, [text_of(content)])
    except SearchResultError as exc:
        if exc.not_json:
            raise CheckFailed(f"search result is not JSON: {exc.text[:200]!r}") from None
        raise CheckFailed("search result has no 'tools' list") from None
    return [tool["name"] for tool in found]


def check_search_rank(names: Sequence[str], expected: str, top_k: int) -> str:
    if expected not in names:
        shown = ", ".join(names[:top_k]) or "nothing"
        raise CheckFailed(f"{expected} not among the {len(names)} search results (top: {shown})")
    rank = names.index(expected) + 1
    if rank > top_k:
        raise CheckFailed(f"{expected} ranked {rank}, expected within the top {top_k}")
    return f"{expected} ranked {rank} of {len(names)}"


def check_canary_time(
    text: str, *, expected_zone: str = "UTC", now: datetime | None = None, max_skew_s: float = 300.0
) -> str:
    """The get_time result names the zone asked for and a time close to ours."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CheckFailed(f"canary result is not JSON: {text[:200]!r}") from None
    if not isinstance(data, Mapping):
        raise CheckFailed("canary result is not a JSON object")
    zone = data.get("timezone")
    if zone is not None and zone != expected_zone:
        raise CheckFailed(f"canary asked for {expected_zone} but got time zone {zone!r}")
    stamp = data.get("utc_time") or data.get("local_time")
    if not isinstance(stamp, str):
        raise CheckFailed("canary result has neither utc_time nor local_time")
    try:
        reported = datetime.fromisoformat(stamp)
    except ValueError:
        raise CheckFailed(f"canary time {stamp!r} is not ISO-8601") from None
    if reported.tzinfo is None:
        raise CheckFailed(f"canary time {stamp!r} has no UTC offset")
    now = now or datetime.now(UTC)
    skew = abs((reported - now).total_seconds())
    if skew > max_skew_s:
        raise CheckFailed(f"canary time {stamp} is {skew:.0f} s away from now (limit {max_skew_s:.0f} s)")
    return f"{expected_zone} time {stamp} (skew {skew:.0f} s)"
