"""The CyberTipline queue (issue 19): every report to file is stored first, then sent; what was
sent is kept (NCMEC's report id, the file ids, the XML documents). A delivery that fails
(:class:`ReportUndelivered`: unreachable, 429/5xx past the retries) is tried again with
backoff (1 minute, doubling, at most 6 hours) for 30 days, then marked ``expired``, never
dropped unsaid; a refusal (:class:`ReportRefused`) is kept as answered, ``refused``, for a
person to mend. A process killed mid-send leaves the report ``queued``: the next pass sends
it again (a submit that reached NCMEC before the kill and was not finished is left open
there; NCMEC closes unfinished reports)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from vigil.errors import NotFound, ReportRefused, ReportUndelivered
from vigil.store import Store
from vigil.store.schema import tipline_reports as table
from vigil.triage.cases import inserted
from vigil.triage.intake import report_from_dict
from vigil.triage.model import Report
from vigil.triage.serial import report_to_dict
from vigil.triage.tipline import TiplineClient, file_report

__all__ = ["KEEP", "Queued", "TiplineQueue"]

KEEP = timedelta(days=30)  # how long a failing delivery is retried
FIRST, MOST = timedelta(minutes=1), timedelta(hours=6)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Queued:
    id: int
    state: str
    attempts: int
    report_id: int | None
    file_ids: dict[str, str]
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "attempts": self.attempts,
                "report_id": self.report_id, "file_ids": self.file_ids,
                "last_error": self.last_error}  # fmt: skip


class TiplineQueue:
    def __init__(self, store: Store, clock: Callable[[], datetime] = _now) -> None:
        self.engine, self.clock = store.engine, clock

    def add(self, report: Report) -> int:
        """Queue ``report``; its queue id."""
        now = self.clock()
        row = {"created_at": now, "state": "queued", "attempts": 0, "next_at": now,
               "expires_at": now + KEEP, "report": json.dumps(report_to_dict(report)),
               "file_ids": "{}", "documents": "[]"}  # fmt: skip
        with self.engine.begin() as conn:
            return inserted(conn, table, row)

    def get(self, queue_id: int) -> Queued:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == queue_id)).first()
        if row is None:
            raise NotFound(f"no queued CyberTipline report {queue_id}")
        return Queued(row.id, row.state, row.attempts, row.report_id,
                      json.loads(row.file_ids), row.last_error)  # fmt: skip

    def documents(self, queue_id: int) -> list[str]:
        """The XML sent for a filed report (the report, then each fileDetails)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(table.c.documents).where(table.c.id == queue_id)).first()
        if row is None:
            raise NotFound(f"no queued CyberTipline report {queue_id}")
        return list(json.loads(row.documents))

    def send_due(self, client: TiplineClient,
                 contents: Callable[[Report], dict[str, bytes]]) -> dict[str, int]:  # fmt: skip
        """Send every queued report that is due; how many ended in each state."""
        now = self.clock()
        with self.engine.connect() as conn:
            query = select(table.c.id, table.c.report).where(
                table.c.state == "queued", table.c.next_at <= now)  # fmt: skip
            due = conn.execute(query.order_by(table.c.id)).all()
        counts: dict[str, int] = {}
        for row in due:
            state = self._send(client, row.id, report_from_dict(json.loads(row.report),
                                                                f"queued report {row.id}"),
                               contents)  # fmt: skip
            counts[state] = counts.get(state, 0) + 1
        return counts

    def _send(self, client: TiplineClient, queue_id: int, report: Report,
              contents: Callable[[Report], dict[str, bytes]]) -> str:  # fmt: skip
        try:
            filed = file_report(client, report, contents(report))
        except ReportRefused as exc:
            return self._mark(queue_id, state="refused", last_error=str(exc))
        except ReportUndelivered as exc:
            return self._retry(queue_id, str(exc))
        return self._mark(queue_id, state="filed", report_id=filed.report_id,
                          file_ids=json.dumps(filed.file_ids), last_error=None,
                          documents=json.dumps([d.decode() for d in filed.documents]))  # fmt: skip

    def _retry(self, queue_id: int, error: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == queue_id)).one()
        attempts = row.attempts + 1
        wait = min(FIRST * 2 ** (attempts - 1), MOST)
        when = self.clock() + wait
        if when > _aware(row.expires_at):
            return self._mark(queue_id, state="expired", attempts=attempts, last_error=error)
        return self._mark(queue_id, state="queued", attempts=attempts, next_at=when,
                          last_error=error)  # fmt: skip

    def _mark(self, queue_id: int, **values: Any) -> str:
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == queue_id).values(**values))
        return str(values["state"])
