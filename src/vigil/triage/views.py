"""What triage shows (issue 19): the queue of cases, most urgent first; one case whole (its
reports, files, clusters with how many reports hold each, series, geolocation hints and
conflicts, the suggested jurisdiction); one report; the clusters of a known series. Each is a
few indexed queries, so a case answers in milliseconds with a million files stored
(``python -m bench.triage``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from vigil.errors import NotFound
from vigil.store import Store
from vigil.store.schema import (
    triage_cases,
    triage_clusters,
    triage_files,
    triage_reports,
    triage_series,
)
from vigil.triage.clusters import EXACT

__all__ = ["case_view", "queue", "report_view", "series_view"]

MAX_LIMIT = 1000


def _when(at: Any) -> str | None:
    return at.isoformat() if at is not None else None


def _case_row(row: Any) -> dict[str, Any]:
    return {"id": row.id, "user": row.key, "priority": row.priority, "reports": row.reports,
            "files": row.files, "jurisdiction": row.jurisdiction,
            "created_at": _when(row.created_at), "updated_at": _when(row.updated_at)}  # fmt: skip


def queue(store: Store, limit: int = 50, offset: int = 0, priority: int | None = None,
          jurisdiction: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Cases, most urgent first (then the longest waiting)."""
    c = triage_cases.c
    query = select(triage_cases).order_by(c.priority, c.created_at, c.id)
    if priority is not None:
        query = query.where(c.priority == priority)
    if jurisdiction:
        query = query.where(c.jurisdiction == jurisdiction.upper())
    query = query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))
    with store.engine.connect() as conn:
        return [_case_row(r) for r in conn.execute(query).all()]


def _file(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"report": row.report_id, "position": row.position, "name": row.name,
                           "hashes": {k: getattr(row, k) for k in (*EXACT, "pdq")
                                      if getattr(row, k)},
                           "cluster": row.cluster_id, "how": row.how,
                           "matches": json.loads(row.matches)}  # fmt: skip
    if row.evidence:
        out["evidence"] = row.evidence
    if row.region:
        out["region"] = json.loads(row.region)
    return out


def _report(row: Any) -> dict[str, Any]:
    return {"id": row.id, "received_at": _when(row.received_at), "source": row.source,
            "priority": row.priority, "reasons": json.loads(row.reasons),
            "case": row.case_id, "jurisdiction": row.jurisdiction or "",
            "geolocation": json.loads(row.hints) if row.hints else None}  # fmt: skip


def _clusters(conn: Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Each cluster: its files and distinct reports across every case, series, and the
    cluster whose scene it shares."""
    if not ids:
        return []
    k = triage_clusters.c
    series: dict[int, list[str]] = {}
    for r in conn.execute(select(triage_series).where(triage_series.c.cluster_id.in_(ids))):
        series.setdefault(r.cluster_id, []).append(r.series)
    out = []
    for r in conn.execute(select(triage_clusters).where(k.id.in_(ids)).order_by(k.id)).all():
        item = {
            "id": r.id,
            "files": r.files,
            "reports": r.reports,
            "series": sorted(series.get(r.id, [])),
        }
        if r.related_id is not None:
            item |= {"related": r.related_id, "relation": r.relation}
        out.append(item)
    return out  # fmt: skip


def _reasons(reports: list[dict[str, Any]]) -> list[str]:
    """Every reason of the case's reports, most urgent first, each once."""
    said = dict.fromkeys(r for rep in reports for r in rep["reasons"])
    return sorted(said, key=lambda r: (not r.startswith("P"), r))


def case_view(store: Store, case_id: int, limit: int = 200) -> dict[str, Any]:
    """One case whole; at most ``limit`` of its files are listed (``files_listed`` says)."""
    with store.engine.connect() as conn:
        row = conn.execute(select(triage_cases).where(triage_cases.c.id == case_id)).first()
        if row is None:
            raise NotFound(f"no triage case {case_id}")
        reps = conn.execute(select(triage_reports).where(triage_reports.c.case_id == case_id)
                            .order_by(triage_reports.c.id)).all()  # fmt: skip
        files = conn.execute(select(triage_files).where(
            triage_files.c.report_id.in_([r.id for r in reps]))
            .order_by(triage_files.c.report_id, triage_files.c.position)
            .limit(max(1, min(limit, MAX_LIMIT)))).all()  # fmt: skip
        clusters = _clusters(conn, sorted({f.cluster_id for f in files}))
    reports = [_report(r) for r in reps]
    hints = [h for r in reports if r["geolocation"] for h in r["geolocation"]["hints"]]
    conflicts = [c for r in reports if r["geolocation"] for c in r["geolocation"]["conflicts"]]
    return _case_row(row) | {
        "reasons": _reasons(reports), "weights": json.loads(row.weights),
        "report_list": reports, "file_list": [_file(f) for f in files],
        "files_listed": len(files), "clusters": clusters,
        "geolocation": {"jurisdiction": row.jurisdiction, "weights": json.loads(row.weights),
                        "conflicts": list(dict.fromkeys(conflicts)), "hints": hints},
    }  # fmt: skip


def report_view(store: Store, report_id: int) -> dict[str, Any]:
    """One stored report: as it was taken in, with its files' clusters and matches."""
    with store.engine.connect() as conn:
        row = conn.execute(select(triage_reports).where(triage_reports.c.id == report_id)).first()
        if row is None:
            raise NotFound(f"no triage report {report_id}")
        files = conn.execute(select(triage_files).where(triage_files.c.report_id == report_id)
                             .order_by(triage_files.c.position)).all()  # fmt: skip
    return _report(row) | {"report": json.loads(row.body), "files": [_file(f) for f in files]}


def series_view(store: Store, series: str) -> dict[str, Any]:
    """The clusters of a known series, with the cases that hold them."""
    s, f = triage_series.c, triage_files.c
    with store.engine.connect() as conn:
        ids = [r.cluster_id for r in conn.execute(select(s.cluster_id).where(s.series == series))]
        clusters = _clusters(conn, ids)
        cases = sorted({r.case_id for r in conn.execute(
            select(triage_reports.c.case_id).distinct().join(
                triage_files, f.report_id == triage_reports.c.id).where(f.cluster_id.in_(ids)))
            if r.case_id is not None})  # fmt: skip
    if not ids:
        raise NotFound(f"no reported file matched series {series!r}")
    return {"series": series, "clusters": clusters, "cases": cases}
