"""Taking reports in (issue 19): each report is stored once (keyed by the SHA-256 of its
canonical JSON, so an ingest killed and run again skips what it stored and duplicates
nothing), each file's hashes matched against the lists once, each file put in the cluster of
the same image across all reports, and the report given its priority and reasons
(:mod:`vigil.triage.rules`). A file joins the cluster of an earlier file with the same MD5,
SHA-1 or SHA-256 (``exact``), else of the nearest cluster whose PDQ is within 31 bits
(``near_duplicate``), else starts one (``new``). Each report is written in one transaction.
Clusters of altered copies and shared scenes need the files' content (vlocal): they are to
come."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from vigil.index.hamming import HammingIndex
from vigil.match import Matcher, acted_on
from vigil.store import Store
from vigil.store.schema import triage_clusters, triage_files, triage_reports
from vigil.triage.intake import report_to_dict
from vigil.triage.model import Report, ReportFile
from vigil.triage.rules import DEFAULT_RULES, Facts, Rule, prioritise

__all__ = ["Ingested", "Triage", "inserted"]

NEAR = 31  # PDQ bits: what HMA and pytx call a match
EXACT = ("md5", "sha1", "sha256")


@dataclass
class Ingested:
    id: int
    duplicate: bool  # the same report was taken in before: nothing was written
    priority: int
    reasons: list[str]
    clusters: list[tuple[int, str]] = field(default_factory=list)  # per file: (cluster, how)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "duplicate": self.duplicate, "priority": self.priority,
                "reasons": self.reasons,
                "files": [{"cluster": c, "how": h} for c, h in self.clusters]}  # fmt: skip


class Triage:
    def __init__(self, store: Store, rules: list[Rule] | None = None) -> None:
        self.store, self.rules = store, rules or DEFAULT_RULES
        self.matcher = Matcher(store)
        self.index = self._load_index()

    def _load_index(self) -> HammingIndex:
        index = HammingIndex()
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(triage_clusters.c.id, triage_clusters.c.pdq).where(
                triage_clusters.c.pdq.is_not(None))).all()  # fmt: skip
        if rows:
            index.add([r.id for r in rows], [bytes.fromhex(r.pdq) for r in rows])
        return index

    def ingest(self, report: Report, source: str) -> Ingested:
        body = json.dumps(report_to_dict(report), sort_keys=True)
        key = hashlib.sha256(body.encode()).hexdigest()
        with self.store.engine.connect() as conn:
            seen = conn.execute(select(triage_reports).where(triage_reports.c.key == key)).first()
        if seen is not None:
            return Ingested(seen.id, True, seen.priority, json.loads(seen.reasons))
        matches = [self._matches(f) for f in report.files]
        priority, reasons = prioritise(Facts(report, matches), self.rules)
        row = {"key": key, "received_at": datetime.now(UTC), "source": source, "body": body,
               "priority": priority, "reasons": json.dumps(reasons)}  # fmt: skip
        try:
            with self.store.engine.begin() as conn:
                rid = inserted(conn, triage_reports, row)
                clusters = [self._place(conn, rid, n, f, m) for n, (f, m)
                            in enumerate(zip(report.files, matches, strict=True))]  # fmt: skip
        except BaseException:
            self.index = self._load_index()  # the clusters added here were not written
            raise
        return Ingested(rid, False, priority, reasons, clusters)

    def _matches(self, f: ReportFile) -> list[dict[str, Any]]:
        found: dict[tuple[str, str], Any] = {}
        for kind, value in f.hashes.items():
            for m in self.matcher.match_value(kind, value):
                found.setdefault((m.list, m.entry.key), m)
        return [a for a in self.matcher.as_dicts(list(found.values())) if acted_on(a)]

    def _place(self, conn: Connection, rid: int, n: int, f: ReportFile,
               matches: list[dict[str, Any]]) -> tuple[int, str]:  # fmt: skip
        """File ``f`` of report ``rid`` into its cluster; (cluster id, how it joined)."""
        cluster, how = self._exact(conn, f), "exact"
        pdq = f.hashes.get("pdq")
        if cluster is None and pdq:
            near = self.index.query(bytes.fromhex(pdq), NEAR)
            cluster, how = (near[0][0], "near_duplicate") if near else (None, "new")
        if cluster is None:
            how = "new"
            made = {"created_at": datetime.now(UTC), "pdq": pdq, "files": 0}
            cluster = inserted(conn, triage_clusters, made)
            if pdq:
                self.index.add([cluster], [bytes.fromhex(pdq)])
        conn.execute(update(triage_clusters).where(triage_clusters.c.id == cluster).values(
            files=triage_clusters.c.files + 1))  # fmt: skip
        row = {"report_id": rid, "position": n, "name": f.name, "cluster_id": cluster,
               "how": how, "matches": json.dumps(matches, default=str),
               **{k: f.hashes.get(k) for k in (*EXACT, "pdq")}}  # fmt: skip
        conn.execute(insert(triage_files).values(**row))
        return cluster, how

    @staticmethod
    def _exact(conn: Connection, f: ReportFile) -> int | None:
        same = [triage_files.c[k] == f.hashes[k] for k in EXACT if f.hashes.get(k)]
        if not same:
            return None
        got = conn.execute(select(triage_files.c.cluster_id).where(or_(*same)).limit(1)).first()
        return None if got is None else int(got.cluster_id)


def inserted(conn: Connection, table: Any, row: dict[str, Any]) -> int:
    """Insert ``row``; its new id."""
    made = conn.execute(insert(table).values(**row)).inserted_primary_key
    if made is None:
        raise RuntimeError(f"no id for a new {table.name} row")
    return int(made[0])
