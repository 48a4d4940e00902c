"""The offline provider on the local stack: no language model, the real time in the asked city."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agentgw.agent.offline import MODEL_NAME
from agentgw_local.stack import LocalStack
from integration.agent_support import prompt

GET_TIME = "timeweather___get_time"
GET_WEATHER = "timeweather___get_weather"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("AGENTGW_MODEL_PROVIDER", "offline")
    monkeypatch.setenv("AGENTGW_SESSION_DIR", str(tmp_path))


def api(stack: LocalStack) -> str:
    assert stack.info is not None and stack.info.api_url
    return stack.info.api_url


@pytest.mark.parametrize(
    ("question", "argument", "zone", "place"),
    [
        ("What time is it in Tokyo?", "Tokyo", "Asia/Tokyo", "Tokyo"),
        ("what time is it in new york right now?", "new york", "America/New_York", "New York"),
        ("Current time in Paris, France please", "Paris, France", "Europe/Paris", "Paris"),
        ("What's the time in Sydney at the moment?", "Sydney", "Australia/Sydney", "Sydney"),
        ("Time in São Paulo", "São Paulo", "America/Sao_Paulo", "Paulo"),
        ("What time is it in Asia/Kolkata?", "Asia/Kolkata", "Asia/Kolkata", "Kolkata"),
    ],
)
def test_offline_answers_the_real_time_in_a_city(
    local_stack: LocalStack, offline: None, question: str, argument: str, zone: str, place: str
) -> None:
    before = datetime.now(ZoneInfo(zone))
    response = prompt(api(local_stack), {"prompt": question})
    after = datetime.now(ZoneInfo(zone))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == MODEL_NAME
    assert "not an LLM" in body["model"]
    assert body["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert [(c["name"], c["arguments"], c["is_error"]) for c in body["tool_calls"]] == [
        (GET_TIME, {"timezone": argument}, False)
    ]
    answer = body["answer"]
    assert zone in answer
    assert place in answer
    # The real local time there (the minute may turn while the request runs).
    assert any(f"{t:%H:%M}" in answer for t in (before, after)), answer
    assert f"{after:%A}" in answer or f"{before:%A}" in answer


def test_offline_picks_the_weather_tool_for_a_weather_question(
    local_stack: LocalStack, offline: None
) -> None:
    response = prompt(api(local_stack), {"prompt": "What is the weather like in Paris today?"})

    assert response.status_code == 200, response.text
    calls = response.json()["tool_calls"]
    # The result depends on Open-Meteo being reachable; the choice and the arguments do not.
    assert [(c["name"], c["arguments"]) for c in calls] == [(GET_WEATHER, {"location": "Paris"})]


def test_offline_says_so_when_no_tool_fits(local_stack: LocalStack, offline: None) -> None:
    response = prompt(api(local_stack), {"prompt": "hello"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tool_calls"] == []
    assert "offline provider (no language model)" in body["answer"]
    assert GET_TIME in body["answer"]  # it names the tools the gateway has


@pytest.mark.parametrize(
    ("follow_up", "zone"), [("And in Paris?", "Europe/Paris"), ("What about Berlin?", "Europe/Berlin")]
)
def test_offline_follow_up_asks_the_conversations_question_about_the_new_place(
    local_stack: LocalStack, offline: None, follow_up: str, zone: str
) -> None:
    # The README's example: the search alone ranks the weather tool first for "And in Paris?".
    session = f"offline-follow-up-{zone.replace('/', '-')}"
    first = prompt(api(local_stack), {"prompt": "What time is it in Tokyo?", "session_id": session})
    assert first.status_code == 200, first.text
    second = prompt(api(local_stack), {"prompt": follow_up, "session_id": session})

    assert second.status_code == 200, second.text
    body = second.json()
    place = zone.split("/")[1]
    assert [(c["name"], c["arguments"]) for c in body["tool_calls"]] == [(GET_TIME, {"timezone": place})]
    assert zone in body["answer"]

    # A question of its own in the same conversation is not a follow-up.
    third = prompt(
        api(local_stack), {"prompt": "What is the weather like in Paris today?", "session_id": session}
    )
    assert [c["name"] for c in third.json()["tool_calls"]] == [GET_WEATHER]
