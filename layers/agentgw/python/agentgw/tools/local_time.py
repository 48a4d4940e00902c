"""get_time: the current local time in an IANA time zone or a well-known city.

Resolution order for the input (all case-insensitive, spaces and underscores equivalent):
a city from `CITY_TIMEZONES` (`Seattle`), an IANA zone name (`asia/tokyo`), then the last
part of an IANA zone (`Kolkata` → `Asia/Kolkata`) when that part names a single zone.
`City, Country` resolves the city and then checks the country against the tz database's
own zone-to-country tables, so "Paris, Texas" is refused rather than answered with Paris,
France. Unknown input raises `NotFoundError` naming it and suggesting close matches.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from agentgw.tools.cities import ABBREVIATION_HINTS, CITY_TIMEZONES, US_STATE_ZONES
from agentgw.tools.errors import NotFoundError

MAX_SUGGESTIONS = 5
# Country names people use that the tz database's iso3166.tab spells differently.
COUNTRY_ALIASES = {
    "usa": "US",
    "america": "US",
    "united states of america": "US",
    "uk": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "south korea": "KR",
    "korea": "KR",
    "czechia": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "uae": "AE",
    "viet nam": "VN",
    "russian federation": "RU",
}


def _key(text: str) -> str:
    """Normalise for matching: case, surrounding space, and `_` vs space."""
    return " ".join(text.replace("_", " ").split()).casefold()


@cache
def _zone_names() -> dict[str, str]:
    """normalised name → canonical IANA name, for every zone zoneinfo can load."""
    # available_timezones() also lists the `tzdata` package's zones, which is what Lambda
    # relies on when the image has no /usr/share/zoneinfo.
    return {_key(name): name for name in available_timezones() if not name.startswith(("posix/", "right/"))}


@cache
def _zone_suffixes() -> dict[str, str]:
    """normalised last part of a zone (`kolkata`) → zone, only where that part is unique."""
    seen: dict[str, set[str]] = {}
    for name in _zone_names().values():
        if "/" in name and not name.startswith("Etc/"):
            seen.setdefault(_key(name.rsplit("/", 1)[1]), set()).add(name)
    return {suffix: next(iter(zones)) for suffix, zones in seen.items() if len(zones) == 1}


@cache
def _cities() -> dict[str, tuple[str, str]]:
    """normalised city → (display name, zone)."""
    return {_key(city): (city, zone) for city, zone in CITY_TIMEZONES.items()}


def _lookup(key: str) -> tuple[str, str | None] | None:
    # Cities first: a few legacy zone names are also city names ("Singapore" is a link to
    # Asia/Singapore), and the canonical zone is the better answer.
    if key in _cities():
        city, zone = _cities()[key]
        return zone, city
    if key in _zone_names():
        return _zone_names()[key], None
    if key in _zone_suffixes():
        zone = _zone_suffixes()[key]
        return zone, zone.rsplit("/", 1)[1].replace("_", " ")
    return None


def resolve_timezone(text: str) -> tuple[str, str | None]:
    """Return `(IANA zone, matched city or None)` for a zone or city name.

    Raises `NotFoundError` with suggestions when nothing matches.
    """
    key = _key(text)
    found = _lookup(key)
    if found is not None:
        return found
    place, comma, qualifier = key.partition(",")
    found = _lookup(_key(place)) if comma else None
    if found is None:
        raise NotFoundError(_unknown_message(text))
    zone, city = found
    if _qualifier_fits(zone, _key(qualifier)):
        return found
    where = ", ".join(sorted(_country_names().get(c, c) for c in _zone_countries().get(zone, ()))) or zone
    given = text.partition(",")[2].strip()
    raise NotFoundError(
        f"Unknown time zone or city {text!r}: the {city or place.strip().title()} I know is in {where} "
        f"({zone}), not {given!r}. Pass the IANA time zone of the place you mean, such as "
        "'America/Chicago'."
    )


def _qualifier_fits(zone: str, qualifier: str) -> bool:
    """Whether "…, qualifier" names the zone's country (name or code) or a part of the zone."""
    if not qualifier:
        return True
    if qualifier in {_key(part) for part in zone.split("/")}:
        return True
    codes = _zone_countries().get(zone, set())
    wanted = COUNTRY_ALIASES.get(qualifier) or qualifier.upper()
    if wanted in codes:
        return True
    if any(qualifier in _name_variants(_country_names().get(code, "")) for code in codes):
        return True
    return zone in _us_states().get(qualifier, ())


