"""Taking reports in (issue 19): each report is stored once (keyed by the SHA-256 of its
canonical JSON, so an ingest killed and run again skips what it stored and duplicates
nothing), each file matched against the lists once, put in the cluster of the same image
across all reports (:mod:`vigil.triage.clusters`), the report given its geolocation hints
(:mod:`vigil.triage.geo`) and its priority with reasons (:mod:`vigil.triage.rules`), and
filed in its **case**: the reports about one reported user together (the report's first
reported user, by platform and id, screen name or email), or a case of its own where it names
no user. Each report is written in one transaction.

Where a file's content is at hand (:class:`FileContent`: an upload, or a file a scan read),
its hashes and evidence summary come from it, its robust signal finds altered copies of list
entries and of earlier reports' images, and the models its evidence names are matched. Only
hashes, matches and evidence are kept, never the content."""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from vigil.errors import InvalidSignal
from vigil.matching.match import Matcher, acted_on
from vigil.review.items import note_cluster
from vigil.store import Store
from vigil.store.schema import triage_cases, triage_files, triage_reports
from vigil.triage.clusters import EXACT, Clusters, Placed, inserted
from vigil.triage.content import FileContent
from vigil.triage.geo import Geo, Hints, country_weights, strongest
from vigil.triage.model import FileEvidence, Report, ReportFile
from vigil.triage.rules import DEFAULT_RULES, Facts, Rule, prioritise
from vigil.triage.serial import report_to_dict

__all__ = ["FileContent", "Ingested", "Triage", "case_key", "inserted"]

NEW = ("new", "shared_scene")  # how a file that made its cluster joined it


@dataclass
class Ingested:
    id: int
    duplicate: bool  # the same report was taken in before: nothing was written
    priority: int
    reasons: list[str]
    case: int | None = None
    placed: list[Placed] = field(default_factory=list)  # per file
    hints: Hints | None = None
    matches: list[list[dict[str, Any]]] = field(default_factory=list)  # per file

    @property
    def clusters(self) -> list[tuple[int, str]]:
        return [(p.cluster, p.how) for p in self.placed]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "duplicate": self.duplicate,
            "priority": self.priority,
            "reasons": self.reasons,
            "case": self.case,
            "files": [p.as_dict() for p in self.placed],
        }
        if self.hints is not None:
            out["geolocation"] = self.hints.as_dict()
        return out  # fmt: skip


def case_key(report: Report) -> str | None:
    """The case a report belongs to: its first reported user's, by platform and the first of
    id, screen name and email; None (a case of its own) when it names no one."""
    for user in report.users[:1]:
        who = user.esp_id or user.screen_name or next(iter(user.emails), "")
        if who:
            return f"{report.platform}|{who}"[:400]
    return None


def _filled(f: ReportFile, content: FileContent | None) -> ReportFile:
    """``f`` with the hashes and evidence summary its content gives (the report's own win)."""
    if content is None:
        return f
    got = {t: s.value for t, s in content.result.signals.items() if t in (*EXACT, "pdq")}
    if "pdq" in got and not content.result.signals["pdq"].usable:
        got.pop("pdq")  # a low-quality PDQ is flagged, not matched (nor clustered)
    evidence, gps = f.evidence, f.gps
    if content.inspection is not None:
        s = content.inspection.summary
        evidence = evidence or FileEvidence(s.label, s.strength, tuple(s.conflicts))
        places = [e.value for e in content.inspection.items if e.claim == "location"]
        if gps is None and places and isinstance(places[0], dict):
            gps = (float(places[0]["latitude"]), float(places[0]["longitude"]))
    return replace(f, hashes={**got, **f.hashes}, evidence=evidence, gps=gps)


