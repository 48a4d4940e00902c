"""get_weather: current conditions for a place, from Open-Meteo (no API key).

Two calls: the geocoding API resolves the place name to coordinates, then the forecast
API's `current=` block gives the latest observation-grade model values for them.
Configuration comes from the environment (see `WeatherSettings.from_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from agentgw.tools.cities import US_STATE_ZONES
from agentgw.tools.errors import ConfigurationError, NotFoundError, UpstreamError
from agentgw.tools.http_json import HttpSettings, get_json
from agentgw.tools.wmo_codes import describe

GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
CURRENT_VARIABLES = (
    "temperature_2m",
    "apparent_temperature",
    "relative_humidity_2m",
    "is_day",
    "weather_code",
    "wind_speed_10m",
    "wind_direction_10m",
    "wind_gusts_10m",
)
ATTRIBUTION = "Weather data by Open-Meteo.com (CC BY 4.0)"
COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")

ENV_GEOCODING_URL = "AGENTGW_GEOCODING_URL"
ENV_FORECAST_URL = "AGENTGW_FORECAST_URL"
ENV_TIMEOUT_S = "AGENTGW_HTTP_TIMEOUT_S"
ENV_RETRIES = "AGENTGW_HTTP_RETRIES"

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class WeatherSettings:
    geocoding_url: str = GEOCODING_URL
    forecast_url: str = FORECAST_URL
    http: HttpSettings = field(default_factory=HttpSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WeatherSettings:
        """Read `AGENTGW_GEOCODING_URL`, `AGENTGW_FORECAST_URL`, `AGENTGW_HTTP_TIMEOUT_S`
        (seconds per attempt, default 3) and `AGENTGW_HTTP_RETRIES` (default 1)."""
        env = os.environ if environ is None else environ
        return cls(
            geocoding_url=_url(env, ENV_GEOCODING_URL, GEOCODING_URL),
            forecast_url=_url(env, ENV_FORECAST_URL, FORECAST_URL),
            http=HttpSettings(
                timeout_s=_number(env, ENV_TIMEOUT_S, HttpSettings.timeout_s, float, 0.01, 60.0),
                retries=_number(env, ENV_RETRIES, HttpSettings.retries, int, 0, 5),
            ),
        )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"get_weather is misconfigured: {name} must be an http(s) URL.")
    return value.rstrip("/")


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N], low: N, high: N) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigurationError(
            f"get_weather is misconfigured: {name}={raw!r} must be a {kind.__name__} from {low} to {high}."
        )
    return value


def get_weather(
    location: str, *, settings: WeatherSettings | None = None, deadline: float | None = None
) -> dict[str, Any]:
    """Current weather for a place name. `deadline` is a `time.monotonic()` bound for all calls."""
    settings = settings or WeatherSettings.from_env()
    place = geocode(location, settings=settings, deadline=deadline)
    data = get_json(
        settings.forecast_url,
        {
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "current": ",".join(CURRENT_VARIABLES),
            "timezone": "auto",
            "temperature_unit": "celsius",
            "wind_speed_unit": "kmh",
        },
        service="Open-Meteo forecast",
        settings=settings.http,
        deadline=deadline,
    )
    return _report(place, data)


def geocode(location: str, *, settings: WeatherSettings, deadline: float | None = None) -> dict[str, Any]:
    """The best match for a place name, as an Open-Meteo geocoding result.

    "Paris, France" is sent whole first (the current API narrows by a country or region
    after a comma); if that finds nothing, the name before the comma is searched and the
    results filtered by the rest, matched against country, country code and region.
    """
    results = _search(location, settings, deadline)
    if not results and "," in location:
        name, _, qualifier = location.partition(",")
        wanted = {qualifier.strip().casefold()}
        wanted |= {state.casefold() for state, code in US_STATE_ZONES if code.casefold() in wanted}
        results = [
            r
            for r in _search(name.strip(), settings, deadline)
            if any(
                str(r.get(field, "")).casefold().startswith(w)
                for field in ("country", "country_code", "admin1", "admin2")
                for w in wanted
            )
        ]
    if not results:
        raise NotFoundError(
            f"No place named {location!r} was found. Check the spelling, use the English or local "
            "name of a city or town, or add the country to disambiguate (for example 'Paris, France')."
        )
    return results[0]


def _search(name: str, settings: WeatherSettings, deadline: float | None) -> list[dict[str, Any]]:
    data = get_json(
        settings.geocoding_url,
        {"name": name, "count": 10, "language": "en", "format": "json"},
        service="Open-Meteo geocoding",
        settings=settings.http,
        deadline=deadline,
    )
    if not isinstance(data, dict):
        raise UpstreamError("Open-Meteo geocoding failed: it answered with an unexpected document.")
    # No match is an answer without "results" (only "generationtime_ms").
    results = data.get("results") or []
    valid = [
        r
        for r in results
        if isinstance(r, dict)
        and isinstance(r.get("latitude"), int | float)
        and isinstance(r.get("longitude"), int | float)
        and r.get("name")
    ]
    if results and not valid:
        raise UpstreamError("Open-Meteo geocoding failed: its results had no usable coordinates.")
    return valid


def _report(place: Mapping[str, Any], data: Any) -> dict[str, Any]:
    current = data.get("current") if isinstance(data, dict) else None
    if not isinstance(current, dict):
        raise UpstreamError("Open-Meteo forecast failed: its answer had no current conditions.")
    try:
        temperature_c = float(current["temperature_2m"])
        code = int(current["weather_code"])
        observed = _observation_time(str(current["time"]), int(data.get("utc_offset_seconds", 0)))
    except (KeyError, TypeError, ValueError):
        raise UpstreamError("Open-Meteo forecast failed: its current conditions were incomplete.") from None

    location = {
        "name": place["name"],
        "region": place.get("admin1"),
        "country": place.get("country"),
        "country_code": place.get("country_code"),
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "timezone": data.get("timezone") or place.get("timezone"),
    }
    report: dict[str, Any] = {
        "location": {k: v for k, v in location.items() if v not in (None, "")},
        "observed_at": observed,
        "temperature_c": round(temperature_c, 1),
        "temperature_f": _fahrenheit(temperature_c),
        "condition": describe(code),
        "weather_code": code,
    }
    apparent = _optional_float(current.get("apparent_temperature"))
    if apparent is not None:
        report["feels_like_c"] = round(apparent, 1)
        report["feels_like_f"] = _fahrenheit(apparent)
    humidity = _optional_float(current.get("relative_humidity_2m"))
    if humidity is not None:
        report["relative_humidity_pct"] = round(humidity)
    if current.get("is_day") in (0, 1):
        report["is_day"] = bool(current["is_day"])
    wind = _wind(current)
    if wind:
        report["wind"] = wind
    report["source"] = ATTRIBUTION
    return report


def _wind(current: Mapping[str, Any]) -> dict[str, Any]:
    wind: dict[str, Any] = {}
    speed = _optional_float(current.get("wind_speed_10m"))
    if speed is not None:
        wind["speed_kmh"] = round(speed, 1)
        wind["speed_mph"] = round(speed / 1.609344, 1)
    direction = _optional_float(current.get("wind_direction_10m"))
    if direction is not None:
        wind["direction_deg"] = round(direction)
        wind["direction"] = COMPASS[round(direction / 22.5) % 16]  # where the wind blows from
    gusts = _optional_float(current.get("wind_gusts_10m"))
    if gusts is not None:
        wind["gusts_kmh"] = round(gusts, 1)
    return wind


def _observation_time(local: str, utc_offset_seconds: int) -> str:
    """Open-Meteo gives local wall time without an offset ("2026-11-23T11:30"); add it."""
    tz = timezone(timedelta(seconds=utc_offset_seconds))
    return datetime.fromisoformat(local).replace(tzinfo=tz).isoformat()


def _fahrenheit(celsius: float) -> float:
    return round(celsius * 9 / 5 + 32, 1)


def _optional_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
