"""Decisions (issue 20): what a reviewer says of an item, and what a final decision feeds back.

Verdicts: ``known`` (known material, graded A1-B2), ``new`` (new material, graded),
``ai_generated`` (AI-made material, graded), ``not_material``, and ``second_opinion``. A
verdict the organisation names in ``second_review`` (by default ``new`` and ``ai_generated``)
waits for a second reviewer: the same verdict and grade makes it final, another makes a
dispute that a lead settles. A final decision covers the item's whole cluster (every report
that holds the image) and feeds back:

- ``new``: the image joins the organisation's local list (``local_list``) with every signal
  of its cluster (its files' digests and PDQ, and its robust record), so its altered copies
  are found from then on;
- ``not_material`` on a match of an exchange's hash: a false-positive vote goes back to that
  exchange, and the hash is quarantined (``quarantine_false_positives``);
- material (``known``, ``new``, ``ai_generated``): each case that holds the image, once all
  its images are decided, has its CyberTipline report queued (images decided not material
  left out; each file's grade and the AI verdict in its ``fileDetails``).

Everything is written to the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from vigil.errors import Conflict, UsageError, VigilError
from vigil.lists import Entry
from vigil.store import Store
from vigil.store.schema import (
    review_decisions,
    review_items,
    triage_cases,
    triage_clusters,
    triage_files,
    triage_reports,
)
from vigil.triage.model import ANNOTATIONS, CLASSIFICATIONS, INCIDENT_TYPES

__all__ = ["MATERIAL", "VERDICTS", "Decision", "Decisions"]

VERDICTS = ("known", "new", "ai_generated", "not_material", "second_opinion")
MATERIAL = ("known", "new", "ai_generated")


@dataclass(frozen=True)
class Decision:
    verdict: str
    grade: str | None = None
    incident_type: str | None = None
    annotations: tuple[str, ...] = ()
    reason: str = ""

    def check(self, settings: dict[str, Any]) -> None:
        if self.verdict not in VERDICTS:
            raise UsageError(f"verdict: one of {', '.join(VERDICTS)}")
        if self.verdict in MATERIAL and self.grade not in CLASSIFICATIONS:
            raise UsageError(f"material needs its grade: one of {', '.join(CLASSIFICATIONS)}")
        if self.verdict not in MATERIAL and self.grade is not None:
            raise UsageError("only material is graded")
        if self.incident_type is not None and self.incident_type not in INCIDENT_TYPES:
            raise UsageError(f"incident type: one of {', '.join(INCIDENT_TYPES)}")
        if bad := [a for a in self.annotations if a not in ANNOTATIONS]:
            raise UsageError(f"annotation {bad[0]!r} is not one of {', '.join(ANNOTATIONS)}")
        if settings.get("require_reason") and not self.reason.strip():
            raise UsageError("this organisation asks for a reason with each decision")

    def agrees(self, other: dict[str, Any]) -> bool:
        return bool(other["verdict"] == self.verdict and other["grade"] == self.grade)


@dataclass
class Outcome:
    stage: str  # where the item is now: second, dispute or decided
    effects: list[str] = field(default_factory=list)  # what a final decision fed back

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "effects": self.effects}


class Decisions:
    def __init__(self, store: Store, audit: Any) -> None:
        self.store, self.audit = store, audit  # audit(actor, action, target, detail)

    def decide(self, account: str, cluster: int, decision: Decision,
               settings: dict[str, Any]) -> Outcome:  # fmt: skip
        """Record ``account``'s decision on the item it holds; where the item goes next."""
        decision.check(settings)
        c, now = review_items.c, datetime.now(UTC)
        with self.store.engine.begin() as conn:
            item = conn.execute(select(review_items).where(c.cluster_id == cluster)).first()
            if item is None or item.holder != account or _aware(item.lease_until) <= now:
                raise Conflict(f"item {cluster} is not held by {account}: take it first")
            earlier = [
                dict(r._mapping)
                for r in conn.execute(
                    select(review_decisions)
                    .where(review_decisions.c.cluster_id == cluster)
                    .order_by(review_decisions.c.id)
                )
            ]
            stage = _next_stage(item.state, decision, earlier, settings)
            final = stage == "decided"
            conn.execute(
                review_decisions.insert().values(
                    cluster_id=cluster,
                    account=account,
                    at=now,
                    verdict=decision.verdict,
                    grade=decision.grade,
                    incident_type=decision.incident_type,
                    annotations=json.dumps(list(decision.annotations)),
                    reason=decision.reason,
                    final=final,
                )
            )
            conn.execute(update(review_items).where(c.cluster_id == cluster).values(
                state=stage, holder=None, lease_until=None, updated_at=now,
                verdict=decision.verdict if final else None,
                grade=decision.grade if final else None))  # fmt: skip
        self.audit(account, "review.decide", str(cluster),
                   {"verdict": decision.verdict, "grade": decision.grade, "stage": stage,
                    "reason": decision.reason})  # fmt: skip
        outcome = Outcome(stage)
        if final:
            outcome.effects = self._feed_back(account, cluster, decision, settings)
        return outcome

    # -- what a final decision feeds back --------------------------------------------------
    def _feed_back(self, account: str, cluster: int, decision: Decision,
                   settings: dict[str, Any]) -> list[str]:  # fmt: skip
        effects = []
        try:
            if decision.verdict == "new":
                effects.append(self._add_to_list(cluster, decision, settings["local_list"]))
            if decision.verdict == "not_material":
                effects += self._false_positive(account, cluster, decision, settings)
            if decision.verdict in MATERIAL:
                effects += self._file_cases(cluster)
        except VigilError as exc:  # the decision stands; what could not be fed back is said
            effects.append(f"not done: {exc}")
        for effect in effects:
            self.audit(account, "review.effect", str(cluster), {"effect": effect})
        return effects

    def _files(self, cluster: int) -> list[Any]:
        f = triage_files.c
        with self.store.engine.connect() as conn:
            return list(conn.execute(select(triage_files).where(f.cluster_id == cluster)).all())

    def _add_to_list(self, cluster: int, decision: Decision, list_name: str) -> str:
        signals: list[tuple[str, str]] = []
        for row in self._files(cluster):
            signals += [(t, getattr(row, t)) for t in ("md5", "sha1", "sha256", "pdq")
                        if getattr(row, t)]  # fmt: skip
        with self.store.engine.connect() as conn:
            record = conn.execute(select(triage_clusters.c.vlocal).where(
                triage_clusters.c.id == cluster)).scalar()  # fmt: skip
        if record:
            signals.append(("vlocal", record))
        if list_name not in {i.name for i in self.store.all_lists(counts=False)}:
            self.store.create_list(list_name, "images confirmed new by review")
        entry = Entry(f"review:{cluster}", list(dict.fromkeys(signals)),
                      tags=[f"grade:{decision.grade}"], source="review",
                      comments=f"confirmed new material, grade {decision.grade}")  # fmt: skip
        self.store.apply(list_name, [entry], source="review")
        return f"added to list {list_name} with {len(entry.signals)} signals"

    def _false_positive(self, account: str, cluster: int, decision: Decision,
                        settings: dict[str, Any]) -> list[str]:  # fmt: skip
        from vigil.exchanges import Feedback
        from vigil.exchanges.flood import Quarantine

        out = []
        seen: set[tuple[str, str]] = set()
        for row in self._files(cluster):
            for m in json.loads(row.matches):
                source = str(m.get("source") or "")
                if not source.startswith("exchange:") or (m["list"], m["entry"]) in seen:
                    continue
                seen.add((m["list"], m["entry"]))
                why = decision.reason or "a reviewer decided it is not material"
                if settings.get("quarantine_false_positives"):
                    Quarantine(self.store).add(m["list"], m["entry"], f"review: {why}")
                    out.append(f"quarantined {m['list']}:{m['entry']}")
                value = getattr(row, m["signal_type"], None) if m["kind"] == "exact" else None
                if value:
                    out.append(
                        self._vote(
                            source.removeprefix("exchange:"),
                            Feedback(m["signal_type"], value, False, why),
                        )
                    )
        return out

    def _vote(self, exchange: str, item: Any) -> str:
        """A false-positive vote to ``exchange`` (what could not be sent is said)."""
        from vigil.exchanges import feedback

        try:
            sent = feedback(self.store, exchange, [item])
        except VigilError as exc:
            return f"false positive not sent to {exchange}: {exc}"
        return f"false positive sent to {exchange} ({sent})"

    def _file_cases(self, cluster: int) -> list[str]:
        from vigil.triage.bundle import case_reports
        from vigil.triage.queue import TiplineQueue

        out = []
        for case in self._cases(cluster):
            if not self._all_decided(case):
                continue
            ids = [TiplineQueue(self.store).add(r) for r in case_reports(self.store, case)]
            with self.store.engine.begin() as conn:
                conn.execute(update(triage_cases).where(triage_cases.c.id == case)
                             .values(filed=json.dumps(ids)))  # fmt: skip
            out.append(f"case {case}: CyberTipline report(s) {', '.join(map(str, ids))} queued")
        return out

    def _cases(self, cluster: int) -> list[int]:
        r, f = triage_reports.c, triage_files.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(r.case_id)
                .distinct()
                .join(triage_files, f.report_id == r.id)
                .where(f.cluster_id == cluster)
            ).all()
            filed = {row.id for row in conn.execute(select(triage_cases.c.id).where(
                triage_cases.c.filed.is_not(None)))}  # fmt: skip
        return sorted(row.case_id for row in rows if row.case_id and row.case_id not in filed)

    def _all_decided(self, case: int) -> bool:
        """Every image of the case decided, and at least one of them material."""
        r, f, i = triage_reports.c, triage_files.c, review_items.c
        with self.store.engine.connect() as conn:
            clusters = (
                select(f.cluster_id)
                .join(triage_reports, f.report_id == r.id)
                .where(r.case_id == case)
            )
            states = conn.execute(select(i.state, i.verdict).where(
                i.cluster_id.in_(clusters))).all()  # fmt: skip
        return all(s.state == "decided" for s in states) and any(
            s.verdict in MATERIAL for s in states)  # fmt: skip


def _next_stage(stage: str, decision: Decision, earlier: list[dict[str, Any]],
                settings: dict[str, Any]) -> str:  # fmt: skip
    """Where an item in ``stage`` goes after ``decision`` (``earlier``: its decisions)."""
    if stage == "dispute":
        return "decided"  # a lead settles it
    substantive = [d for d in earlier if d["verdict"] != "second_opinion"]
    if decision.verdict == "second_opinion":
        return "dispute" if stage == "second" else "second"
    if stage == "second" and substantive:
        return "decided" if decision.agrees(substantive[-1]) else "dispute"
    if stage == "open" and decision.verdict in settings.get("second_review", ()):
        return "second"
    return "decided"


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
