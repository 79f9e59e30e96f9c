"""Geolocation hints (issue 19), offline: EXIF GPS to a place and time zone, IP addresses to a
country (the data geoip2fast ships, or an operator's MaxMind database), phone numbers to a
country, the reporter's statement; each with its source and confidence, conflicts shown, and
the jurisdiction they suggest. Addresses are documentation or well-known public ones; the
phone number is in Ofcom's range for drama."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vigil.errors import InputError
from vigil.triage import report_from_dict
from vigil.triage.geo import Geo, exif_gps

PARIS_EXIF = {"GPSLatitude": "48/1, 51/1, 2400/100", "GPSLatitudeRef": "N",
              "GPSLongitude": "2 deg 21' 7.92\" E"}  # fmt: skip


def _report(**more: Any) -> Any:
    data = {"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
            "reporter": {"email": "safety@example.org"}, **more}  # fmt: skip
    return report_from_dict(data, "test")


@pytest.fixture(scope="module")
def geo() -> Geo:
    return Geo()


@pytest.mark.parametrize(
    ("exif", "want"),
    [
        (PARIS_EXIF, (48.8567, 2.3522)),
        (
            {
                "GPSLatitude": "33.8688",
                "GPSLatitudeRef": "S",
                "GPSLongitude": "151.2093",
                "GPSLongitudeRef": "E",
            },
            (-33.8688, 151.2093),
        ),
        (
            {"GPSLatitude": "40 deg 42' 46.08\" N", "GPSLongitude": "74 deg 0' 21.6\" W"},
            (40.7128, -74.006),
        ),
        ({"GPSLatitude": "1/0", "GPSLongitude": "2"}, None),  # a zero denominator
        ({"GPSLatitude": "91", "GPSLongitude": "2"}, None),  # not on Earth
        ({"GPSLongitude": "2"}, None),
    ],
)
def test_exif_gps_as_tools_print_it(exif: dict[str, str], want: Any) -> None:
    got = exif_gps(exif)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, abs=1e-3)


def test_each_source_gives_a_hint_and_conflicts_are_shown(geo: Geo) -> None:
    report = _report(
        location={"country": "fr", "city": "Paris"},
        users=[{"esp_id": "user-1", "phones": ["+44 20 7946 0018", "0100"],
                "ip_events": [{"address": "81.2.69.160", "event": "Login"},
                              {"address": "192.0.2.10", "event": "Upload"}]}],
        files=[{"name": "a.jpg", "hashes": {"md5": "ab" * 16}, "exif": PARIS_EXIF},
               {"name": "b.jpg", "hashes": {"md5": "cd" * 16},
                "gps": {"latitude": 0, "longitude": -30}}],
    )  # fmt: skip
    hints = geo.hints(report)
    by_kind = {(h.kind, h.source): h for h in hints.hints}
    stated = by_kind["stated", "the reporter's statement"]
    assert (stated.country, stated.city) == ("FR", "Paris")
    gps = by_kind["gps", "file a.jpg: EXIF GPS"]
    assert (gps.country, gps.city, gps.timezone) == ("FR", "Paris", "Europe/Paris")
    sea = by_kind["gps", "file b.jpg: GPS"]
    assert sea.country == ""
    assert "no known place within 100 km" in sea.note
    ip = by_kind["ip", "user-1: Login IP 81.2.69.160"]
    assert (ip.country, ip.confidence) == ("GB", 0.6)
    assert "geoip2fast" in ip.note
    phone = by_kind["phone", "user-1: phone +44 20 7946 0018"]
    assert phone.country == "GB"
    assert len(hints.hints) == 5  # the documentation address and the bare number say nothing
    assert hints.jurisdiction == "FR"  # 0.7 + 0.8 against 0.6 + 0.5
    assert hints.conflicts == ["the hints name 2 countries: FR (1.5), GB (1.1)"]


def test_a_tie_suggests_no_jurisdiction_and_a_proxy_counts_less(geo: Geo) -> None:
    stated = geo.hints(_report(location={"country": "GB"}, users=[{"esp_id": "u", "ip_events": [
        {"address": "8.8.8.8", "possible_proxy": False}]}]))  # fmt: skip
    assert {h.country for h in stated.hints} == {"GB", "US"}
    assert stated.jurisdiction == "GB"  # the statement (0.7) outweighs one address (0.6)
    proxy = geo.hints(_report(users=[{"esp_id": "u", "ip_events": [
        {"address": "8.8.8.8", "possible_proxy": True}, {"address": "81.2.69.160"}]}]))  # fmt: skip
    assert [h.confidence for h in proxy.hints] == [0.3, 0.6]
    assert proxy.jurisdiction == "GB"
    even = geo.hints(_report(users=[{"esp_id": "u", "ip_events": [
        {"address": "8.8.8.8"}, {"address": "81.2.69.160"}]}]))  # fmt: skip
    assert even.jurisdiction == ""
    assert "the strongest countries tie" in even.conflicts[-1]


def test_an_operators_maxmind_database_is_used_instead(tmp_path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    db = tmp_path / "city.mmdb"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    writer.insert_network(
        IPSet(["8.8.8.0/24"]),
        {"country": {"iso_code": "NZ"}, "city": {"names": {"en": "Wellington"}}},
    )
    writer.to_db_file(str(db))
    hints = Geo(db).hints(_report(users=[{"esp_id": "u", "ip_events": [{"address": "8.8.8.8"}]}]))
    assert [(h.country, h.city) for h in hints.hints] == [("NZ", "Wellington")]
    assert "city.mmdb" in hints.hints[0].note
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(InputError, match=r"bad\.mmdb: not a MaxMind database"):
        Geo(bad).hints(_report(users=[{"esp_id": "u", "ip_events": [{"address": "8.8.8.8"}]}]))
    with pytest.raises(InputError, match="no such MaxMind database"):
        Geo(tmp_path / "absent.mmdb")


def test_a_stated_country_must_be_a_code() -> None:
    with pytest.raises(InputError, match=r"location\.country: an ISO 3166 two-letter code"):
        _report(location={"country": "France"})
    with pytest.raises(InputError, match=r"files\[0\].gps.latitude: must be from -90 to 90"):
        _report(files=[{"name": "a", "hashes": {"md5": "ab" * 16},
                        "gps": {"latitude": 95, "longitude": 0}}])  # fmt: skip
