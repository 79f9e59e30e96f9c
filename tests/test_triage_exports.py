"""A case out (issue 19): one CyberTipline report per reported user bundling the files of all
their reports (valid against the published schema; split past 1,000 files), a VICS 2.0 case
file whose every property is one the VICS data model declares, with its type, and that Vigil's
own VICS reader takes, and CSV with a row per file. Hashes are placeholders or come from the
committed benign photos."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.lists import Entry, formats
from vigil.matching.hashing import hash_bytes
from vigil.store import Store
from vigil.triage import report_from_dict, report_xml
from vigil.triage.bundle import case_reports
from vigil.triage.cases import Triage
from vigil.triage.exports import CONTEXT, case_csv, case_vics

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "photos").rglob("*.jpg"))
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The VICS 2.0 data model's properties (CSDL namespace CEModel, as Griffeye's parser ships
# it: ProjectVicDataModel.2.0.xml) of the entities Vigil writes, with their EDM types
EDM = {
    "Case": {"CaseID": "Guid", "CaseNumber": "String", "ContactOrganization": "String",
             "ContactName": "String", "ContactPhone": "String", "ContactEmail": "String",
             "ContactTitle": "String", "TotalMediaFiles": "Int32",
             "TotalPrecategorized": "Int32", "SeizureDate": "DateTimeOffset",
             "SourceApplicationName": "String", "SourceApplicationVersion": "String",
             "CaseMetadata": "CaseMetadata*", "Media": "Media*"},
    "CaseMetadata": {"CaseID": "Guid", "PropertyName": "String", "PropertyValue": "String"},
    "Media": {"MD5": "String", "MediaID": "Int32", "Category": "Byte", "SHA1": "String",
              "VictimIdentified": "Boolean", "OffenderIdentified": "Boolean",
              "IsDistributed": "Boolean", "Comments": "String", "Tags": "String",
              "Series": "String", "MediaSize": "Int64", "RelativeFilePath": "String",
              "DateUpdated": "DateTimeOffset", "IsPrecategorized": "Boolean",
              "PrecategorizationSource": "String", "IsSuspected": "Boolean",
              "MimeType": "String", "SelfGenerated": "Boolean", "PhotoDNA": "String",
              "AlternativeHashes": "AlternativeHash*", "Exifs": "Exif*",
              "MediaFiles": "MediaFile*", "MediaMetadata": "MediaMetadata*"},
    "AlternativeHash": {"MD5": "String", "HashName": "String", "HashValue": "String"},
    "MediaFile": {"MD5": "String", "MediaFileID": "Int32", "FileName": "String",
                  "FilePath": "String"},
    "MediaMetadata": {"MD5": "String", "PropertyName": "String", "PropertyValue": "String"},
}  # fmt: skip
KEYS = {"Case": ["CaseID"], "Media": ["MD5", "MediaID", "IsPrecategorized"],
        "MediaFile": ["MD5", "MediaFileID"], "AlternativeHash": ["MD5", "HashName"]}  # fmt: skip


def _conforms(entity: str, obj: dict[str, Any], where: str) -> None:
    """Every property of ``obj`` is one ``entity`` declares, of its type; keys present."""
    for key in KEYS.get(entity, []):
        assert obj.get(key) is not None, f"{where}: {entity}.{key} missing"
    for name, value in obj.items():
        kind = EDM[entity].get(name)
        assert kind is not None, f"{where}: {entity} has no property {name}"
        if kind.endswith("*"):
            assert isinstance(value, list)
            for n, item in enumerate(value):
                _conforms(kind[:-1], item, f"{where}.{name}[{n}]")
        elif kind == "Guid":
            assert GUID.match(value), f"{where}.{name}: not a GUID"
        elif kind in ("Int32", "Int64", "Byte"):
            assert isinstance(value, int)
            assert not isinstance(value, bool)
            assert kind != "Byte" or 0 <= value <= 255
        elif kind == "Boolean":
            assert isinstance(value, bool), f"{where}.{name}: not a boolean"
        else:
            assert isinstance(value, str), f"{where}.{name}: not a string"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "home")
    s.create_list("known")
    yield s
    s.close()


def _report(esp_id: str, files: list[dict[str, Any]], **more: Any) -> Any:
    data = {
        "incident_type": "csam",
        "incident_at": more.pop("at", "2026-12-01T10:00:00Z"),
        "platform": "Example Photos",
        "reporter": {"email": "safety@example.org", "first_name": "Safety"},
        "users": [{"esp_id": esp_id, **more.pop("user", {})}],
        "files": files,
        **more,
    }
    return report_from_dict(data, "test")  # fmt: skip


def _photo(n: int) -> dict[str, Any]:
    hashes = hash_bytes(PHOTOS[n].read_bytes(), "p", ["md5", "sha1", "pdq"]).signals
    return {"name": PHOTOS[n].name, "hashes": {t: s.value for t, s in hashes.items()}}


def test_a_users_reports_become_one_cybertipline_report(store: Store, shared: Path) -> None:
    etree = pytest.importorskip("lxml.etree", reason="lxml (the peers extra) validates reports")
    schema = etree.XMLSchema(etree.parse(str(shared / "ncmec" / "cybertipline-report.xsd")))
    triage = Triage(store)
    ip = {"address": "81.2.69.160", "event": "Login"}
    first = triage.ingest(
        _report(
            "user-42",
            [_photo(0)],
            at="2026-12-02T09:00:00Z",
            user={"ip_events": [ip], "phones": ["+44 20 7946 0018"]},
            text="first",
            urls=["https://photos.example/a"],
        ),
        "r1",
    )
    triage.ingest(_report("user-42", [_photo(1), _photo(0)], annotations=["sextortion"],
                          user={"ip_events": [ip, {"address": "8.8.8.8"}]},
                          location={"country": "GB", "city": "London"}), "r2")  # fmt: skip
    [report] = case_reports(store, first.case or 0)
    assert report.incident_at.isoformat() == "2026-12-01T10:00:00+00:00"  # the earliest
    assert report.annotations == ["sextortion"]
    assert [f.name for f in report.files] == [PHOTOS[0].name, PHOTOS[1].name]
    [user] = report.users
    assert [e.address for e in user.ip_events] == ["81.2.69.160", "8.8.8.8"]
    assert user.phones == ["+44 20 7946 0018"]
    assert "suggested jurisdiction: GB" in report.text
    assert "81.2.69.160" in report.text
    xml = report_xml(report)
    assert schema.validate(etree.fromstring(xml)), schema.error_log.last_error
    assert b"Location stated by the reporter: London, GB" in xml


def test_a_case_past_a_thousand_files_is_sent_in_parts(store: Store) -> None:
    triage = Triage(store)
    for r in range(2):
        files = [{"name": f"{r}-{n}.jpg", "hashes": {"md5": f"{r:04x}{n:028x}"}}
                 for n in range(600)]  # fmt: skip
        got = triage.ingest(_report("user-9", files), f"r{r}")
    parts = case_reports(store, got.case or 0)
    assert [len(p.files) for p in parts] == [1000, 200]
    assert parts[1].text.endswith("Part 2 of 2 of this case's files.")


def test_a_case_as_vics_and_csv(store: Store) -> None:
    listed = _photo(2)
    store.apply("known", [Entry("k1", [("md5", listed["hashes"]["md5"])], category=1,
                                series="S1", victim_identified=False)])  # fmt: skip
    triage = Triage(store)
    first = triage.ingest(_report("user-5", [listed, _photo(3)]), "r1")
    triage.ingest(_report("user-5", [listed, {"name": "x", "hashes": {"sha256": "ab" * 32}}],
                          text="again"), "r2")  # fmt: skip
    doc, skipped = case_vics(store, first.case or 0)
    assert (doc["@odata.context"], skipped) == (CONTEXT, 1)  # the file with no MD5
    [case] = doc["value"]
    _conforms("Case", case, "case")
    assert (case["TotalMediaFiles"], case["TotalPrecategorized"]) == (2, 1)
    media = {m["MD5"]: m for m in case["Media"]}
    known = media[listed["hashes"]["md5"].upper()]
    assert (known["Category"], known["Series"], known["VictimIdentified"]) == (1, "S1", False)
    assert [f["FileName"] for f in known["MediaFiles"]] == [listed["name"], listed["name"]]
    assert case_vics(store, first.case or 0)[0]["value"][0]["CaseID"] == case["CaseID"]
    read = list(formats.get("vics").read(io.BytesIO(json.dumps(doc).encode()), "case.json"))
    assert sorted(e.key for e in read if isinstance(e, Entry)) == sorted(
        f"md5:{m.lower()}" for m in media)  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(case_csv(store, first.case or 0))))
    assert [(r["report"], r["name"]) for r in rows] == [
        (str(first.id), listed["name"]), (str(first.id), PHOTOS[3].name),
        (str(first.id + 1), listed["name"]), (str(first.id + 1), "x")]  # fmt: skip
    assert rows[0]["matches"] == "known:k1:exact"
