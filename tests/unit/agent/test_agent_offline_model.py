"""The offline provider's pieces, and the provider inside a real Strands agent loop."""

from __future__ import annotations

import json
from typing import Any

import pytest
from strands import Agent, tool

from agentgw.agent.offline import (
    MissingArgument,
    OfflineModel,
    describe_result,
    extract_place,
    fill_arguments,
    is_follow_up,
)
from agentgw.tools import tool_definitions

TIME_SCHEMA = next(t for t in tool_definitions() if t["name"] == "get_time")["inputSchema"]
WEATHER_SCHEMA = next(t for t in tool_definitions() if t["name"] == "get_weather")["inputSchema"]


@pytest.mark.parametrize(
    ("prompt", "place"),
    [
        ("What time is it in Tokyo?", "Tokyo"),
        ("what time is it in new york right now?", "new york"),
        ("Time in São Paulo", "São Paulo"),
        ("What is the weather like in Paris, France today?", "Paris, France"),
        ("Tokyo time?", "Tokyo"),
        ("tokyo", "tokyo"),
        ("Weather for Seattle please", "Seattle"),
        ("What time is it in Asia/Kolkata", "Asia/Kolkata"),
        ("What is the time in the city of London at the moment?", "London"),
        ("How hot is it in Rio de Janeiro", "Rio de Janeiro"),
        ("What's the time in UTC?", "UTC"),
        ('Time in "Ho Chi Minh City"', "Ho Chi Minh City"),
        ("What time is it?", None),
        ("hello there", None),
    ],
)
def test_extract_place(prompt: str, place: str | None) -> None:
    assert extract_place(prompt) == place


def test_fill_arguments_by_schema() -> None:
    assert fill_arguments(TIME_SCHEMA, "What time is it in Tokyo?") == {"timezone": "Tokyo"}
    assert fill_arguments(WEATHER_SCHEMA, "weather in Paris?") == {"location": "Paris"}
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "verbose": {"type": "boolean"},
        },
        "required": ["query", "unit", "days"],
    }
    assert fill_arguments(schema, "forecast for 3 days in fahrenheit") == {
        "query": "forecast for 3 days in fahrenheit",
        "unit": "fahrenheit",
        "days": 3,
    }
    with pytest.raises(MissingArgument, match="'days'"):
        fill_arguments(schema, "forecast in celsius")
    with pytest.raises(MissingArgument, match="'timezone'"):
        fill_arguments(TIME_SCHEMA, "What time is it?")


def test_describe_results_plainly() -> None:
    time_result = {
        "timezone": "Asia/Tokyo",
        "local_time": "2026-11-24T04:41:00+09:00",
        "utc_offset": "+09:00",
        "abbreviation": "JST",
        "is_dst": False,
        "weekday": "Tuesday",
        "city": "Tokyo",
    }
    text = describe_result("timeweather___get_time", {"timezone": "Tokyo"}, json.dumps(time_result), False)
    assert text == "It is 04:41 on Tuesday, 24 November 2026 in Tokyo (Asia/Tokyo, UTC+09:00, JST)."
    weather = {
        "location": {"name": "Paris", "country": "France"},
        "temperature_c": 11.2,
        "temperature_f": 52.2,
        "condition": "overcast",
        "wind": {"speed_kmh": 14.0, "direction": "SW"},
    }
    assert describe_result("get_weather", {"location": "Paris"}, json.dumps(weather), False) == (
        "In Paris, France it is 11.2 °C (52.2 °F), overcast, wind 14.0 km/h from the SW."
    )
    assert describe_result("x___t", {"a": 1}, '{"k": [1, 2]}', False) == "t (a=1) returned: k: 1, 2"
    assert (
        describe_result("x___t", {}, "Unknown zone", True) == "The tool t () reported an error: Unknown zone"
    )


