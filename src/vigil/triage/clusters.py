"""Clusters of the same image across reports (issue 19), so each distinct image is reviewed
once and a decision on it applies to every report that holds it. A file joins:

1. the cluster of an earlier file with the same MD5, SHA-1 or SHA-256 (``exact``);
2. else the nearest cluster whose first PDQ is within 31 bits (``near_duplicate``, through a
   Hamming index of the clusters);
3. else, where the file's content is at hand (uploaded, or read from a scan), the cluster its
   robust signal finds as an ``altered_copy`` (through a local-feature index of the clusters'
   first images, verified as :mod:`vigil.matching.robust` verifies list matches), with the region;
4. else a new cluster. A file that shares only a **scene** with an earlier cluster's image
   (``shared_scene``: the same background, another subject) is another image: it starts its own
   cluster, linked to that one (``related_id``, ``relation``), so a reviewer sees both.

Clusters also gather by known series (``triage_series``: the series of the list entries their
files matched)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from vigil.index.hamming import HammingIndex
from vigil.index.local import LocalIndex
from vigil.matching.robust import Alignment
from vigil.matching.robust_search import search
from vigil.signals import SignalValue
from vigil.signals.local import LocalQuery
from vigil.store import Store
from vigil.store.schema import triage_clusters, triage_files, triage_series
from vigil.triage.model import ReportFile

__all__ = ["EXACT", "NEAR", "Clusters", "Placed", "inserted"]

NEAR = 31  # PDQ bits: what HMA and pytx call a match
EXACT = ("md5", "sha1", "sha256")
WINDOW = 200  # clusters made elsewhere are looked for this far below the newest id seen


def inserted(conn: Connection, table: Any, row: dict[str, Any]) -> int:
    """Insert ``row``; its new id."""
    made = conn.execute(insert(table).values(**row)).inserted_primary_key
    if made is None:
        raise RuntimeError(f"no id for a new {table.name} row")
    return int(made[0])


@dataclass(frozen=True)
class Placed:
    cluster: int
    how: str  # new, exact, near_duplicate, altered_copy, shared_scene (a new, linked cluster)
    region: Alignment | None = None  # altered_copy / shared_scene: where it matched
    related: int | None = None  # shared_scene: the cluster whose scene it shares

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cluster": self.cluster, "how": self.how}
        if self.region is not None:
            out["region"] = self.region.as_dict()
        if self.related is not None:
            out["related"] = self.related
        return out


class Clusters:
    """The clusters' indexes (loaded from the store once; additions kept in step), and the
    placing of one file. Not thread-safe: one ingest at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reload()

    def reload(self) -> None:
        """Read the indexes again (after a failed transaction: its additions were not
        written)."""
        self.near, self.robust = HammingIndex(), LocalIndex()
        self.newest, self.recent = 0, set[int]()
        self._add(self._rows(0))

    def _rows(self, after: int) -> list[Any]:
        c = triage_clusters.c
        with self.store.engine.connect() as conn:
            return list(conn.execute(select(c.id, c.pdq, c.vlocal).where(c.id > after)).all())

    def _add(self, rows: list[Any]) -> None:
        near = [r for r in rows if r.pdq]
        if near:
            self.near.add([r.id for r in near], [bytes.fromhex(r.pdq) for r in near])
        local = [r for r in rows if r.vlocal]
        if local:
            self.robust.add([r.id for r in local], [bytes.fromhex(r.vlocal) for r in local])
        self._seen([r.id for r in rows])

    def _seen(self, ids: list[int]) -> None:
        self.newest = max([self.newest, *ids])
        self.recent.update(i for i in ids if i > self.newest - WINDOW)
        if len(self.recent) > 4 * WINDOW:
            self.recent = {i for i in self.recent if i > self.newest - WINDOW}

    def catch_up(self) -> None:
        """Index the clusters other processes made since (where several share the store):
        those above the newest seen, and any that committed late just below it."""
        fresh = [r for r in self._rows(self.newest - WINDOW) if r.id not in self.recent]
        if fresh:
            self._add(fresh)

    def place(self, conn: Connection, f: ReportFile, robust: SignalValue | None,
              touched: set[int]) -> Placed:  # fmt: skip
        """The cluster of file ``f`` (``robust``: its vlocal signal, where its content was at
        hand), made if there is none, its file count raised, and its report count unless it is
        in ``touched`` (the clusters of the report's earlier files), which it joins."""
        placed = self._existing(conn, f, robust)
        if placed is None or placed.how == "shared_scene":
            placed = self._new(conn, f, robust, placed)
        c, first = triage_clusters.c, placed.cluster not in touched
        touched.add(placed.cluster)
        conn.execute(update(triage_clusters).where(c.id == placed.cluster).values(
            files=c.files + 1, reports=c.reports + int(first)))  # fmt: skip
        return placed

    def _existing(self, conn: Connection, f: ReportFile, robust: SignalValue | None
                  ) -> Placed | None:  # fmt: skip
        same = [triage_files.c[k] == f.hashes[k] for k in EXACT if f.hashes.get(k)]
        if same:
            got = conn.execute(select(triage_files.c.cluster_id).where(or_(*same)).limit(1)).first()
            if got is not None:
                return Placed(int(got.cluster_id), "exact")
        if pdq := f.hashes.get("pdq"):
            near = self.near.query(bytes.fromhex(pdq), NEAR)
            if near:
                return Placed(min(near, key=lambda h: (h[1], h[0]))[0], "near_duplicate")
        query = robust.payload if robust is not None else None
        if isinstance(query, LocalQuery) and len(self.robust):
            found = search(self.robust, query)
            if found:
                best = max(found, key=lambda a: (a.kind == "altered_copy", a.score, -a.id))
                return Placed(best.id, best.kind, best)
        return None

    def _new(self, conn: Connection, f: ReportFile, robust: SignalValue | None,
             scene: Placed | None) -> Placed:  # fmt: skip
        pdq = f.hashes.get("pdq")
        record = robust.value if robust is not None and robust.usable else None
        made = {"created_at": datetime.now(UTC), "pdq": pdq, "files": 0, "vlocal": record,
                "related_id": scene.cluster if scene else None,
                "relation": scene.how if scene else None}  # fmt: skip
        cluster = inserted(conn, triage_clusters, made)
        if pdq:
            self.near.add([cluster], [bytes.fromhex(pdq)])
        if record:
            self.robust.add([cluster], [bytes.fromhex(record)])
        self._seen([cluster])
        if scene is None:
            return Placed(cluster, "new")
        return Placed(cluster, "shared_scene", scene.region, scene.cluster)

    @staticmethod
    def mark_series(conn: Connection, cluster: int, matches: list[dict[str, Any]]) -> None:
        """Gather ``cluster`` under the series its file's matches name."""
        named = {str(m["series"]) for m in matches if m.get("series")}
        if not named:
            return
        have = {r.series for r in conn.execute(select(triage_series.c.series).where(
            triage_series.c.cluster_id == cluster)).all()}  # fmt: skip
        for series in sorted(named - have):
            conn.execute(insert(triage_series).values(series=series[:300], cluster_id=cluster))

    @staticmethod
    def file_row(rid: int, n: int, f: ReportFile, placed: Placed,
                 matches: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
        region = json.dumps(placed.region.as_dict()) if placed.region is not None else None
        return {"report_id": rid, "position": n, "name": f.name, "cluster_id": placed.cluster,
                "how": placed.how, "matches": json.dumps(matches, default=str),
                "evidence": f.evidence.label if f.evidence else None, "region": region,
                **{k: f.hashes.get(k) for k in (*EXACT, "pdq")}}  # fmt: skip
