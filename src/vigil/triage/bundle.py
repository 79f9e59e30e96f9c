"""One CyberTipline report per reported user (issue 19): a case's reports bundled, their files
together, the user's details merged. A case of more files than one report may hold
(:data:`MAX_FILES`) becomes several reports, each saying which part it is. The incident is the
case's most urgent report's type, at its earliest time; the reporter is the latest report's
contact; URLs, annotations and escalations are gathered; Vigil's geolocation hints go in the
additional information with their sources and confidence, never as a stated fact."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from vigil.errors import NotFound
from vigil.store import Store
from vigil.store.schema import review_items, triage_cases, triage_files, triage_reports
from vigil.triage.intake import MAX_FILES, report_from_dict
from vigil.triage.model import IpEvent, Report, ReportedUser, ReportFile

__all__ = ["case_reports"]


def _once(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _user(users: list[ReportedUser]) -> ReportedUser:
    first = users[0]
    events: list[IpEvent] = _once([e for u in users for e in u.ip_events])
    return ReportedUser(first.esp_id, first.screen_name,
                        _once([n for u in users for n in u.display_names]),
                        _once([e for u in users for e in u.emails]),
                        _once([p for u in users for p in u.profile_urls]), events,
                        _once([d for u in users for d in u.devices]),
                        _once([p for u in users for p in u.phones]))  # fmt: skip


def _file_key(f: ReportFile) -> str:
    return json.dumps([f.name, sorted(f.hashes.items()), str(f.uploaded_at), f.url])


def _hints_text(rows: list[Any]) -> str:
    lines = []
    for row in rows:
        hints = json.loads(row.hints) if row.hints else {}
        for h in hints.get("hints", []):
            where = ", ".join(x for x in (h.get("city"), h.get("region"), h.get("country")) if x)
            lines.append(f"- {where or 'no place'} ({h['kind']}, {h['source']}, "
                         f"confidence {h['confidence']})")  # fmt: skip
    return "\n".join(_once(lines))


def _load(store: Store, case_id: int) -> tuple[Any, list[Any]]:
    with store.engine.connect() as conn:
        case = conn.execute(select(triage_cases).where(triage_cases.c.id == case_id)).first()
        if case is None:
            raise NotFound(f"no triage case {case_id}")
        rows = conn.execute(select(triage_reports).where(triage_reports.c.case_id == case_id)
                            .order_by(triage_reports.c.id)).all()  # fmt: skip
    return case, list(rows)


def _reviewed(store: Store, rows: list[Any]) -> list[Report]:
    """The case's reports as taken in, each file with its kept content and its image's final
    review (its grade; AI-made where so decided); files whose image was decided not material
    are left out."""
    f, i = triage_files.c, review_items.c
    with store.engine.connect() as conn:
        found = conn.execute(select(f.report_id, f.position, f.kept, i.verdict, i.grade)
                             .outerjoin(review_items, i.cluster_id == f.cluster_id)
                             .where(f.report_id.in_([r.id for r in rows]))).all()  # fmt: skip
    per = {(r.report_id, r.position): r for r in found}
    reports = []
    for row in rows:
        report = report_from_dict(json.loads(row.body), f"triage report {row.id}")
        files = []
        for n, rf in enumerate(report.files):
            got = per.get((row.id, n))
            if got is not None and got.verdict == "not_material":
                continue
            verdict = got.verdict if got is not None else None
            files.append(replace(
                rf, kept=got.kept if got is not None and got.kept else rf.kept,
                classification=(got.grade if got is not None and got.grade else rf.classification),
                generative_ai=rf.generative_ai or verdict == "ai_generated"))  # fmt: skip
        reports.append(replace(report, files=files))
    return reports


def case_reports(store: Store, case_id: int) -> list[Report]:
    """The CyberTipline report(s) of case ``case_id``: one, or one per MAX_FILES files."""
    case, rows = _load(store, case_id)
    reports = _reviewed(store, rows)
    urgent = min(zip(rows, reports, strict=True), key=lambda p: (p[0].priority, p[0].id))[1]
    users = [r.users[0] for r in reports if r.users]
    files = list({_file_key(f): f for r in reports for f in r.files}.values())
    text = [f"Vigil triage case {case_id}: {len(reports)} report(s) of this user, "
            f"priority {case.priority}."]  # fmt: skip
    text += [f"Report {row.id}: {r.text}" for row, r in zip(rows, reports, strict=True) if r.text]
    if hints := _hints_text(rows):
        said = case.jurisdiction or "none"
        text.append("Geolocation hints (Vigil, offline data; each a hint, not a finding; "
                    f"suggested jurisdiction: {said}):\n{hints}")  # fmt: skip
    base = replace(
        urgent,
        incident_at=min(r.incident_at for r in reports),
        reporter=reports[-1].reporter,
        urls=_once([u for r in reports for u in r.urls]),
        annotations=_once([a for r in reports for a in r.annotations]),
        escalate="; ".join(_once([r.escalate for r in reports if r.escalate])),
        users=[_user(users)] if users else [],
        location=next((r.location for r in reports if r.location is not None), None),
    )
    parts = [files[i : i + MAX_FILES] for i in range(0, len(files), MAX_FILES)] or [[]]
    out = []
    for n, part in enumerate(parts, 1):
        said = text + (
            [f"Part {n} of {len(parts)} of this case's files."] if len(parts) > 1 else []
        )
        out.append(replace(base, files=part, text="\n".join(said)))
    return out
