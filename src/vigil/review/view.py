"""Everything known about one item, for its page (issue 20): the item's stage, its files (how
each joined the cluster, whole hashes, evidence, kept content), its matches with their kind,
score, region and the known entry's metadata, the reports that hold it (incident, annotations,
priority and reasons, free text) with their geolocation hints, the linked shared scene, and
the decisions so far. No content: a reviewer decides from this first."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from vigil.errors import NotFound
from vigil.review.items import ReviewQueue
from vigil.store import Store
from vigil.store.schema import triage_clusters, triage_files, triage_reports

__all__ = ["FILES", "item_view"]

FILES = 24  # files of a cluster listed on its page (the count says how many in all)
REPORTS = 10


def _matches(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cluster's distinct matches (a list entry once), strongest first, with the files'
    regions where the match was robust."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for f in files:
        for m in f["matches"]:
            key = (m["list"], m["entry"])
            if key not in seen:
                seen[key] = m | {"file": f["position_in_item"]}
    order = ("exact", "near_duplicate", "altered_copy", "shared_scene")
    return sorted(seen.values(), key=lambda m: (order.index(m["kind"]) if m["kind"] in order
                                                else 9, m["distance"]))  # fmt: skip


def _report(row: Any) -> dict[str, Any]:
    body = json.loads(row.body)
    hints = json.loads(row.hints) if row.hints else {}
    return {"id": row.id, "case": row.case_id, "priority": row.priority,
            "reasons": json.loads(row.reasons), "incident_type": body.get("incident_type"),
            "incident_at": body.get("incident_at"), "platform": body.get("platform", ""),
            "annotations": body.get("annotations", []), "escalate": body.get("escalate", ""),
            "text": body.get("text", ""), "jurisdiction": row.jurisdiction or "",
            "hints": hints.get("hints", []), "conflicts": hints.get("conflicts", [])}  # fmt: skip


def item_view(store: Store, cluster: int) -> dict[str, Any]:
    queue = ReviewQueue(store)
    item = queue.item(cluster)
    f, r = triage_files.c, triage_reports.c
    with store.engine.connect() as conn:
        crow = conn.execute(select(triage_clusters).where(triage_clusters.c.id == cluster)).first()
        if crow is None:
            raise NotFound(f"no cluster {cluster}")
        rows = conn.execute(select(triage_files).where(f.cluster_id == cluster)
                            .order_by(f.id).limit(FILES)).all()  # fmt: skip
        ids = sorted({x.report_id for x in rows})[:REPORTS]
        reps = conn.execute(select(triage_reports).where(r.id.in_(ids)).order_by(r.id)).all()
    files = []
    for n, x in enumerate(rows):
        files.append({"position_in_item": n, "report": x.report_id, "name": x.name,
                      "hashes": {k: getattr(x, k) for k in ("md5", "sha1", "sha256", "pdq")
                                 if getattr(x, k)},
                      "how": x.how, "region": json.loads(x.region) if x.region else None,
                      "evidence": x.evidence or "unknown", "kept": x.kept,
                      "matches": json.loads(x.matches)})  # fmt: skip
    return {
        "item": item, "cluster": {"id": crow.id, "files": crow.files, "reports": crow.reports,
                                  "related": crow.related_id, "relation": crow.relation},
        "files": files, "matches": _matches(files), "reports": [_report(x) for x in reps],
        "decisions": queue.decisions(cluster),
        "kept": [fl for fl in files if fl["kept"]],
    }  # fmt: skip