def test_offline_model_drives_a_strands_agent_through_one_tool() -> None:
    calls: list[str] = []

    @tool
    def get_time(timezone: str) -> dict[str, Any]:
        """Get the current local time in a time zone or city.

        Args:
            timezone: IANA time zone name or a city name.
        """
        calls.append(timezone)
        return {"timezone": "Asia/Tokyo", "local_time": "2026-11-24T04:41:00+09:00", "city": "Tokyo"}

    @tool
    def get_weather(location: str) -> dict[str, Any]:
        """Get the current weather for a place.

        Args:
            location: A place name.
        """
        raise AssertionError("not this one")

    # The search ranked get_time first: the model follows that ranking.
    model = OfflineModel(ranking=["get_time", "get_weather"])
    agent = Agent(model=model, tools=[get_time, get_weather], callback_handler=None)
    result = agent("What time is it in Tokyo?")

    assert calls == ["Tokyo"]
    assert str(result).strip() == "It is 04:41 on Tuesday, 24 November 2026 in Tokyo (Asia/Tokyo)."
    assert agent.event_loop_metrics.accumulated_usage["inputTokens"] == 0


def test_offline_model_without_a_fitting_tool_answers_without_calling() -> None:
    @tool
    def get_time(timezone: str) -> str:
        """Get the time.

        Args:
            timezone: zone or city
        """
        raise AssertionError("must not be called")

    agent = Agent(model=OfflineModel(ranking=["get_time"]), tools=[get_time], callback_handler=None)
    answer = str(agent("What time is it?"))
    assert "offline provider (no language model)" in answer
    assert "could not tell the 'timezone'" in answer


@pytest.mark.parametrize(
    ("prompt", "follow_up"),
    [
        ("And in Paris?", True),
        ("what about New York?", True),
        ("How about Asia/Kolkata then?", True),
        ("And now?", True),
        ("What time is it in Tokyo?", False),
        ("And the weather in Paris?", False),
        ("What is the weather like in Paris today?", False),
        ("What time is it?", False),
    ],
)
def test_is_follow_up(prompt: str, follow_up: bool) -> None:
    assert is_follow_up(prompt) is follow_up


def test_fill_arguments_carries_what_the_prompt_does_not_give() -> None:
    schema = {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
        "required": ["location", "unit"],
    }
    carried = {"location": "Tokyo", "unit": "F"}
    assert fill_arguments(schema, "And in Paris?", carried) == {"location": "Paris", "unit": "F"}
    assert fill_arguments(TIME_SCHEMA, "And now?", {"timezone": "Asia/Tokyo"}) == {"timezone": "Asia/Tokyo"}
    with pytest.raises(MissingArgument):
        fill_arguments(TIME_SCHEMA, "And now?")


def test_offline_model_follow_up_asks_the_conversations_question_about_the_new_place() -> None:
    times: list[str] = []
    weathers: list[str] = []

    @tool
    def get_time(timezone: str) -> dict[str, Any]:
        """Get the current local time in a time zone or city.

        Args:
            timezone: IANA time zone name or a city name.
        """
        times.append(timezone)
        return {"timezone": timezone, "local_time": "2026-11-24T04:41:00+09:00"}

    @tool
    def get_weather(location: str) -> dict[str, Any]:
        """Get the current weather for a place.

        Args:
            location: A place name.
        """
        weathers.append(location)
        return {"location": {"name": location}, "temperature_c": 10}

    agent = Agent(model=OfflineModel(), tools=[get_time, get_weather], callback_handler=None)

    def ask(prompt: str, ranking: list[str]) -> None:
        # A model per request, as the service makes one, with that request's search ranking.
        agent.model = OfflineModel(ranking=ranking)
        agent(prompt)

    ask("What time is it in Tokyo?", ["get_time", "get_weather"])
    # The search ranks the weather tool first for a bare place, as the gateway's does for
    # "And in Paris?": the conversation must win over that ranking.
    ask("And in Paris?", ["get_weather", "get_time"])
    assert (times, weathers) == (["Tokyo", "Paris"], [])

    # A question of its own is not a follow-up: the ranking decides again.
    ask("What is the weather like in Rome?", ["get_weather", "get_time"])
    assert (times, weathers) == (["Tokyo", "Paris"], ["Rome"])
    # And a follow-up now follows the weather question.
    ask("What about Oslo?", ["get_time", "get_weather"])
    assert (times, weathers) == (["Tokyo", "Paris"], ["Rome", "Oslo"])
