"""Geolocation hints (issue 19), offline: where a report's incident may have happened, each hint
with its source and a confidence, and conflicts shown rather than resolved. Sources:

- **GPS** of a file (its EXIF GPS tags, or coordinates the platform gives): the nearest place
  (``reverse-geocode``, GeoNames' cities of 1,000 people or more) and the time zone
  (``timezonefinder``). EXIF can be edited or stripped: 0.8, or 0.4 with only a country when
  the nearest known place is over :data:`FAR_KM` away;
- **IP addresses** of the reported user's events and of the files' uploads: the country, from
  an operator's MaxMind database (``maxminddb``; ``--geoip FILE``) or else the GeoLite2 country
  data that ``geoip2fast`` ships (its date is said in each hint). 0.6, 0.3 for a possible proxy;
  private and reserved addresses say nothing;
- **phone numbers** of the reported user with a country calling code (``phonenumbers``): 0.5,
  0.3 when the number is not a valid one;
- the **reporter's statement** (``location``): 0.7.

The suggested jurisdiction is the country with the most confidence summed over the hints; none
when two countries tie. A hint never decides alone: it is shown with its source.
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import InputError
from vigil.triage.model import IpEvent, Report, ReportFile

__all__ = ["FAR_KM", "Geo", "Hint", "Hints", "country_weights", "exif_gps", "strongest"]

FAR_KM = 100.0  # beyond this from the nearest known place, only the country is hinted
CONFIDENCE = {"gps": 0.8, "gps_far": 0.4, "stated": 0.7, "ip": 0.6, "ip_proxy": 0.3,
              "phone": 0.5, "phone_unsure": 0.3}  # fmt: skip


@dataclass(frozen=True)
class Hint:
    kind: str  # gps, ip, phone, stated
    source: str  # where in the report it comes from
    country: str  # ISO 3166 alpha-2, "" when not known
    confidence: float
    region: str = ""
    city: str = ""
    timezone: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v != ""}


@dataclass
class Hints:
    hints: list[Hint] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    jurisdiction: str = ""  # the suggested country, "" when none (or a tie)

    def as_dict(self) -> dict[str, Any]:
        return {"jurisdiction": self.jurisdiction, "conflicts": self.conflicts,
                "hints": [h.as_dict() for h in self.hints]}  # fmt: skip


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?")


def _degrees(text: str, ref: str) -> float | None:
    """Degrees from an EXIF GPS value as tools print it: ``48.8566``, ``48/1, 51/1, 2400/100``,
    ``48 deg 51' 24.00" N``; south and west (in ``ref`` or the text) negative."""
    parts = []
    for token in _NUMBER.findall(text)[:3]:
        num, _, den = token.partition("/")
        if den and float(den) == 0:
            return None
        parts.append(float(num) / (float(den) if den else 1.0))
    if not parts:
        return None
    value = float(sum(p / 60.0**n for n, p in enumerate(parts)))
    side = (ref or text.strip()[-1:]).strip().upper()[:1]
    return -abs(value) if side in ("S", "W") or parts[0] < 0 else value


def exif_gps(exif: dict[str, str]) -> tuple[float, float] | None:
    """(latitude, longitude) from EXIF GPS tags given as text, or None."""
    lat, lon = exif.get("GPSLatitude"), exif.get("GPSLongitude")
    if not lat or not lon:
        return None
    at = (_degrees(lat, exif.get("GPSLatitudeRef", "")),
          _degrees(lon, exif.get("GPSLongitudeRef", "")))  # fmt: skip
    if at[0] is None or at[1] is None or not (abs(at[0]) <= 90 and abs(at[1]) <= 180):
        return None
    return at[0], at[1]


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(min(1.0, h)))


