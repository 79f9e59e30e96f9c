"""Keeps the service's indexes current from a background thread, so that no request ever waits
for a sync and a bulk import never pauses matching.

Each pass reads the newest sequence number in the change log, then, per signal type, reads the
changes up to it in chunks *outside* the lock, applies each chunk under the lock (a few
milliseconds), and builds segment merges outside the lock, swapping them in under it. A change
made through this service is followed by :meth:`Follower.catch_up`, which returns once that
change is matchable; changes made elsewhere (the CLI, another instance on the same PostgreSQL)
are picked up within one pass interval. Indexes are saved every ``save_every`` seconds and on
stop, so a restart replays at most that much of the log.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

from vigil.errors import NotReady
from vigil.index import HammingIndex
from vigil.store import Store
from vigil.store.store import AnyIndex, apply_ops, indexed_types

__all__ = ["Follower"]

log = logging.getLogger(__name__)

INTERVAL = 0.25  # seconds between passes when nothing wakes the follower
CHUNK = 1_000  # changes read, then applied under the lock, at once
SAVE_EVERY = 60.0  # seconds
STARTUP_WAIT = 30.0  # seconds a request made while the indexes load waits before a 503


class Follower:
    def __init__(
        self,
        store: Store,
        lock: threading.Lock,
        interval: float = INTERVAL,
        on_pass: Callable[[], None] | None = None,
        freeze_gc: bool = False,
    ) -> None:
        self.store, self.lock, self.interval, self.on_pass = store, lock, interval, on_pass
        self.freeze_gc = freeze_gc
        self.current = -1  # every change up to this sequence number is matchable
        self.sizes: dict[str, int] = {}  # rows in each index, as of the last pass
        self.error: Exception | None = None
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._dirty: set[str] = set()
        self._saved = time.monotonic()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """Every index is loaded and has caught up at least once."""
        return self.current >= 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vigil-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._save()

    def catch_up(self, timeout: float = 3600.0) -> None:
        """Return once every change logged before this call is matchable."""
        target = self.store.last_change()
        self._wake.set()
        with self._cond:
            done = self._cond.wait_for(
                lambda: self.current >= target or self._stopping.is_set(), timeout
            )
        if not done or self.current < target:
            raise NotReady(f"the indexes have not caught up with change {target}: {self.error}")

    def require_ready(self, timeout: float = STARTUP_WAIT) -> None:
        """Wait (up to ``timeout``) for the first pass; NotReady if it has not finished."""
        if self.ready:
            return
        with self._cond:
            self._cond.wait_for(lambda: self.ready, timeout)
        if not self.ready:
            raise NotReady("the indexes are still loading; try again shortly")

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._pass()
                self.error = None
            except Exception as exc:  # the database is away: keep serving what is loaded
                if self.error is None:
                    log.exception("index follower: %s", exc)
                self.error = exc
            self._wake.wait(self.interval)
            self._wake.clear()

    def _pass(self) -> None:
        top = self.store.last_change()
        for signal_type in sorted(indexed_types()):
            if self._follow(signal_type, top) or signal_type not in self.sizes:
                self.sizes = {**self.sizes, signal_type: len(self.store.loaded_index(signal_type))}
        if self._dirty and time.monotonic() - self._saved >= SAVE_EVERY:
            self._save()
        if self.freeze_gc and not self.ready:
            _freeze_loaded()  # before the first request can come
        with self._cond:
            self.current = max(self.current, top)
            self._cond.notify_all()
        if self.on_pass is not None:
            self.on_pass()

    def _follow(self, signal_type: str, top: int) -> bool:
        """Apply the changes of one type up to ``top``; whether there were any."""
        idx = self.store.loaded_index(signal_type)
        changed, work = False, 0.0
        while not self._stopping.is_set():
            if work:  # a backlog (a bulk import): idle twice as long as each chunk took, so
                time.sleep(min(0.04, 2 * work))  # requests keep most of the interpreter
            started = time.perf_counter()
            rows = self.store.changes_after(signal_type, idx.checkpoint, top, CHUNK)
            if not rows:
                break
            changed = True
            ops = self.store.prepare(rows, signal_type)
            with self.lock:
                apply_ops(idx, ops, merge=False)
                idx.checkpoint = rows[-1].seq
            self._merge(idx)
            self._dirty.add(signal_type)
            work = time.perf_counter() - started if len(rows) == CHUNK else 0.0
        with self.lock:  # none of this type up to top: the next pass reads from there
            idx.checkpoint = max(idx.checkpoint, top)
        return changed

    def _merge(self, idx: AnyIndex) -> None:
        """Merge segments as the index's policy asks, building each outside the lock (this
        thread is the only one that changes the index, so the pair cannot change meanwhile)."""
        if not isinstance(idx, HammingIndex):
            return
        while pair := idx.next_merge():
            merged, dropped = idx.build_merge(*pair)
            with self.lock:
                idx.swap_merge(*pair, merged, dropped)

    def _save(self) -> None:
        for signal_type in sorted(self._dirty):
            if isinstance(self.store.loaded_index(signal_type), HammingIndex):
                saved = self.store.save_index(signal_type)  # only this thread changes it
            else:
                with self.lock:  # a local index seals pending images when queried
                    saved = self.store.save_index(signal_type)
            if not saved:
                break  # another process writes this data directory's index files
        self._dirty.clear()
        self._saved = time.monotonic()


def _freeze_loaded() -> None:
    """Once the indexes are loaded: collect, then move every object alive now out of the
    collector's reach (``gc.freeze``). A full collection otherwise traverses the whole loaded
    application each time, about 100 ms on this machine during which no request runs; during a
    bulk catch-up, whose objects live through the young generations, that came every 15-20 s."""
    gc.collect()
    gc.freeze()
