"""Floods: an upstream hash that matches a large share of uploads is almost always a mistake
upstream (a blank frame, a logo, a meme hashed into a list), and acting on it would bury
review under false matches (HMA issue #1994). The guard counts, over the last ``window``
uploads the service answered, how many each exchange entry matched; an entry that matched more
than its exchange's ``flood_rate`` of them (at least ``MIN_HITS`` times, once ``MIN_SEEN``
uploads were seen) is **quarantined**: it stays in its list and its matches are still
answered, marked ``quarantined`` with the reason, but never actioned, and the quarantine is
stored, audited and listed until a curator releases the entry (which is then never
quarantined again). Entries of lists no exchange keeps are not guarded: they are the
platform's own."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from vigil.errors import NotFound
from vigil.store import Store
from vigil.store.schema import quarantine as table

__all__ = ["RATE", "FloodGuard", "Quarantine", "Quarantined"]

RATE = 0.02  # an exchange entry matching over 2% of uploads is quarantined (flood_rate)
WINDOW = 1000  # uploads the rate is counted over
MIN_SEEN, MIN_HITS = 200, 10  # nothing is quarantined on less evidence than this
REFRESH = 5.0  # seconds between reads of the quarantine and the exchanges' rates


@dataclass(frozen=True)
class Quarantined:
    list_name: str
    entry_key: str
    since: datetime
    reason: str
    released_at: datetime | None = None
    released_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        released = self.released_at.isoformat() if self.released_at else None
        return {"list": self.list_name, "entry": self.entry_key, "since": self.since.isoformat(),
                "reason": self.reason, "released_at": released,
                "released_by": self.released_by}  # fmt: skip


class Quarantine:
    """The quarantine table."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def all(self, released: bool = False) -> list[Quarantined]:
        query = select(table).order_by(table.c.since)
        if not released:
            query = query.where(table.c.released_at.is_(None))
        with self.engine.connect() as conn:
            return [Quarantined(**r._mapping) for r in conn.execute(query)]

    def add(self, list_name: str, key: str, reason: str) -> bool:
        """Quarantine an entry; False where it is (or was, and was released) already."""
        try:
            with self.engine.begin() as conn:
                row = {"list_name": list_name, "entry_key": key, "since": datetime.now(UTC),
                       "reason": reason}  # fmt: skip
                conn.execute(insert(table).values(**row))
        except IntegrityError:
            return False
        return True

    def release(self, list_name: str, key: str, by: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(table).where(
                table.c.list_name == list_name, table.c.entry_key == key,
                table.c.released_at.is_(None)).values(
                released_at=datetime.now(UTC), released_by=by))  # fmt: skip
        if done.rowcount != 1:
            raise NotFound(f"{list_name}:{key} is not in quarantine")


class FloodGuard:
    """Counts matches per exchange entry over the last uploads, and quarantines floods."""

    def __init__(self, store: Store, window: int = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.store, self.table, self.window, self.clock = store, Quarantine(store), window, clock
        self.recent: deque[frozenset[tuple[str, str]]] = deque()
        self.hits: Counter[tuple[str, str]] = Counter()
        self.rates: dict[str, float] = {}  # list -> flood rate, for lists exchanges keep
        self.held: dict[tuple[str, str], str | None] = {}  # reason, or None: released
        self.read_at = -REFRESH
        self.lock = threading.Lock()  # the service answers uploads on many threads

    def _refresh(self) -> None:
        from vigil.exchanges.store import ExchangeStore

        if self.clock() - self.read_at < REFRESH:
            return
        self.read_at = self.clock()
        self.rates = {c.list_name: float(c.settings.get("flood_rate", RATE))
                      for c in ExchangeStore(self.store).all()}  # fmt: skip
        self.held = {(q.list_name, q.entry_key): None if q.released_at else q.reason
                     for q in self.table.all(released=True)}  # fmt: skip

    def observe(self, found: list[Any]) -> list[tuple[str, str, str]]:
        """Count one upload's matches (``vigil.matching.match.Match``); the entries it
        quarantined."""
        with self.lock:
            return self._observe(found)

    def _observe(self, found: list[Any]) -> list[tuple[str, str, str]]:
        self._refresh()
        hit = frozenset((m.list, m.entry.key) for m in found if self.rates.get(m.list, 0) > 0)
        self.recent.append(hit)
        self.hits.update(hit)
        if len(self.recent) > self.window:
            self.hits.subtract(self.recent.popleft())
        seen, fresh = len(self.recent), []
        for list_name, key in hit:
            count = self.hits[(list_name, key)]
            rate = self.rates[list_name]
            if (seen < MIN_SEEN or count < MIN_HITS or count / seen <= rate
                    or (list_name, key) in self.held):  # fmt: skip
                continue
            why = f"matched {count} of the last {seen} uploads (over {rate:.1%})"
            if self.table.add(list_name, key, why):
                fresh.append((list_name, key, why))
            self.read_at = -REFRESH  # read it back now
        return fresh

    def reason(self, list_name: str, key: str) -> str | None:
        """Why the entry is quarantined, or None where it is not."""
        with self.lock:
            self._refresh()
            return self.held.get((list_name, key))
