"""get_weather through the real handler, against recorded Open-Meteo answers on loopback."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from openmeteo_recorded import Invoke, RecordedOpenMeteo, Reply, recorded

from agentgw.tools.errors import ConfigurationError, NotFoundError, UpstreamError
from agentgw.tools.weather import CURRENT_VARIABLES, WeatherSettings
from agentgw.tools.wmo_codes import WMO_WEATHER_CODES, describe

WEATHER = "timeweather___get_weather"


def test_current_weather_for_a_city(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))

    result = invoke(WEATHER, {"location": "Seattle"})

    assert result == {
        "location": {
            "name": "Seattle",
            "region": "Washington",
            "country": "United States",
            "country_code": "US",
            "latitude": 47.60621,
            "longitude": -122.33207,
            "timezone": "America/Los_Angeles",
        },
        "observed_at": "2026-11-23T11:30:00-08:00",
        "temperature_c": 7.4,
        "temperature_f": 45.3,
        "condition": "Slight rain",
        "weather_code": 61,
        "feels_like_c": 4.1,
        "feels_like_f": 39.4,
        "relative_humidity_pct": 86,
        "is_day": True,
        "wind": {
            "speed_kmh": 14.8,
            "speed_mph": 9.2,
            "direction_deg": 197,
            "direction": "SSW",
            "gusts_kmh": 31.3,
        },
        "source": "Weather data by Open-Meteo.com (CC BY 4.0)",
    }


def test_requests_use_the_open_meteo_parameters(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))

    invoke(WEATHER, {"location": "  Seattle "})

    (search,) = open_meteo.calls("/v1/search")
    assert search == {"name": "Seattle", "count": "10", "language": "en", "format": "json"}
    (forecast,) = open_meteo.calls("/v1/forecast")
    assert (forecast["latitude"], forecast["longitude"]) == ("47.60621", "-122.33207")
    assert forecast["current"].split(",") == list(CURRENT_VARIABLES)
    assert {"temperature_2m", "weather_code", "wind_speed_10m", "wind_direction_10m"} <= set(
        CURRENT_VARIABLES
    )
    assert (forecast["timezone"], forecast["temperature_unit"], forecast["wind_speed_unit"]) == (
        "auto",
        "celsius",
        "kmh",
    )


def test_unknown_place_is_a_clear_error(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    with pytest.raises(NotFoundError) as caught:
        invoke(WEATHER, {"location": "Xqzzyville"})
    assert "No place named 'Xqzzyville' was found" in str(caught.value)
    assert open_meteo.calls("/v1/forecast") == []


def test_country_after_a_comma_narrows_the_search(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    # The whole string finds nothing (older geocoder behaviour); the name alone finds three
    # Parises, and the qualifier picks the one in Texas.
    open_meteo.geocoding["Paris"] = Reply(body=recorded("geocoding_paris.json"))
    open_meteo.forecast = Reply(body=recorded("forecast_paris_texas.json"))

    result = invoke(WEATHER, {"location": "Paris, Texas"})

    assert [q["name"] for q in open_meteo.calls("/v1/search")] == ["Paris, Texas", "Paris"]
    assert (result["location"]["region"], result["location"]["country_code"]) == ("Texas", "US")
    assert result["observed_at"] == "2026-11-23T13:30:00-06:00"
    assert result["condition"] == "Mainly clear"
    assert result["wind"]["direction"] == "N"


def test_us_state_code_narrows_the_search(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Paris"] = Reply(body=recorded("geocoding_paris.json"))
    open_meteo.forecast = Reply(body=recorded("forecast_paris_texas.json"))

    result = invoke(WEATHER, {"location": "Paris, TN"})

    assert result["location"]["region"] == "Tennessee"
    assert open_meteo.calls("/v1/forecast")[0]["latitude"] == "36.302"


def test_qualifier_that_matches_nothing_is_not_found(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Paris"] = Reply(body=recorded("geocoding_paris.json"))
    with pytest.raises(NotFoundError, match="Paris, Narnia"):
        invoke(WEATHER, {"location": "Paris, Narnia"})


def test_upstream_500_is_retried_then_reported(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    open_meteo.forecast = Reply(status=500, body={"error": True, "reason": "Internal Server Error"})

    with pytest.raises(UpstreamError) as caught:
        invoke(WEATHER, {"location": "Seattle"})

    message = str(caught.value)
    assert message.startswith("Open-Meteo forecast failed: HTTP 500")
    assert "2 attempts" in message and "try again later" in message
    assert len(open_meteo.calls("/v1/forecast")) == 2  # AGENTGW_HTTP_RETRIES=1


def test_geocoding_outage_is_reported_as_such(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(status=503, body=b"<html>Service Unavailable</html>")
    with pytest.raises(UpstreamError, match=r"^Open-Meteo geocoding failed: HTTP 503"):
        invoke(WEATHER, {"location": "Seattle"})


def test_transient_failure_is_retried_to_success(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = [
        Reply(status=502, body={}),
        Reply(body=recorded("geocoding_seattle.json")),
    ]

    result = invoke(WEATHER, {"location": "Seattle"})

    assert result["location"]["name"] == "Seattle"
    assert len(open_meteo.calls("/v1/search")) == 2


def test_rejected_request_is_not_retried(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    open_meteo.forecast = Reply(status=400, body=recorded("forecast_error_400.json"))

    with pytest.raises(UpstreamError) as caught:
        invoke(WEATHER, {"location": "Seattle"})

    assert "HTTP 400 (Latitude must be in range of -90 to 90°" in str(caught.value)
    assert len(open_meteo.calls("/v1/forecast")) == 1


def test_slow_upstream_times_out_instead_of_hanging(
    open_meteo: RecordedOpenMeteo, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTGW_HTTP_TIMEOUT_S", "0.2")
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    open_meteo.forecast = Reply(body=recorded("forecast_seattle.json"), delay_s=30)

    with pytest.raises(UpstreamError) as caught:
        invoke(WEATHER, {"location": "Seattle"})

    assert str(caught.value).startswith("Open-Meteo forecast did not answer within 0.2 s (2 attempts)")
    assert len(open_meteo.calls("/v1/forecast")) == 2


@pytest.mark.timeout(20)  # byte by byte, the body would take over a minute
def test_trickling_upstream_cannot_outlast_the_timeout(
    open_meteo: RecordedOpenMeteo, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each byte arrives well within the socket timeout, the whole body never does.
    monkeypatch.setenv("AGENTGW_HTTP_TIMEOUT_S", "0.3")
    monkeypatch.setenv("AGENTGW_HTTP_RETRIES", "0")
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"), trickle_s=0.05)

    with pytest.raises(
        UpstreamError, match=r"^Open-Meteo geocoding did not answer within 0\.3 s \(1 attempt\)"
    ):
        invoke(WEATHER, {"location": "Seattle"})


def test_lambda_deadline_bounds_the_wait(
    open_meteo: RecordedOpenMeteo, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A generous per-attempt timeout, but only ~0.5 s of Lambda time left: the tool must
    # give up on its own, with a message, before Lambda would kill it.
    monkeypatch.setenv("AGENTGW_HTTP_TIMEOUT_S", "30")
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"), delay_s=30)

    with pytest.raises(UpstreamError, match=r"^Open-Meteo geocoding did not answer within 0\.\d+ s"):
        invoke(WEATHER, {"location": "Seattle"}, timeout_s=0.5)


def test_unreachable_upstream(
    open_meteo: RecordedOpenMeteo, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AGENTGW_GEOCODING_URL", f"http://127.0.0.1:{port}/v1/search")

    with pytest.raises(
        UpstreamError,
        match=r"^Open-Meteo geocoding failed: unreachable \(.+\) \(2 attempts\); the service or the network",
    ):
        invoke(WEATHER, {"location": "Seattle"})


def test_connection_dropped_without_an_answer(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(hang_up=True)
    with pytest.raises(
        UpstreamError, match=r"^Open-Meteo geocoding failed: connection failed \(\w+\) \(2 attempts\)"
    ):
        invoke(WEATHER, {"location": "Seattle"})


def test_garbage_answer_is_an_upstream_error(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    open_meteo.forecast = Reply(body=b"<html>captive portal</html>")
    with pytest.raises(UpstreamError, match="not JSON"):
        invoke(WEATHER, {"location": "Seattle"})


def test_forecast_without_current_block(open_meteo: RecordedOpenMeteo, invoke: Invoke) -> None:
    open_meteo.geocoding["Seattle"] = Reply(body=recorded("geocoding_seattle.json"))
    partial: dict[str, Any] = recorded("forecast_seattle.json")
    del partial["current"]
    open_meteo.forecast = Reply(body=partial)
    with pytest.raises(UpstreamError, match="no current conditions"):
        invoke(WEATHER, {"location": "Seattle"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENTGW_HTTP_TIMEOUT_S", "soon"),
        ("AGENTGW_HTTP_TIMEOUT_S", "0"),
        ("AGENTGW_HTTP_RETRIES", "-1"),
        ("AGENTGW_HTTP_RETRIES", "1.5"),
        ("AGENTGW_FORECAST_URL", "ftp://example.com"),
    ],
)
def test_bad_configuration_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        WeatherSettings.from_env({name: value})


def test_default_configuration_is_open_meteo() -> None:
    settings = WeatherSettings.from_env({})
    assert settings.geocoding_url == "https://geocoding-api.open-meteo.com/v1/search"
    assert settings.forecast_url == "https://api.open-meteo.com/v1/forecast"
    assert 1 <= settings.http.timeout_s <= 10
    assert settings.http.retries >= 0


def test_wmo_table_covers_every_open_meteo_code() -> None:
    documented = {
        0,
        1,
        2,
        3,
        45,
        48,
        51,
        53,
        55,
        56,
        57,
        61,
        63,
        65,
        66,
        67,
        71,
        73,
        75,
        77,
        80,
        81,
        82,
        85,
        86,
    }
    documented |= {95, 96, 99}
    assert set(WMO_WEATHER_CODES) == documented
    assert describe(0) == "Clear sky"
    assert describe(42) == "Unknown condition (WMO weather code 42)"
