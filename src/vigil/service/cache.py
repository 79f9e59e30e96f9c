"""The store as the service's matcher sees it: no database round trip per request. The
indexes are kept current by the :class:`~vigil.service.follower.Follower` (never synced on a
request); list metadata and entry descriptions are cached, and list metadata is read again when
a list is created or deleted, here or elsewhere. Matching never counts entries; the curator's
list of lists does, afresh each time."""

from sqlalchemy import func, select

from vigil.lists import Entry
from vigil.store import ListInfo, Store
from vigil.store.schema import lists
from vigil.store.store import AnyIndex

__all__ = ["CachedStore"]

# Descriptions are keyed by signal id, and a changed entry gets new signal ids, so a cached
# description never goes stale; the cache is only bounded.
MAX_DESCRIBED = 200_000


class CachedStore(Store):
    def __init__(self, store: Store) -> None:
        super().__init__(store.home, store.engine)
        self._indexes = store._indexes  # the same loaded indexes
        self._lists: dict[str, ListInfo] | None = None
        self._version = (-1, -1)
        self._described: dict[int, tuple[ListInfo, Entry]] = {}

    def invalidate(self) -> None:
        """A change was made through this service: read list metadata afresh, here (in the
        request's thread) rather than on a later request. (Cached entry descriptions stay
        valid: a changed entry's signals get new ids.)"""
        self._lists = self._read_lists()

    def index(self, signal_type: str) -> AnyIndex:
        return self.loaded_index(signal_type)

    def refresh(self) -> None:
        """Forget list metadata if a list was created or deleted (by anyone)."""
        seen = self._lists_version()
        if seen != self._version:
            self._version, self._lists = seen, self._read_lists()

    def _lists_version(self) -> tuple[int, int]:
        """Cheap to read, unlike :meth:`all_lists` (which counts every list's entries)."""
        with self.engine.connect() as conn:
            count, top = conn.execute(select(func.count(), func.max(lists.c.id))).one()
        return int(count), int(top or 0)

    def all_lists(self, counts: bool = False) -> list[ListInfo]:
        """Lists as matching needs them: without entry counts (which cost a read of every
        entry) unless asked for."""
        if counts:
            return super().all_lists()
        if self._lists is None:
            self._lists = self._read_lists()
        return list(self._lists.values())

    def _read_lists(self) -> dict[str, ListInfo]:
        return {info.name: info for info in super().all_lists(counts=False)}

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
