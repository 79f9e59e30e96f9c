"""Reports as JSON (issue 19): the documented shape (docs/triage.md), read strictly. An unknown
field, a date or IP address that does not parse, a hash that is not one, or a report of more
files than ``MAX_FILES`` is an :class:`InputError` naming the source and the field
(``reports.json: files[3].uploaded_at: not a date and time``): nothing is guessed."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from vigil.errors import InputError, UnknownSignalType
from vigil.evidence.base import STRENGTHS
from vigil.evidence.summary import SUMMARIES
from vigil.signals import registry
from vigil.triage.model import (
    ANNOTATIONS,
    CLASSIFICATIONS,
    INCIDENT_TYPES,
    IP_EVENTS,
    FileEvidence,
    IpEvent,
    Location,
    Report,
    ReportedUser,
    Reporter,
    ReportFile,
)

__all__ = ["MAX_FILES", "report_from_dict"]

MAX_FILES = 1000  # files in one report (a larger upload is split by the platform)
T = TypeVar("T")


class _Reader:
    """Fields of one JSON object, each taken once; what is left over is an unknown field."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise InputError(source, f"{path or 'the report'}: not an object")
        self.source, self.path, self.data = source, path, dict(data)

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, reason: str) -> InputError:
        return InputError(self.source, f"{self.where(key)}: {reason}")

    def take(self, key: str, kind: type[T], default: T | None = None) -> T:
        if key not in self.data:
            if default is None:
                raise self.fail(key, "missing")
            return default
        value = self.data.pop(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"must be {kind.__name__}, not {type(value).__name__}")
        return value

    def each(self, key: str, read: Callable[[_Reader], T], limit: int = 10_000) -> list[T]:
        items = self.take(key, list, [])
        if len(items) > limit:
            raise self.fail(key, f"{len(items):,} items: at most {limit:,} in one report")
        return [read(_Reader(self.source, f"{self.where(key)}[{n}]", it))
                for n, it in enumerate(items)]  # fmt: skip

    def strings(self, key: str) -> list[str]:
        items = self.take(key, list, [])
        if not all(isinstance(i, str) for i in items):
            raise self.fail(key, "must be a list of strings")
        return list(items)

    def number(self, key: str, low: float, high: float) -> float:
        value = self.data.pop(key, None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "must be a number")
        if not low <= value <= high:
            raise self.fail(key, f"must be from {low:g} to {high:g}")
        return float(value)

    def one_of(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.take(key, str, default)
        if value not in choices:
            raise self.fail(key, f"one of {', '.join(choices)}")
        return value

    def inner(self, key: str) -> _Reader:
        """The object in field ``key``, to read in turn."""
        return _Reader(self.source, self.where(key), self.take(key, dict))

    def when(self, key: str, required: bool = False) -> datetime | None:
        if key not in self.data and not required:
            return None
        text = self.take(key, str)
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(key, f"not a date and time (ISO 8601): {text[:40]!r}") from None
        return at if at.tzinfo else at.replace(tzinfo=UTC)

    def done(self) -> None:
        if self.data:
            raise self.fail(sorted(self.data)[0], "unknown field")


def _ip(r: _Reader) -> IpEvent:
    address = r.take("address", str)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise r.fail("address", f"not an IP address: {address[:60]!r}") from None
    event = r.take("event", str, "Unknown")
    if event not in IP_EVENTS:
        raise r.fail("event", f"one of {', '.join(IP_EVENTS)}")
    port = r.take("port", int, -1)
    if not -1 <= port <= 65535:
        raise r.fail("port", "not a port number")
    at, proxy = r.when("at"), r.data.pop("possible_proxy", None)
    if proxy is not None and not isinstance(proxy, bool):
        raise r.fail("possible_proxy", "must be true or false")
    r.done()
    return IpEvent(address, event, at, None if port < 0 else port, proxy)


def _hashes(r: _Reader) -> dict[str, str]:
    raw = r.take("hashes", dict)
    out = {}
    for kind, value in raw.items():
        try:
            out[kind] = registry.get(kind).normalize(str(value), r.where(f"hashes.{kind}"))
        except UnknownSignalType:
            raise r.fail(f"hashes.{kind}", "not a signal type Vigil knows") from None
        except InputError as exc:  # not a hash of that type: said with the report's name
            raise r.fail(f"hashes.{kind}", exc.reason) from None
    if not out:
        raise r.fail("hashes", "a file needs at least one hash")
    return out


def _gps(r: _Reader) -> tuple[float, float]:
    at = (r.number("latitude", -90, 90), r.number("longitude", -180, 180))
    r.done()
    return at


def _model(r: _Reader) -> tuple[str, str, str]:
    got = (r.take("type", str), r.take("hash", str), r.take("name", str, ""))
    r.done()
    return got


def _evidence(r: _Reader) -> FileEvidence:
    got = FileEvidence(r.one_of("label", SUMMARIES, "unknown"),
                       r.one_of("strength", STRENGTHS, "none"), tuple(r.strings("conflicts")),
                       tuple(r.each("models", _model, 100)))  # fmt: skip
    r.done()
    return got


def _file(r: _Reader) -> ReportFile:
    f = ReportFile(r.take("name", str), _hashes(r), r.when("uploaded_at"))
    if "upload_ip" in r.data:
        f.upload_ip = _ip(_Reader(r.source, r.where("upload_ip"), r.data.pop("upload_ip")))
    f.url = r.take("url", str, "")
    if (c := r.data.pop("classification", None)) is not None and c not in CLASSIFICATIONS:
        raise r.fail("classification", f"one of {', '.join(CLASSIFICATIONS)}")
    f.classification = c
    f.viewed_by_esp = r.take("viewed_by_esp", bool, False) if "viewed_by_esp" in r.data else None
    if "publicly_available" in r.data:
        f.publicly_available = r.take("publicly_available", bool)
    f.generative_ai = r.take("generative_ai", bool, False)
    exif = r.take("exif", dict, {})
    f.exif = {str(k): str(v) for k, v in exif.items()}
    f.gps = _gps(r.inner("gps")) if "gps" in r.data else None
    f.evidence = _evidence(r.inner("evidence")) if "evidence" in r.data else None
    f.kept = r.take("kept", int) if "kept" in r.data else None
    r.done()
    return f


def _device(r: _Reader) -> tuple[str, str]:
    got = (r.take("type", str), r.take("value", str))
    r.done()
    return got


def _user(r: _Reader) -> ReportedUser:
    u = ReportedUser(r.take("esp_id", str, ""), r.take("screen_name", str, ""),
                     r.strings("display_names"), r.strings("emails"),
                     r.strings("profile_urls"), r.each("ip_events", _ip),
                     r.each("devices", _device), r.strings("phones"))  # fmt: skip
    r.done()
    return u


def _reporter(r: _Reader) -> Reporter:
    rep = Reporter(r.take("email", str), r.take("first_name", str, ""),
                   r.take("last_name", str, ""), r.take("phone", str, ""))  # fmt: skip
    r.done()
    return rep


def _location(r: _Reader) -> Location:
    country = r.take("country", str, "").upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise r.fail("country", f"an ISO 3166 two-letter code, not {country[:20]!r}")
    loc = Location(country, r.take("region", str, ""), r.take("city", str, ""))
    r.done()
    return loc


def report_from_dict(data: Any, source: str) -> Report:
    """One report from its JSON object; InputError naming ``source`` and the field."""
    r = _Reader(source, "", data)
    kind = r.take("incident_type", str)
    if kind not in INCIDENT_TYPES:
        raise r.fail("incident_type", f"one of {', '.join(INCIDENT_TYPES)}")
    at = r.when("incident_at", required=True)
    reporter = _reporter(_Reader(source, "reporter", r.take("reporter", dict)))
    report = Report(kind, at or datetime.now(UTC), reporter, r.take("platform", str, ""),
                    r.strings("urls"))  # fmt: skip
    report.annotations = r.strings("annotations")
    if bad := [a for a in report.annotations if a not in ANNOTATIONS]:
        raise r.fail("annotations", f"{bad[0]!r} is not one of {', '.join(ANNOTATIONS)}")
    report.escalate, report.text = r.take("escalate", str, ""), r.take("text", str, "")
    report.users = r.each("users", _user, 100)
    report.files = r.each("files", _file, MAX_FILES)
    report.location = _location(r.inner("location")) if "location" in r.data else None
    r.done()
    return report
