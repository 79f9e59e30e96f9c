"""Review items (issue 20): one per cluster, so each distinct image is reviewed once and its
decision covers every report that holds it. Triage notes each cluster as its files arrive
(:func:`note_cluster`: the item's priority is its most urgent report's; the filters read the
lists, kinds and series of its matches and its evidence).

An item is in one stage: ``open``; ``second`` (a first decision waits for a second reviewer's);
``dispute`` (two reviewers disagreed: a lead settles it); ``decided``. Whoever takes it holds
it for a lease (``holder``, ``lease_until``): no two reviewers hold one item, and an item left
held past its lease returns to the queue. A reviewer holds one item at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from vigil.errors import NotFound
from vigil.store import Store
from vigil.store.schema import review_decisions, review_items

__all__ = ["STAGES", "Filters", "ReviewQueue", "note_cluster"]

STAGES = ("open", "second", "dispute", "decided")
CANDIDATES = 20  # items looked at per stage when taking the next one


def _words(values: set[str], old: str = "") -> str:
    """Space-separated, space-framed: ``' a b '`` (so a filter matches ``' a '`` whole)."""
    merged = sorted(set(old.split()) | {v.replace(" ", "_") for v in values if v})
    return f" {' '.join(merged)} " if merged else " "


def note_cluster(conn: Connection, cluster: int, priority: int, matches: list[dict[str, Any]],
                 evidence: str | None, new: bool = False) -> None:  # fmt: skip
    """Make or bring up to date the review item of ``cluster`` (in triage's transaction;
    ``new``: the cluster was made for this file)."""
    lists = {str(m.get("list")) for m in matches}
    kinds = {str(m.get("kind")) for m in matches}
    series = {str(m["series"]) for m in matches if m.get("series")}
    c, now = review_items.c, datetime.now(UTC)
    if new:
        conn.execute(insert(review_items).values(
            cluster_id=cluster, priority=priority, state="open", lists=_words(lists),
            kinds=_words(kinds), series=_words(series), evidence=evidence or "unknown",
            updated_at=now))  # fmt: skip
        return
    if not matches and not evidence:  # the usual case: one statement, no read
        done = conn.execute(update(review_items).where(c.cluster_id == cluster).values(
            priority=case((c.priority > priority, priority), else_=c.priority),
            updated_at=now))  # fmt: skip
        if done.rowcount == 0:  # a cluster made before review items were: made now
            note_cluster(conn, cluster, priority, matches, evidence, new=True)
        return
    row = conn.execute(select(review_items).where(c.cluster_id == cluster)).first()
    if row is None:
        note_cluster(conn, cluster, priority, matches, evidence, new=True)
        return
    better = evidence if row.evidence == "unknown" and evidence else row.evidence
    conn.execute(update(review_items).where(c.cluster_id == cluster).values(
        priority=min(row.priority, priority), lists=_words(lists, row.lists),
        kinds=_words(kinds, row.kinds), series=_words(series, row.series), evidence=better,
        updated_at=now))  # fmt: skip


@dataclass(frozen=True)
class Filters:
    list_name: str = ""
    series: str = ""
    kind: str = ""
    evidence: str = ""
    priority: int | None = None

    def where(self) -> list[Any]:
        c = review_items.c
        out: list[ColumnElement[bool]] = []
        for column, value in ((c.lists, self.list_name), (c.series, self.series),
                              (c.kinds, self.kind)):  # fmt: skip
            if value:
                out.append(column.like(f"% {value.replace(' ', '_')} %"))
        if self.evidence:
            out.append(c.evidence == self.evidence)
        if self.priority is not None:
            out.append(c.priority == self.priority)
        return out


class ReviewQueue:
    def __init__(self, store: Store, lease: timedelta = timedelta(minutes=15)) -> None:
        self.store, self.engine, self.lease = store, store.engine, lease

    def held_by(self, account: str, now: datetime | None = None) -> int | None:
        """The item ``account`` holds now, if any."""
        now, c = now or datetime.now(UTC), review_items.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.cluster_id).where(
                c.holder == account, c.lease_until > now).limit(1)).first()  # fmt: skip
        return None if row is None else int(row.cluster_id)

    def take(self, account: str, role: str, filters: Filters = Filters(),
             now: datetime | None = None) -> int | None:  # fmt: skip
        """The next item for ``account`` (the one it holds, if any), now held by it; None when
        nothing is waiting that it may take."""
        now = now or datetime.now(UTC)
        if (held := self.held_by(account, now)) is not None:
            return held
        stages = ("dispute", "open", "second") if role == "lead" else ("open", "second")
        for stage in stages:
            for cluster in self._candidates(account, stage, filters, now):
                if self._claim(cluster, stage, account, now):
                    return cluster
        return None

    def _candidates(self, account: str, stage: str, filters: Filters,
                    now: datetime) -> list[int]:  # fmt: skip
        c, d = review_items.c, review_decisions.c
        free = or_(c.holder.is_(None), c.lease_until <= now)
        query = select(c.cluster_id).where(c.state == stage, free, *filters.where())
        if stage == "second":  # never the reviewer who made the first decision
            query = query.where(~exists().where(and_(d.cluster_id == c.cluster_id,
                                                     d.account == account)))  # fmt: skip
        query = query.order_by(c.priority, c.cluster_id).limit(CANDIDATES)
        with self.engine.connect() as conn:
            return [int(r.cluster_id) for r in conn.execute(query)]

    def _claim(self, cluster: int, stage: str, account: str, now: datetime) -> bool:
        c = review_items.c
        with self.engine.begin() as conn:
            done = conn.execute(update(review_items).where(
                c.cluster_id == cluster, c.state == stage,
                or_(c.holder.is_(None), c.lease_until <= now)).values(
                holder=account, lease_until=now + self.lease, updated_at=now))  # fmt: skip
        return bool(done.rowcount == 1)

    def release(self, account: str, cluster: int) -> None:
        """Give an item back to the queue undecided."""
        c = review_items.c
        with self.engine.begin() as conn:
            conn.execute(update(review_items).where(c.cluster_id == cluster, c.holder == account)
                         .values(holder=None, lease_until=None))  # fmt: skip

    def holds(self, account: str, cluster: int, now: datetime | None = None) -> bool:
        return self.held_by(account, now) == cluster

    def item(self, cluster: int) -> dict[str, Any]:
        c = review_items.c
        with self.engine.connect() as conn:
            row = conn.execute(select(review_items).where(c.cluster_id == cluster)).first()
        if row is None:
            raise NotFound(f"no review item {cluster}")
        return dict(row._asdict())

    def counts(self) -> dict[str, dict[int, int]]:
        """How many items wait in each stage, by priority."""
        c = review_items.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.state, c.priority, func.count()).where(
                c.state != "decided").group_by(c.state, c.priority)).all()  # fmt: skip
        out: dict[str, dict[int, int]] = {}
        for state, priority, n in rows:
            out.setdefault(state, {})[int(priority)] = int(n)
        return out

    def decisions(self, cluster: int) -> list[dict[str, Any]]:
        d = review_decisions.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(review_decisions).where(d.cluster_id == cluster)
                                .order_by(d.id)).all()  # fmt: skip
        return [{"account": r.account, "at": r.at.isoformat(), "verdict": r.verdict,
                 "grade": r.grade, "incident_type": r.incident_type,
                 "annotations": json.loads(r.annotations), "reason": r.reason,
                 "final": r.final} for r in rows]  # fmt: skip