class Triage:
    """Takes reports in, one at a time. ``shared``: other processes take reports into the
    same store (the service's workers and instances): the clusters they made are indexed
    before each report. ``lock``: held while matching (the service's, which its index
    follower also takes)."""

    def __init__(self, store: Store, rules: list[Rule] | None = None, geo: Geo | None = None,
                 shared: bool = False, lock: AbstractContextManager[Any] | None = None
                 ) -> None:  # fmt: skip
        self.store, self.rules = store, rules or DEFAULT_RULES
        self.matcher = Matcher(store)
        self.clusters = Clusters(store)
        self.geo = geo or Geo()
        self.shared, self.lock = shared, lock or nullcontext()

    def ingest(self, report: Report, source: str, contents: list[FileContent | None] | None = None,
               matcher: Matcher | None = None) -> Ingested:  # fmt: skip
        """Take ``report`` in (``contents``: each file's, where at hand, in order; ``matcher``:
        one that sees the lists as they are now, where they change while this one lives)."""
        held = list(contents or [])
        held += [None] * (len(report.files) - len(held))
        report = replace(
            report, files=[_filled(f, c) for f, c in zip(report.files, held, strict=True)]
        )
        body = json.dumps(report_to_dict(report), sort_keys=True)
        key = hashlib.sha256(body.encode()).hexdigest()
        with self.store.engine.connect() as conn:
            seen = conn.execute(select(triage_reports).where(triage_reports.c.key == key)).first()
        if seen is not None:
            return Ingested(seen.id, True, seen.priority, json.loads(seen.reasons), seen.case_id)
        self.matcher = matcher or self.matcher
        with self.lock, self.matcher.pinned():
            matches = [self._matches(f, c) for f, c in zip(report.files, held, strict=True)]
        if self.shared:
            self.clusters.catch_up()
        hints = self.geo.hints(report)
        priority, reasons = prioritise(Facts(report, matches, hints.jurisdiction), self.rules)
        row = {
            "key": key,
            "received_at": datetime.now(UTC),
            "source": source,
            "body": body,
            "priority": priority,
            "reasons": json.dumps(reasons),
            "hints": json.dumps(hints.as_dict()),
            "jurisdiction": hints.jurisdiction,
        }
        try:
            with self.store.engine.begin() as conn:
                row["case_id"] = case = self._case(conn, report, priority, hints)
                rid, touched = inserted(conn, triage_reports, row), set[int]()
                placed = [
                    self._place(conn, (rid, n, priority), f, m, c, touched)
                    for n, (f, m, c) in enumerate(zip(report.files, matches, held, strict=True))
                ]
        except BaseException:
            self.clusters.reload()  # the clusters added here were not written
            raise
        return Ingested(rid, False, priority, reasons, case, placed, hints, matches)  # fmt: skip

    def mark_kept(self, report_id: int, position: int, kept: int) -> None:
        """Note that file ``position`` of a report had its content kept (``kept``: its id):
        it is uploaded with the case's CyberTipline report."""
        f = triage_files.c
        with self.store.engine.begin() as conn:
            conn.execute(
                update(triage_files)
                .where(f.report_id == report_id, f.position == position)
                .values(kept=kept)
            )

    def _matches(self, f: ReportFile, content: FileContent | None) -> list[dict[str, Any]]:
        found: dict[tuple[str, str], Any] = {}
        if content is not None and content.result.signals:
            for m in self.matcher.match_result(content.result):
                found.setdefault((m.list, m.entry.key), m)
        for kind, value in f.hashes.items():
            for m in self.matcher.match_value(kind, value):
                found.setdefault((m.list, m.entry.key), m)
        for m in self._models(f, content):
            found.setdefault((m.list, m.entry.key), m)
        return [a for a in self.matcher.as_dicts(list(found.values())) if acted_on(a)]

    def _models(self, f: ReportFile, content: FileContent | None) -> list[Any]:
        """Listed models the file's evidence names by hash."""
        if content is not None and content.inspection is not None:
            return self.matcher.match_evidence(content.inspection.items)
        out = []
        for kind, value, name in f.evidence.models if f.evidence else ():
            try:
                out += self.matcher.match_value(kind, value, name or "model")
            except InvalidSignal:
                continue  # a malformed model hash matches nothing
        return out

    def _place(self, conn: Connection, at: tuple[int, int, int], f: ReportFile,
               matches: list[dict[str, Any]], content: FileContent | None,
               touched: set[int]) -> Placed:  # fmt: skip
        """File ``f`` (``at``: its report's id, its position, the report's priority) into its
        cluster, and the cluster's review item brought up to date."""
        rid, n, priority = at
        robust = content.result.signals.get("vlocal") if content is not None else None
        placed = self.clusters.place(conn, f, robust, touched)
        conn.execute(triage_files.insert().values(**Clusters.file_row(rid, n, f, placed, matches)))
        Clusters.mark_series(conn, placed.cluster, matches)
        label = f.evidence.label if f.evidence else None
        note_cluster(conn, placed.cluster, priority, matches, label, placed.how in NEW)
        return placed

    @staticmethod
    def _case(conn: Connection, report: Report, priority: int, hints: Hints) -> int:
        """The id of the report's case, made or brought up to date."""
        now, key = datetime.now(UTC), case_key(report)
        weights = country_weights(hints.hints)
        c = triage_cases.c
        row = conn.execute(select(triage_cases).where(c.key == key)).first() if key else None
        if row is None:
            made = {"key": key, "created_at": now, "updated_at": now, "priority": priority,
                    "reports": 1, "files": len(report.files), "weights": json.dumps(weights),
                    "jurisdiction": strongest(weights)}  # fmt: skip
            return inserted(conn, triage_cases, made)
        total = json.loads(row.weights)
        for country, w in weights.items():
            total[country] = round(total.get(country, 0.0) + w, 3)
        conn.execute(update(triage_cases).where(c.id == row.id).values(
            updated_at=now, priority=min(row.priority, priority), reports=c.reports + 1,
            files=c.files + len(report.files), weights=json.dumps(total),
            jurisdiction=strongest(total)))  # fmt: skip
        return int(row.id)
