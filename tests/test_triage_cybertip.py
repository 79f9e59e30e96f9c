"""CyberTipline reports (issue 19, first part): reports read strictly from JSON, and the XML
Vigil writes for them validated against the published CyberTipline schema (with lxml), element
order included; an out-of-order report is what the schema (and NCMEC, with 4100) refuses."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import InputError
from vigil.triage import file_details_xml, report_from_dict, report_xml

MD5, PDQ = "0123456789abcdef" * 2, "ab" * 32


def _report() -> dict[str, Any]:
    return {
        "incident_type": "csam",
        "incident_at": "2026-11-30T14:02:00+00:00",
        "platform": "Example Photos",
        "urls": ["https://photos.example/p/123"],
        "annotations": ["sextortion"],
        "escalate": "the reported user says they will meet the child",
        "reporter": {"email": "safety@example.org", "first_name": "Safety", "last_name": "Team"},
        "users": [{"esp_id": "user-42", "screen_name": "placeholder_user",
                   "emails": ["user42@example.org"],
                   "ip_events": [{"address": "192.0.2.10", "event": "Login",
                                  "at": "2026-11-30T13:50:00Z", "port": 443}],
                   "devices": [{"type": "IMEI", "value": "000000000000000"}]}],
        "files": [{"name": "upload-1.jpg", "hashes": {"md5": MD5, "pdq": PDQ},
                   "uploaded_at": "2026-11-30T14:01:00Z", "classification": "A1",
                   "upload_ip": {"address": "2001:db8::1", "event": "Upload"},
                   "viewed_by_esp": True, "generative_ai": True,
                   "exif": {"Make": "ExampleCam", "DateTimeOriginal": "2026:11:30 13:00:00"}}],
        "text": "placeholder text",
    }  # fmt: skip


@pytest.fixture
def schema(shared: Path) -> Any:
    etree = pytest.importorskip("lxml.etree", reason="lxml (the peers extra) validates reports")
    return etree.XMLSchema(etree.parse(str(shared / "ncmec" / "cybertipline-report.xsd")))


def _valid(schema: Any, xml: bytes) -> None:
    from lxml import etree

    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log.last_error


def test_reports_and_file_details_validate_against_the_published_schema(schema: Any) -> None:
    report = report_from_dict(_report(), "report.json")
    xml = report_xml(report)
    _valid(schema, xml)
    assert b"<escalateToHighPriority>" in xml
    assert b"<sextortion>true</sextortion>" in xml
    details = file_details_xml(1234, "file-1", report.files[0])
    _valid(schema, details)
    assert b'<originalFileHash hashType="MD5">' + MD5.encode() in details
    assert b"<generativeAi>true</generativeAi>" in details  # a reviewer confirmed it
    minimal = _report()
    for key in ("platform", "urls", "annotations", "escalate", "users", "text"):
        del minimal[key]
    minimal["files"] = [{"name": "a.jpg", "hashes": {"sha1": "a" * 40}}]
    bare = report_from_dict(minimal, "minimal.json")
    _valid(schema, report_xml(bare))
    _valid(schema, file_details_xml(1, "f", bare.files[0]))
    assert b"generativeAi" not in file_details_xml(1, "f", bare.files[0])  # never guessed


@pytest.mark.parametrize(
    ("evidence", "said"),
    [
        ({"label": "ai_generated", "strength": "verified"}, True),  # a trusted C2PA manifest
        ({"label": "ai_generated", "strength": "strong"}, False),  # metadata: can be forged
        ({"label": "ai_generated", "strength": "verified", "conflicts": ["camera EXIF"]}, False),
        ({"label": "ai_edited", "strength": "verified"}, False),  # a real capture may lie under
    ],
)
def test_generative_ai_comes_from_evidence_only_where_it_is_proven(
    evidence: dict[str, Any], said: bool
) -> None:
    data = _report()
    data["files"][0].update(generative_ai=False, evidence=evidence)
    f = report_from_dict(data, "report.json").files[0]
    assert (b"<generativeAi>true</generativeAi>" in file_details_xml(1, "f", f)) == said


def test_the_schema_refuses_a_report_out_of_order(schema: Any) -> None:
    from lxml import etree

    doc = etree.fromstring(report_xml(report_from_dict(_report(), "report.json")))
    reporter = doc.find("reporter")
    doc.remove(reporter)
    doc.insert(0, reporter)  # before incidentSummary: what NCMEC answers 4100 to
    assert not schema.validate(doc)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda r: r.update(colour="red"), "colour: unknown field"),
        (lambda r: r.update(incident_at="yesterday"), "incident_at: not a date and time"),
        (
            lambda r: r["users"][0]["ip_events"][0].update(address="300.1.2.3"),
            "users[0].ip_events[0].address: not an IP address",
        ),
        (lambda r: r["files"][0]["hashes"].update(md5="xyz"), "files[0].hashes.md5"),
        (lambda r: r["files"][0].update(classification="C3"), "files[0].classification"),
        (lambda r: r.update(files=[r["files"][0]] * 10_000), "at most 1,000 in one report"),
        (lambda r: r.pop("reporter"), "reporter: missing"),
    ],
)
def test_bad_input_is_a_clear_error_naming_the_field(change: Any, said: str) -> None:
    data = copy.deepcopy(_report())
    change(data)
    with pytest.raises(InputError) as caught:
        report_from_dict(data, "report.json")
    assert caught.value.source == "report.json"
    assert said in str(caught.value)


# -- filing, against a fake CyberTipline ---------------------------------------------------------
@pytest.fixture
def tipline(shared: Path) -> Any:
    pytest.importorskip("lxml.etree", reason="lxml (the peers extra) validates reports")
    from tests.fake_tipline import FakeTipline

    return FakeTipline(shared / "ncmec" / "cybertipline-report.xsd")


def test_a_report_is_filed_submit_upload_fileinfo_finish(tipline: Any) -> None:
    from tests.fake_tipline import PASSWORD, USER, serving
    from vigil.triage.tipline import TiplineClient, file_report

    data = _report()
    data["files"].append({"name": "not-kept.jpg", "hashes": {"md5": "f" * 32}})
    report = report_from_dict(data, "report.json")
    with serving(tipline) as url:
        client = TiplineClient(url, USER, PASSWORD, backoff=0)
        tipline.faults.append("503")  # retried, not dropped
        filed = file_report(client, report, {"upload-1.jpg": b"benign placeholder bytes"})
        client.close()
    sent = tipline.reports[filed.report_id]
    assert sent["state"] == "finished"
    assert list(sent["files"].values()) == [b"benign placeholder bytes"]
    assert filed.file_ids == {"upload-1.jpg": "file-0"}
    assert len(sent["details"]) == 1
    assert b"not-kept.jpg: md5 " + b"f" * 32 in sent["report"]  # named with its hashes


def test_a_refused_report_is_a_permanent_error_and_nothing_is_left_open(tipline: Any) -> None:
    from tests.fake_tipline import PASSWORD, USER, serving
    from vigil.errors import ReportRefused
    from vigil.triage.tipline import TiplineClient

    with serving(tipline) as url:
        client = TiplineClient(url, USER, PASSWORD, backoff=0)
        out_of_order = b"<report><reporter/><incidentSummary/></report>"
        with pytest.raises(ReportRefused) as caught:
            client.submit(out_of_order)
        client.close()
    assert caught.value.code == 4100
    assert tipline.reports == {}


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Any, list[datetime]]]:
    """A queue on a fresh store, and the clock it reads (a list: the test moves it)."""
    from vigil.store import Store
    from vigil.triage.queue import TiplineQueue

    store = Store.open(tmp_path / "home")
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    yield TiplineQueue(store, clock=lambda: now[0]), now
    store.close()


def test_the_queue_retries_a_failed_delivery_keeps_what_was_sent_and_records_refusals(
    tipline: Any, clocked: tuple[Any, list[datetime]]
) -> None:
    from tests.fake_tipline import PASSWORD, USER, serving
    from vigil.triage.tipline import TiplineClient

    queue, now = clocked
    first = queue.add(report_from_dict(_report(), "report.json"))
    refused = queue.add(report_from_dict(_report(), "report.json"))
    with serving(tipline) as url:
        client = TiplineClient(url, USER, PASSWORD, backoff=0)
        tipline.faults.extend(["503"] * 8)  # the first report's submit fails past its retries
        tipline.faults.append("refuse")  # the second is refused
        assert queue.send_due(client, lambda r: {}) == {"queued": 1, "refused": 1}
        assert queue.send_due(client, lambda r: {}) == {}  # not due yet: a minute's backoff
        now[0] += timedelta(minutes=2)
        assert queue.send_due(client, lambda r: {"upload-1.jpg": b"benign"}) == {"filed": 1}
        client.close()
    done = queue.get(first)
    assert (done.state, done.attempts, done.file_ids) == ("filed", 1, {"upload-1.jpg": "file-0"})
    assert tipline.reports[done.report_id]["state"] == "finished"
    sent_first = queue.documents(first)[0].encode()
    assert sent_first == tipline.reports[done.report_id]["report"]
    no = queue.get(refused)
    assert no.state == "refused"
    assert "4100" in (no.last_error or "")


def test_a_report_that_cannot_be_delivered_for_30_days_expires_said(
    tipline: Any, clocked: tuple[Any, list[datetime]]
) -> None:
    from tests.fake_tipline import PASSWORD, USER, serving
    from vigil.triage.tipline import TiplineClient

    queue, now = clocked
    queued = queue.add(report_from_dict(_report(), "report.json"))
    with serving(tipline) as url:
        client = TiplineClient(url, USER, PASSWORD, backoff=0)
        tipline.faults.extend(["503"] * 16)
        queue.send_due(client, lambda r: {})
        now[0] += timedelta(days=30)
        assert queue.send_due(client, lambda r: {}) == {"expired": 1}
        client.close()
    gone = queue.get(queued)
    assert (gone.state, gone.attempts) == ("expired", 2)
    assert "503" in (gone.last_error or "")


def test_a_report_reads_back_as_itself() -> None:
    from vigil.triage.serial import report_to_dict

    report = report_from_dict(_report(), "report.json")
    assert report_from_dict(report_to_dict(report), "again") == report


def test_the_report_commands_check_write_queue_and_send(tipline: Any, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.fake_tipline import PASSWORD, USER, serving

    vigil = [str(Path(sys.executable).with_name("vigil")), "--home", str(tmp_path / "home")]
    good, bad = _report(), _report()
    bad["incident_at"] = "last tuesday"
    mixed = tmp_path / "reports.jsonl"
    mixed.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    checked = subprocess.run([*vigil, "report", "check", str(mixed)], capture_output=True,
                             text=True)  # fmt: skip
    assert checked.returncode == 7
    assert f"{mixed}:1: ok" in checked.stdout
    assert f"{mixed}:2: incident_at: not a date and time" in " ".join(checked.stderr.split())
    one = tmp_path / "report.json"
    one.write_text(json.dumps(good))
    written = subprocess.run([*vigil, "report", "xml", str(one)], capture_output=True)
    assert written.returncode == 0
    _valid(tipline.schema, written.stdout.strip())
    assert (
        subprocess.run([*vigil, "report", "queue", str(one)], capture_output=True).returncode == 0
    )
    creds = tmp_path / "cybertip"
    creds.write_text(f"{USER}:{PASSWORD}\n")
    with serving(tipline) as url:
        sent = subprocess.run([*vigil, "report", "send", "--credentials-file", str(creds),
                               "--base-url", url], capture_output=True, text=True)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "1 filed" in sent.stdout
    (filed,) = tipline.reports.values()
    assert filed["state"] == "finished"
