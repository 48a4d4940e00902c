"""Tool names the model can use, the gateway search answer, the tool-list cache."""

from __future__ import annotations

import re

import mcp.types
import pytest

from agentgw.agent.gateway_session import ToolLoadingError, TtlCache
from agentgw.agent.tool_selection import parse_search_result, tool_alias

MODEL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_short_names_are_kept() -> None:
    assert tool_alias("timeweather___get_time") == "timeweather___get_time"
    assert tool_alias("a" * 64) == "a" * 64


@pytest.mark.parametrize(
    "name",
    [
        "unitsandstock___convert_between_measurement_units_for_length_mass_volume_and_temperature_values",
        "t" * 100 + "___" + "x" * 100,
        "odd.target___tool with spaces",
        "a" * 65,
    ],
)
def test_long_or_odd_names_get_a_valid_stable_alias(name: str) -> None:
    alias = tool_alias(name)
    assert MODEL_NAME.match(alias)
    assert alias == tool_alias(name)  # stable across requests (sessions keep toolUse names)


def test_aliases_of_similar_long_names_differ() -> None:
    base = "target___" + "x" * 80
    assert tool_alias(base + "_one") != tool_alias(base + "_two")


def test_alias_keeps_the_tool_part_readable() -> None:
    alias = tool_alias("a-very-long-target-name-that-goes-on-and-on-and-on___get_time_zone_offset")
    assert alias.startswith("get_time_zone_offset_")


def test_search_result_from_structured_content_or_text() -> None:
    tools = [{"name": "t___a", "description": "A", "inputSchema": {"type": "object"}}]
    assert parse_search_result({"tools": tools}, []) == tools
    assert parse_search_result(None, ['{"tools": [{"name": "t___a"}]}']) == [{"name": "t___a"}]
    # structuredContent wins when both are there; entries without a name are dropped.
    assert parse_search_result({"tools": [{"name": "s"}, {"x": 1}]}, ['{"tools": []}']) == [{"name": "s"}]
    with pytest.raises(ToolLoadingError, match="not JSON"):
        parse_search_result(None, ["tools: a, b"])
    with pytest.raises(ToolLoadingError, match='no "tools" list'):
        parse_search_result(None, ['{"results": []}'])


def test_tool_list_cache_ttl() -> None:
    now = [100.0]
    cache: TtlCache[list[mcp.types.Tool]] = TtlCache(clock=lambda: now[0])
    fetched: list[int] = []
    tool = mcp.types.Tool.model_validate({"name": "a", "inputSchema": {"type": "object"}})

    def get(key: str, ttl_s: float) -> list[mcp.types.Tool]:
        """What select_tools does: the cached list, or a fetched one, stored."""
        listed = cache.lookup(key, ttl_s)
        if listed is None:
            fetched.append(1)
            listed = [tool]
            cache.store(key, listed)
        return listed

    assert get("gw", 60) == [tool]
    now[0] += 59
    assert get("gw", 60) == [tool]
    assert len(fetched) == 1
    get("other-gw", 60)  # per gateway URL
    assert len(fetched) == 2
    now[0] += 2
    get("gw", 60)
    assert len(fetched) == 3
    get("gw", 0)  # a TTL of 0 means no caching
    assert len(fetched) == 4
    assert cache.fetches == 4


def test_a_forgotten_entry_is_fetched_again_and_others_stay() -> None:
    """What a gateway's -32022 does to the cached handshake: only that gateway asks again."""
    cache: TtlCache[str] = TtlCache(clock=lambda: 0.0)
    cache.store("gw-a", "2026-07-28")
    cache.store("gw-b", "2026-07-28")
    cache.forget("gw-a")
    cache.forget("gw-unknown")  # nothing to forget: no error
    assert cache.lookup("gw-a", 300) is None
    assert cache.lookup("gw-b", 300) == "2026-07-28"