@cache
def _us_states() -> dict[str, frozenset[str]]:
    states: dict[str, frozenset[str]] = {}
    for (name, code), zones in US_STATE_ZONES.items():
        states[_key(name)] = states[_key(code)] = zones
    return states


def _name_variants(name: str) -> set[str]:
    """ "Britain (UK)" → {"britain (uk)", "britain", "uk"}."""
    variants = {_key(name), _key(re.sub(r"\s*\(.*?\)", "", name))}
    variants.update(_key(inner) for inner in re.findall(r"\((.*?)\)", name))
    return variants - {""}


def _tz_table(name: str) -> list[list[str]]:
    """Rows of a tz database table (zone1970.tab, iso3166.tab), from `tzdata` or the system."""
    try:
        text = resources.files("tzdata.zoneinfo").joinpath(name).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        path = Path("/usr/share/zoneinfo") / name
        text = path.read_text("utf-8") if path.is_file() else ""
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def _zone_countries() -> dict[str, set[str]]:
    """zone → ISO 3166 codes of the countries it serves (zone.tab + zone1970.tab)."""
    countries: dict[str, set[str]] = {}
    for table in ("zone.tab", "zone1970.tab"):
        for row in _tz_table(table):
            if len(row) >= 3:
                countries.setdefault(row[2], set()).update(row[0].split(","))
    return countries


@cache
def _country_names() -> dict[str, str]:
    return {row[0]: row[1] for row in _tz_table("iso3166.tab") if len(row) >= 2}


def suggestions(text: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Close matches among zone names, cities and zone suffixes, best first."""
    key = _key(text)
    hints = {_key(k): v for k, v in ABBREVIATION_HINTS.items()}.get(key, [])
    pool: dict[str, str] = {}
    pool.update({k: city for k, (city, _) in _cities().items()})
    pool.update({k: _zone_suffixes()[k].rsplit("/", 1)[1].replace("_", " ") for k in _zone_suffixes()})
    pool.update(_zone_names())
    # Compare against the whole name and, for zones, against the part after the region, so
    # "Asia/Tokio" and "Tokio" both find Tokyo.
    matches = difflib.get_close_matches(key, list(pool), n=limit * 2, cutoff=0.6)
    found: list[str] = list(hints)
    for match in matches:
        display = pool[match]
        if display not in found:
            found.append(display)
    return found[:limit]


def _unknown_message(text: str) -> str:
    close = suggestions(text)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (
        f"Unknown time zone or city {text!r}.{hint} Use an IANA time zone name such as "
        "'Europe/Paris', 'America/New_York' or 'UTC', or a major city name such as 'Tokyo'."
    )


def _format_offset(offset: timedelta) -> str:
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, rem = divmod(abs(total), 3600)
    minutes, seconds = divmod(rem, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def get_time(timezone: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The current time in `timezone` (zone or city). `now` (aware) fixes the instant, for tests."""
    zone_name, city = resolve_timezone(timezone)
    try:
        zone = ZoneInfo(zone_name)
    except ZoneInfoNotFoundError as exc:  # listed but not loadable: a broken tz install
        raise NotFoundError(_unknown_message(timezone)) from exc
    instant = now if now is not None else datetime.now(UTC)
    if instant.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = instant.astimezone(zone).replace(microsecond=0)
    offset = local.utcoffset() or timedelta(0)
    dst = local.dst() or timedelta(0)
    result: dict[str, Any] = {
        "timezone": zone_name,
        "local_time": local.isoformat(),
        "utc_time": local.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "utc_offset": _format_offset(offset),
        "abbreviation": local.tzname(),
        # tzdata semantics: daylight saving is in effect when the DST offset is positive.
        # (Europe/Dublin models winter as a negative offset, so it reports False all year.)
        "is_dst": dst > timedelta(0),
        "weekday": local.strftime("%A"),
    }
    if city is not None:
        result["city"] = city
    return result
