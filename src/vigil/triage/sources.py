"""Where reports come from on disk (issue 19): JSON files of reports (one object, an array, or
JSON lines), folders of them, and the JSON lines of a ``vigil scan`` report, whose rows become
reports of their files (hashes, evidence summary, the models the evidence names, GPS), at most
:data:`MAX_FILES` files a report. A row that is not JSON, or a scan row with no hash to report
(a file the scan could not read), is an error naming its line, never dropped unsaid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from vigil.errors import InputError, UnreadableFile
from vigil.triage.intake import MAX_FILES, report_from_dict
from vigil.triage.model import FileEvidence, Report, ReportFile

__all__ = ["SUFFIXES", "is_scan_row", "json_items", "report_files", "scan_reports"]

SUFFIXES = (".json", ".jsonl", ".ndjson")
HASHES = ("md5", "sha1", "sha256", "pdq")


def report_files(paths: list[Path]) -> list[Path]:
    """The files named, a folder standing for its JSON files (sorted, not recursive)."""
    out = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        else:
            out.append(path)
    return out


def json_items(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, JSON value or the InputError of a line that is not JSON) for a file holding
    one value, an array of them, or JSON lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(str(path), str(exc)) from None
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, list):
        yield from ((f"{path}[{n}]", item) for n, item in enumerate(whole))
    elif whole is not None:
        yield str(path), whole
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield f"{path}:{n}", json.loads(line)
                except ValueError as exc:
                    yield f"{path}:{n}", InputError(f"{path}:{n}", f"not JSON: {exc}")


def is_scan_row(item: Any) -> bool:
    """A row of a ``vigil scan`` report (it has the scan's stamp and signals)."""
    return isinstance(item, dict) and "stamp" in item and "signals" in item


def _evidence(row: dict[str, Any]) -> tuple[FileEvidence | None, tuple[float, float] | None]:
    ev = row.get("evidence")
    if not isinstance(ev, dict):
        return None, None
    items = [e for e in ev.get("evidence") or [] if isinstance(e, dict)]
    models = tuple((str(v.get("type")), str(v.get("hash")), str(v.get("name", "")))
                   for e in items if e.get("claim") == "model_reference"
                   and isinstance(v := e.get("value"), dict))  # fmt: skip
    places = [e["value"] for e in items if e.get("claim") == "location"
              and isinstance(e.get("value"), dict)]  # fmt: skip
    gps = (float(places[0]["latitude"]), float(places[0]["longitude"])) if places else None
    label, strength = str(ev.get("summary", "unknown")), str(ev.get("strength", "none"))
    return FileEvidence(label, strength, tuple(map(str, ev.get("conflicts") or ())), models), gps


def _scan_file(where: str, row: dict[str, Any]) -> ReportFile:
    signals = row.get("signals") or {}
    hashes = {t: str(s["value"]) for t, s in signals.items() if t in HASHES
              and isinstance(s, dict) and s.get("value") and s.get("usable", True)}  # fmt: skip
    if not hashes:
        why = (row.get("error") or {}).get("reason") or "no hash in the row"
        raise InputError(where, f"{row.get('path', '?')}: not reported: {why}")
    evidence, gps = _evidence(row)
    return ReportFile(str(row.get("path", where)), hashes, gps=gps, evidence=evidence)


def scan_reports(rows: list[tuple[str, dict[str, Any]]], base: dict[str, Any], source: str
                 ) -> tuple[list[Report], list[InputError]]:  # fmt: skip
    """Reports of a scan's rows: ``base`` holds the report's own fields (incident, reporter,
    user) as JSON; the files, MAX_FILES a report. Rows that cannot be files are errors."""
    files, errors = [], []
    for where, row in rows:
        try:
            files.append(_scan_file(where, row))
        except InputError as exc:
            errors.append(exc)
    template = report_from_dict({**base, "files": []}, source)
    parts = [files[i : i + MAX_FILES] for i in range(0, len(files), MAX_FILES)]
    reports = []
    for n, part in enumerate(parts, 1):
        more = f" (part {n} of {len(parts)})" if len(parts) > 1 else ""
        text = "\n".join(x for x in (template.text, f"Files of the scan report {source}{more}.")
                         if x)  # fmt: skip
        reports.append(replace(template, files=part, text=text))
    return reports, errors
