"""WMO weather interpretation codes (WW) as used by Open-Meteo's `weather_code`.

Open-Meteo documents these 28 codes (a subset of WMO code table 4677); each gets its own
text here rather than Open-Meteo's grouped rows, so "light" and "heavy" rain differ.
"""

from __future__ import annotations

WMO_WEATHER_CODES: dict[int, str] = {
    0: "Clear sky",
    1: "Mainly clear",
    2: "Partly cloudy",
    3: "Overcast",
    45: "Fog",
    48: "Depositing rime fog",
    51: "Light drizzle",
    53: "Moderate drizzle",
    55: "Dense drizzle",
    56: "Light freezing drizzle",
    57: "Dense freezing drizzle",
    61: "Slight rain",
    63: "Moderate rain",
    65: "Heavy rain",
    66: "Light freezing rain",
    67: "Heavy freezing rain",
    71: "Slight snow fall",
    73: "Moderate snow fall",
    75: "Heavy snow fall",
    77: "Snow grains",
    80: "Slight rain showers",
    81: "Moderate rain showers",
    82: "Violent rain showers",
    85: "Slight snow showers",
    86: "Heavy snow showers",
    95: "Thunderstorm (slight or moderate)",
    96: "Thunderstorm with slight hail",
    99: "Thunderstorm with heavy hail",
}


def describe(code: int) -> str:
    """The condition text for a code; an unlisted code says so rather than guessing."""
    return WMO_WEATHER_CODES.get(code, f"Unknown condition (WMO weather code {code})")
