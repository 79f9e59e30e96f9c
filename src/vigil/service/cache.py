"""The store as the service's matcher sees it: fresh enough, without a database round trip per
request. Indexes are brought up to date at most every :data:`SYNC_SECONDS` (and at once after a
change made through this service); list metadata and entry descriptions are cached between
syncs. So a change made elsewhere (the CLI, another instance on the same PostgreSQL) is
matchable within that interval, and one made through this service immediately. (Entry counts
in list metadata are as of the last time a list was created or deleted.)"""

import time

from sqlalchemy import func, select

from vigil.lists import Entry
from vigil.store import ListInfo, Store
from vigil.store.schema import lists
from vigil.store.store import AnyIndex

__all__ = ["SYNC_SECONDS", "CachedStore"]

SYNC_SECONDS = 0.25
# Descriptions are keyed by signal id, and a changed entry gets new signal ids, so a cached
# description never goes stale; the cache is only bounded.
MAX_DESCRIBED = 200_000


class CachedStore(Store):
    def __init__(self, store: Store, interval: float = SYNC_SECONDS) -> None:
        super().__init__(store.home, store.engine)
        self._indexes = store._indexes  # the same loaded indexes
        self.interval = interval
        self._synced: dict[str, float] = {}
        self._lists: dict[str, ListInfo] | None = None
        self._version = (-1, -1)
        self._described: dict[int, tuple[ListInfo, Entry]] = {}

    def invalidate(self) -> None:
        """A change was made through this service: read everything afresh on the next call."""
        self._synced.clear()
        self._lists = None
        self._described.clear()

    def index(self, signal_type: str) -> AnyIndex:
        now = time.monotonic()
        if now - self._synced.get(signal_type, -1e9) >= self.interval:
            self.sync_index(signal_type)
            self._synced[signal_type] = now
            seen = self._lists_version()
            if seen != self._version:  # a list was created or deleted: read them again
                self._version, self._lists = seen, None
        return self._indexes[signal_type]

    def _lists_version(self) -> tuple[int, int]:
        """Cheap to read, unlike :meth:`all_lists` (which counts every list's entries)."""
        with self.engine.connect() as conn:
            count, top = conn.execute(select(func.count(), func.max(lists.c.id))).one()
        return int(count), int(top or 0)

    def all_lists(self) -> list[ListInfo]:
        if self._lists is None:
            self._lists = {info.name: info for info in super().all_lists()}
        return list(self._lists.values())

    def get_list(self, name: str) -> ListInfo:
        self.all_lists()
        assert self._lists is not None
        return self._lists[name] if name in self._lists else super().get_list(name)

    def describe_signals(self, signal_ids: list[int]) -> dict[int, tuple[ListInfo, Entry]]:
        missing = [i for i in signal_ids if i not in self._described]
        if len(self._described) > MAX_DESCRIBED:
            self._described.clear()
        if missing:
            self._described.update(super().describe_signals(missing))
        return {i: self._described[i] for i in signal_ids if i in self._described}
