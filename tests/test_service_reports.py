"""Triage through a real `vigil serve` on 127.0.0.1 (issue 19): reports as JSON and as
multipart with their files (hashed and inspected once, a file that is not an image kept by its
digests and said), a list whose action is ``report`` making a report of a matched upload,
cases and exports for curators only (each read audited), and a case's CyberTipline report,
with the content a list rule kept, filed through the queue against the fake CyberTipline."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.service_kit import PHOTOS, Server, serving

KNOWN = sorted((PHOTOS / "known").glob("*.jpg"))
UNRELATED = sorted((PHOTOS / "unrelated").glob("*.jpg"))


def _report(files: list[dict[str, Any]], user: str = "user-42") -> dict[str, Any]:
    return {"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
            "platform": "Example Photos",
            "reporter": {"email": "safety@example.org", "first_name": "Safety"},
            "users": [{"esp_id": user, "ip_events": [{"address": "81.2.69.160"}]}],
            "files": files}  # fmt: skip


def _cropped(path: Path) -> bytes:
    with Image.open(path) as im:
        out = io.BytesIO()
        im.crop((im.width // 5, 0, im.width, im.height)).save(out, "JPEG", quality=85)
        return out.getvalue()


def test_reports_come_in_as_json_or_with_their_files(server: Server) -> None:
    with server.client("match") as m, server.client("curator") as cur:
        bad = m.post("/v1/reports", json=_report([{"name": "a", "hashes": {"md5": "xyz"}}]))
        assert bad.status_code == 422  # an InputError: the field named
        assert "files[0].hashes.md5" in bad.json()["error"]["message"]
        plain = m.post("/v1/reports", json=_report([{"name": "a", "hashes": {"md5": "ab" * 16}}]))
        assert plain.status_code == 200, plain.text
        first = plain.json()
        assert (first["priority"], first["geolocation"]["jurisdiction"]) == (2, "GB")
        form = {"report": json.dumps(_report([{"name": "known.jpg"}, {"name": "copy.jpg"},
                                              {"name": "notes.jpg"}]))}  # fmt: skip
        files = [("file", ("known.jpg", KNOWN[0].read_bytes(), "image/jpeg")),
                 ("file", ("copy.jpg", _cropped(UNRELATED[0]), "image/jpeg")),
                 ("file", ("notes.jpg", b"plain text, not a photo", "image/jpeg"))]  # fmt: skip
        got = m.post("/v1/reports", data=form, files=files)
        assert got.status_code == 200, got.text
        taken = got.json()
        assert taken["case"] == first["case"]  # the same reported user: one case
        assert [f["how"] for f in taken["files"]] == ["new", "new", "new"]
        assert taken["errors"] == []  # a text file is hashed (digests), just not as an image
        stored = cur.get(f"/v1/reports/{taken['id']}").json()
        known = stored["files"][0]
        assert [x["entry"] for x in known["matches"]] == ["photo-0"]
        assert set(stored["report"]["files"][2]["hashes"]) == {"md5", "sha1", "sha256"}
        stray = m.post("/v1/reports", data=form, files=[("file", ("x.jpg", b"x", "image/jpeg"))])
        assert stray.status_code == 400
        assert "'x.jpg' is not one of the report's files" in stray.json()["error"]["message"]
        again = m.post("/v1/reports", data=form, files=files).json()  # the same again
        assert (again["duplicate"], again["id"]) == (True, taken["id"])
        assert m.get(f"/v1/cases/{first['case']}").status_code == 403  # curators only
        case = cur.get(f"/v1/cases/{first['case']}").json()
        assert (case["reports"], case["files"]) == (2, 4)
        listed = cur.get("/v1/cases", params={"priority": 2}).json()["cases"]
        assert [c["id"] for c in listed] == [first["case"]]
        vics = cur.get(f"/v1/cases/{first['case']}/export")
        assert vics.headers["X-Vigil-Skipped"] == "0"
        assert len(vics.json()["value"][0]["Media"]) == 4
        assert cur.get(f"/v1/cases/{first['case']}/export", params={"format": "csv"}).text.count(
            "\n") == 5  # fmt: skip
    with server.client("admin") as admin:
        entries = admin.get("/v1/audit", params={"limit": 20}).json()["entries"]
        assert {"case.view", "report.view", "case.export"} <= {e["action"] for e in entries}


def test_a_report_action_makes_a_report_and_the_queue_files_it(
    prepared: Server, tmp_path: Path, shared: Path
) -> None:
    pytest.importorskip("lxml.etree", reason="the fake CyberTipline validates with lxml")
    from tests.fake_tipline import PASSWORD, USER, FakeTipline
    from tests.fake_tipline import serving as tipline_serving

    tipline = FakeTipline(shared / "ncmec" / "cybertipline-report.xsd")
    creds = tmp_path / "tipline"
    creds.write_text(f"{USER}:{PASSWORD}")
    with tipline_serving(tipline) as tip_url, serving(
        prepared.store, "--report-contact", "safety@example.org", "--platform", "Example Photos",
        "--tipline-url", tip_url, "--tipline-credentials-file", str(creds),
        "--tipline-every", "3600",
    ) as url:  # fmt: skip
        server = Server(url, prepared.keys, prepared.store)
        with server.client("match") as m, server.client("curator") as cur:
            rule = {"outcome": "report", "keep_days": 7}
            assert cur.put("/v1/lists/known/action", json=rule).status_code == 200
            answer = m.post("/v1/match", params={"user": "user-9"},
                            content=KNOWN[0].read_bytes()).json()  # fmt: skip
            assert answer["outcome"] == "report"
            made = answer["report"]
            case = cur.get(f"/v1/cases/{made['case']}").json()
            assert case["user"] == "Example Photos|user-9"
            assert case["file_list"][0]["matches"][0]["entry"] == "photo-0"
            queued = cur.post(f"/v1/cases/{made['case']}/tipline").json()["queued"]
            assert len(queued) == 1
            sent = cur.post("/v1/tipline/send").json()
            assert sent == {"busy": False, "sent": {"filed": 1}}
    [filed] = tipline.reports.values()
    assert filed["state"] == "finished"
    assert list(filed["files"].values()) == [KNOWN[0].read_bytes()]  # the kept upload, sent
    assert b"<espIdentifier>user-9</espIdentifier>" in filed["report"]