class Geo:
    """Looks places up offline. The data loads on first use (about 2 s), once per process."""

    def __init__(self, geoip: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}
        self.geoip = geoip
        if geoip is not None and not geoip.is_file():
            raise InputError(str(geoip), "no such MaxMind database file")

    def _get(self, name: str) -> Any:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            return self._loaded[name]

    def _load(self, name: str) -> Any:
        if name == "maxmind":
            import maxminddb

            try:
                return maxminddb.open_database(str(self.geoip))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                raise InputError(str(self.geoip), f"not a MaxMind database: {exc}") from None
        if name == "geoip2fast":
            from geoip2fast import GeoIP2Fast

            return GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz", verbose=False)
        if name == "timezones":
            from timezonefinder import TimezoneFinder

            return TimezoneFinder()
        raise KeyError(name)

    # -- sources ---------------------------------------------------------------------------
    def place(self, at: tuple[float, float], source: str) -> Hint:
        import reverse_geocode

        near = reverse_geocode.get(at)
        tz = self._get("timezones").timezone_at(lat=at[0], lng=at[1]) or ""
        km = _km(at, (near["latitude"], near["longitude"]))
        where = f"{at[0]:.5f}, {at[1]:.5f}"
        if km > FAR_KM:
            note = f"{where}: no known place within {FAR_KM:g} km (nearest {km:.0f} km away)"
            return Hint("gps", source, "", CONFIDENCE["gps_far"], timezone=tz, note=note)
        return Hint("gps", source, near["country_code"], CONFIDENCE["gps"], near.get("state", ""),
                    near["city"], tz, f"{where}, {km:.0f} km from {near['city']}")  # fmt: skip

    def address(self, event: IpEvent, source: str) -> Hint | None:
        ip = ipaddress.ip_address(event.address)
        if not ip.is_global:
            return None  # private, reserved, documentation: it says nothing of a place
        proxy = bool(event.possible_proxy)
        confidence = CONFIDENCE["ip_proxy" if proxy else "ip"]
        note = "possible proxy; " if proxy else ""
        if self.geoip is not None:
            got = self._get("maxmind").get(str(ip)) or {}
            country = str((got.get("country") or {}).get("iso_code") or "")
            city = str(((got.get("city") or {}).get("names") or {}).get("en") or "")
            note += f"operator's MaxMind database {self.geoip.name}"
            return Hint("ip", source, country, confidence, city=city, note=note)
        found = self._get("geoip2fast").lookup(str(ip))
        country = found.country_code if len(found.country_code or "") == 2 else ""
        note += "GeoLite2 country data of 2024-06 shipped with geoip2fast"
        return Hint("ip", source, country, confidence, note=note)

    @staticmethod
    def phone(number: str, source: str) -> Hint | None:
        import phonenumbers

        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return None  # no country calling code: no country to say
        region = phonenumbers.region_code_for_number(parsed) or ""
        if not region or region == "001":  # 001: non-geographic numbers
            return None
        valid = phonenumbers.is_valid_number(parsed)
        note = "" if valid else "not a valid number for its country"
        return Hint("phone", source, region, CONFIDENCE["phone" if valid else "phone_unsure"],
                    note=note)  # fmt: skip

    # -- a report --------------------------------------------------------------------------
    def hints(self, report: Report) -> Hints:
        """Every hint of ``report``, the conflicts between them, and the suggested
        jurisdiction."""
        found = [h for h in self._each(report) if h is not None]
        return _weigh(found)

    def _each(self, report: Report) -> Iterator[Hint | None]:
        if (loc := report.location) is not None and loc.country:
            yield Hint("stated", "the reporter's statement", loc.country, CONFIDENCE["stated"],
                       loc.region, loc.city)  # fmt: skip
        for f in report.files:
            at = _file_gps(f)
            if at is not None:
                yield self.place(at[0], f"file {f.name}: {at[1]}")
            if f.upload_ip is not None:
                yield self.address(f.upload_ip, f"file {f.name}: upload IP {f.upload_ip.address}")
        for n, user in enumerate(report.users):
            who = user.esp_id or user.screen_name or f"user {n + 1}"
            for event in user.ip_events:
                yield self.address(event, f"{who}: {event.event} IP {event.address}")
            for number in user.phones:
                yield self.phone(number, f"{who}: phone {number}")


def _file_gps(f: ReportFile) -> tuple[tuple[float, float], str] | None:
    if f.gps is not None:
        return f.gps, "GPS"
    at = exif_gps(f.exif)
    return (at, "EXIF GPS") if at is not None else None


def country_weights(found: list[Hint]) -> dict[str, float]:
    """The confidence the hints give each country, summed."""
    out: dict[str, float] = {}
    for h in found:
        if h.country:
            out[h.country] = round(out.get(h.country, 0.0) + h.confidence, 3)
    return out


def strongest(weights: dict[str, float]) -> str:
    """The country with the most weight; "" when none, or when the strongest two tie."""
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    if not ranked or (len(ranked) > 1 and math.isclose(ranked[0][1], ranked[1][1])):
        return ""
    return ranked[0][0]


def _weigh(found: list[Hint]) -> Hints:
    weight = country_weights(found)
    conflicts = []
    if len(weight) > 1:
        said = ", ".join(f"{c} ({w:.1f})" for c, w in sorted(weight.items(), key=lambda kv: -kv[1]))
        conflicts.append(f"the hints name {len(weight)} countries: {said}")
    best = strongest(weight)
    if len(weight) > 1 and not best:
        conflicts.append("no jurisdiction suggested: the strongest countries tie")
    return Hints(found, conflicts, best)
