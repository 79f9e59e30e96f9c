"""Triage from the command line (issue 19): a folder of JSON reports and a `vigil scan` report
taken in (the scan's rows become a report of its files; a row with no hash is named, exit 7;
the same scan taken in again is skipped), then the case queue, a case, its exports and its
CyberTipline report queued. Images are the committed benign photos."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from tests.test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "home", capsys)


def _report(user: str, md5: str, **more: object) -> dict[str, object]:
    return {"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
            "platform": "Example Photos", "reporter": {"email": "safety@example.org"},
            "users": [{"esp_id": user}], "files": [{"name": "f.jpg", "hashes": {"md5": md5}}],
            **more}  # fmt: skip


def test_scan_reports_and_folders_of_reports_become_cases(
    cli: Cli,
    known_photos: list[Path],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    for p in known_photos[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    os.mkfifo(folder / "pipe.jpg")  # never read by the scan: a row with no hash
    scan = tmp_path / "scan.jsonl"
    assert cli("scan", str(folder), "--report", str(scan), "--workers", "1")[0] in (0, 1, 7)
    code, _ = cli("report", "ingest", str(scan))
    assert code == 2  # a scan report needs --reporter: said, nothing taken in
    code, rows = cli.json_lines(
        "report",
        "ingest",
        str(scan),
        "--reporter",
        "examiner@example.org",
        "--user",
        "seized-1",
        "--json",
    )
    assert code == 7  # the pipe has no hash to report
    errors = [r for r in rows if "error" in r]
    assert len(errors) == 1
    assert "pipe.jpg: not reported" in errors[0]["error"]["message"]
    [taken] = [r for r in rows if "id" in r]
    assert (taken["priority"], len(taken["files"])) == (2, 3)  # matches no list: new material
    code, again = cli.json_lines(
        "report",
        "ingest",
        str(scan),
        "--reporter",
        "examiner@example.org",
        "--user",
        "seized-1",
        "--json",
    )
    assert [r["duplicate"] for r in again if "id" in r] == [True]
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.json").write_text(json.dumps(_report("user-1", "ab" * 16)))
    (reports / "b.jsonl").write_text(
        json.dumps(_report("user-1", "cd" * 16, annotations=["sextortion"])) + "\n"
    )
    (reports / "notes.txt").write_text("not a report")  # not a JSON file: not read
    code, rows = cli.json_lines("report", "ingest", str(reports), "--json")
    assert code == 0
    assert len({r["case"] for r in rows}) == 1
    code, out = cli("case", "list", "--json")
    cases = json.loads(out)["cases"]
    assert [(c["priority"], c["reports"]) for c in cases] == [(1, 2), (2, 1)]
    code, out = cli("case", "show", str(cases[0]["id"]))
    assert code == 0
    assert "P1: sextortion" in out
    code, out = cli("case", "export", str(taken["case"]), "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(out)))) == 3
    code, out = cli("case", "export", str(taken["case"]))
    assert len(json.loads(out)["value"][0]["Media"]) == 3
    code, out = cli("case", "file", str(cases[0]["id"]), "--json")
    assert (code, len(json.loads(out)["queued"])) == (0, 1)
    assert cli("case", "show", "999")[0] == 4
    assert cli("case", "export", "1", "--format", "xls")[0] == 2
