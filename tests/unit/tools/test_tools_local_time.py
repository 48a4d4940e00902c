"""get_time: zones with and without DST, city names, and unknown input, at fixed instants."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agentgw.tools.cities import CITY_TIMEZONES
from agentgw.tools.errors import NotFoundError
from agentgw.tools.local_time import get_time, resolve_timezone

JULY = datetime(2026, 7, 15, 16, 0, tzinfo=UTC)
JANUARY = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)


def test_zone_with_dst_in_summer() -> None:
    result = get_time("America/New_York", now=JULY)
    assert result == {
        "timezone": "America/New_York",
        "local_time": "2026-07-15T12:00:00-04:00",
        "utc_time": "2026-07-15T16:00:00Z",
        "utc_offset": "-04:00",
        "abbreviation": "EDT",
        "is_dst": True,
        "weekday": "Wednesday",
    }


def test_zone_with_dst_in_winter() -> None:
    result = get_time("America/New_York", now=JANUARY)
    assert result["local_time"] == "2026-01-15T12:00:00-05:00"
    assert (result["utc_offset"], result["abbreviation"], result["is_dst"]) == ("-05:00", "EST", False)


def test_southern_hemisphere_dst_is_in_january() -> None:
    summer = get_time("Australia/Sydney", now=JANUARY)
    winter = get_time("Australia/Sydney", now=JULY)
    assert (summer["abbreviation"], summer["utc_offset"], summer["is_dst"]) == ("AEDT", "+11:00", True)
    assert (winter["abbreviation"], winter["utc_offset"], winter["is_dst"]) == ("AEST", "+10:00", False)


@pytest.mark.parametrize("now", [JANUARY, JULY])
def test_zone_without_dst(now: datetime) -> None:
    result = get_time("Asia/Tokyo", now=now)
    assert (result["utc_offset"], result["abbreviation"], result["is_dst"]) == ("+09:00", "JST", False)
    assert result["local_time"] == now.astimezone(ZoneInfo("Asia/Tokyo")).isoformat()


def test_dst_switch_to_the_second() -> None:
    # US clocks went forward at 2026-03-08 02:00 EST = 07:00 UTC.
    before = get_time("America/Chicago", now=datetime(2026, 3, 8, 7, 59, 59, tzinfo=UTC))
    after = get_time("America/Chicago", now=datetime(2026, 3, 8, 8, 0, 0, tzinfo=UTC))
    assert (before["local_time"], before["abbreviation"]) == ("2026-03-08T01:59:59-06:00", "CST")
    assert (after["local_time"], after["abbreviation"]) == ("2026-03-08T03:00:00-05:00", "CDT")


def test_fractional_offsets() -> None:
    assert get_time("Asia/Kathmandu", now=JANUARY)["utc_offset"] == "+05:45"
    assert get_time("America/St_Johns", now=JANUARY)["utc_offset"] == "-03:30"


def test_city_name_resolves_to_its_zone() -> None:
    result = get_time("Seattle", now=JULY)
    assert result["timezone"] == "America/Los_Angeles"
    assert result["city"] == "Seattle"
    assert (result["local_time"], result["abbreviation"], result["is_dst"]) == (
        "2026-07-15T09:00:00-07:00",
        "PDT",
        True,
    )


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("tokyo", "Asia/Tokyo"),
        ("  TOKYO ", "Asia/Tokyo"),
        ("new york city", "America/New_York"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Paris, France", "Europe/Paris"),
        ("asia/kolkata", "Asia/Kolkata"),
        ("America/New York", "America/New_York"),
        ("utc", "UTC"),
        ("Vladivostok", "Asia/Vladivostok"),  # not in the table: the zone's own city part
    ],
)
def test_input_matching_is_forgiving(text: str, zone: str) -> None:
    assert resolve_timezone(text)[0] == zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("London, UK", "Europe/London"),
        ("Seoul, South Korea", "Asia/Seoul"),
        ("Hanoi, Vietnam", "Asia/Bangkok"),  # a zone serving several countries (zone1970.tab)
        ("Kolkata, IN", "Asia/Kolkata"),  # India, not Indiana
        ("Austin, Texas", "America/Chicago"),
        ("Portland, OR", "America/Los_Angeles"),
    ],
)
def test_qualifier_after_a_comma_is_checked_and_accepted(text: str, zone: str) -> None:
    assert resolve_timezone(text)[0] == zone


@pytest.mark.parametrize(
    ("text", "known"),
    [
        ("Paris, Texas", "the Paris I know is in France, Monaco (Europe/Paris), not 'Texas'"),
        ("Portland, Maine", "the Portland I know is in United States (America/Los_Angeles), not 'Maine'"),
    ],
)
def test_qualifier_that_contradicts_the_city_is_refused(text: str, known: str) -> None:
    # Answering with Paris, France for Paris, Texas would be a confident wrong answer.
    with pytest.raises(NotFoundError) as caught:
        get_time(text, now=JULY)
    assert known in str(caught.value)
    assert repr(text) in str(caught.value)


def test_zone_name_input_reports_no_city() -> None:
    assert "city" not in get_time("Europe/Berlin", now=JULY)


def test_every_city_in_the_table_loads() -> None:
    for city, zone in CITY_TIMEZONES.items():
        assert resolve_timezone(city) == (zone, city)
        ZoneInfo(zone)  # raises if this tz database lacks it


def test_unknown_zone_names_the_input_and_suggests() -> None:
    with pytest.raises(NotFoundError) as caught:
        get_time("Asia/Tokio", now=JULY)
    message = str(caught.value)
    assert "'Asia/Tokio'" in message
    assert "Did you mean: Asia/Tokyo" in message


def test_misspelt_city_suggests_the_city() -> None:
    with pytest.raises(NotFoundError, match=r"'Seatle'.*Did you mean: Seattle"):
        get_time("Seatle")


def test_ambiguous_abbreviation_is_not_guessed_but_suggested() -> None:
    with pytest.raises(NotFoundError, match=r"Did you mean: America/Los_Angeles"):
        get_time("PST")


def test_nonsense_still_explains_what_is_accepted() -> None:
    with pytest.raises(NotFoundError) as caught:
        get_time("qqqqzzzz")
    assert "Did you mean" not in str(caught.value)
    assert "IANA time zone name" in str(caught.value)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        get_time("UTC", now=datetime(2026, 1, 1))
