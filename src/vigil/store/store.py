"""The store: named lists of entries in SQL, plus one Hamming index per perceptual signal type.

Writes go to the database first, each batch in one transaction that also appends to the
``changes`` log; an index catches up by replaying the log from its checkpoint. A crash at any
point therefore leaves the database consistent and the index able to catch up.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from vigil.errors import Conflict, UsageError, VigilError
from vigil.index import HammingIndex, LocalIndex
from vigil.index.files import SaveLock
from vigil.lists.model import (
    Entry,
    ImportReport,
    Record,
    Removal,
    RowProblem,
    check_list_name,
    entry_problem,
    stored_extra,
)
from vigil.signals import registry
from vigil.signals.pdq import PDQ
from vigil.store.bulk import bulk_insert, chunks, db_value, rows_by_key, signals_of_entries
from vigil.store.db import connect, resolve_home
from vigil.store.ops import AnyIndex, Op, apply_ops, to_ops
from vigil.store.reads import ListInfo, Reads
from vigil.store.schema import changes, entries, frame_sets, lists, signals

__all__ = ["AnyIndex", "Op", "Store", "apply_ops"]

BATCH = 100_000
WRITE_LOCK = 0x76696769  # the PostgreSQL advisory lock of transactions that log changes
COMPACT_AFTER = 50_000  # changes replayed at once after which a local index is compacted


def indexed_types() -> frozenset[str]:
    """Signal types served by an index (their changes are logged for it)."""
    return frozenset(c.name for c in registry if c.indexed_by is not None)


def stored_apart() -> frozenset[str]:
    """Signal types whose values are too large for the signals row (a video's frame hashes, a
    vlocal record): the row holds their SHA-256 and ``frame_sets`` the value."""
    return frozenset(c.name for c in registry if c.large)


def _now() -> datetime:
    return datetime.now(UTC)


ENTRY_COLUMNS = (
    "key",
    "category",
    "series",
    "victim_identified",
    "source",
    "tags",
    "comments",
    "extra",
    "digest",
)


def _entry_row(e: Entry, extra: str) -> tuple[Any, ...]:
    """An entry as a row in ENTRY_COLUMNS order (JSON only where there is something);
    ``extra``: its :meth:`Entry.extra_json`."""
    tags = json.dumps(e.tags) if e.tags else "[]"
    return (
        e.key,
        e.category,
        e.series,
        e.victim_identified,
        e.source,
        tags,
        e.comments,
        extra,
        e.digest(extra),
    )


class Store(Reads):
    """Open with :meth:`open`; every method is safe to call from one thread at a time."""

    def __init__(self, home: Path, engine: Engine) -> None:
        self.home = home
        self.engine = engine
        self._indexes: dict[str, AnyIndex] = {}
        self._saver = SaveLock(home / "index")

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None, url: str | None = None) -> Store:
        root = resolve_home(home)
        return cls(root, connect(root, url))

    def close(self) -> None:
        self.engine.dispose()
        self._saver.release()

    def loaded_indexes(self) -> dict[str, AnyIndex]:
        """The indexes loaded so far, by signal type."""
        return dict(self._indexes)

    # -- lists -----------------------------------------------------------------------------
    def create_list(
        self,
        name: str,
        description: str = "",
        pdq_threshold: int | None = None,
        category_labels: dict[str, str] | None = None,
        negative: bool = False,
    ) -> ListInfo:
        """A new list; ``negative``: its hashes are known to be benign, and a match on it
        suppresses the other matches of the same item."""
        check_list_name(name)
        if pdq_threshold is not None and not 0 <= pdq_threshold <= PDQ.max_threshold:
            raise UsageError(f"pdq_threshold must be 0-{PDQ.max_threshold}, got {pdq_threshold}")
        with self.engine.begin() as conn:
            if conn.execute(select(lists.c.id).where(lists.c.name == name)).first():
                raise Conflict(f"a list named {name!r} already exists")
            conn.execute(
                insert(lists).values(
                    name=name,
                    description=description,
                    pdq_threshold=pdq_threshold,
                    category_labels=json.dumps(category_labels or {}),
                    created_at=_now(),
                    negative=negative,
                )
            )
        return self.get_list(name)

    def rename_list(self, name: str, new: str) -> ListInfo:
        """Give a list (by name or ``~ID``, any name made before the naming rule) a new name."""
        info = self.get_list(name)
        check_list_name(new)
        with self.engine.begin() as conn:
            if conn.execute(select(lists.c.id).where(lists.c.name == new)).first():
                raise Conflict(f"a list named {new!r} already exists")
            conn.execute(update(lists).where(lists.c.id == info.id).values(name=new))
        return self.get_list(new)

    def set_enabled_ratio(self, name: str, ratio: float) -> ListInfo:
        """The share (0-1) of HMA lookups the list takes part in (HMA's ``enabled_ratio``)."""
        info = self.get_list(name)
        if not 0.0 <= ratio <= 1.0:
            raise UsageError(f"enabled_ratio must be from 0 to 1, got {ratio:g}")
        with self.engine.begin() as conn:
            conn.execute(update(lists).where(lists.c.id == info.id).values(enabled_ratio=ratio))
        return self.get_list(info.name)

    def delete_list(self, name: str) -> int:
        """Delete a list and its entries (removing them from matching); returns entry count."""
        info = self.get_list(name)
        with self._writing() as conn:
            ids = [
                r.id for r in conn.execute(select(entries.c.id).where(entries.c.list_id == info.id))
            ]
            self._delete_entries(conn, ids)
            conn.execute(delete(lists).where(lists.c.id == info.id))
        return len(ids)

    # -- entries ---------------------------------------------------------------------------
    def apply(
        self,
        list_name: str,
        records: Iterable[Record],
        source: str = "",
        batch_size: int = BATCH,
        atomic: bool = False,
        on_batch: Callable[[ImportReport], None] | None = None,
    ) -> ImportReport:
        """Add, update or remove entries. Idempotent: the same records twice change nothing.
        Each ``batch_size`` records commit together (a crash keeps whole batches only); with
        ``atomic`` all of them do (a crash keeps nothing; other writers wait meanwhile).
        ``on_batch`` is called with the report so far after each full batch is written."""
        info = self.get_list(list_name)
        report = ImportReport(source or list_name)
        batch: list[Record] = []
        with self._bulk_writes(), self._transactions(atomic) as begin:
            for rec in _labelled(_guarded(records), info.category_labels):
                batch.append(rec)
                if len(batch) >= batch_size:
                    with begin() as conn:
                        self._apply_batch(conn, info.id, batch, report)
                    batch = []
                    if on_batch:
                        on_batch(report)
            if batch:
                with begin() as conn:
                    self._apply_batch(conn, info.id, batch, report)
        return report

    @contextmanager
    def _transactions(
        self, atomic: bool
    ) -> Iterator[Callable[[], AbstractContextManager[Connection]]]:
        """What each batch runs in: a transaction of its own, or one shared by all."""
        if not atomic:
            yield self._writing
            return
        with self._writing() as conn:
            yield lambda: nullcontext(conn)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction that may log changes. On PostgreSQL it first takes a lock that every
        such transaction takes, so change sequence numbers are handed out in commit order: a
        follower reading the log past its checkpoint never passes over a change that commits
        later with a smaller number. (SQLite serialises writers by itself.)"""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            yield conn

    @contextmanager
    def _bulk_writes(self) -> Iterator[None]:
        """On SQLite, pause the automatic WAL checkpoint for the length of one import and run
        one at the end: a checkpoint after every batch of random index updates rewrites the
        same pages again and again (half an import's time). Each batch still commits on its
        own, so a crash loses at most the batch in flight."""
        if self.engine.dialect.name != "sqlite":
            yield
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            try:
                yield
            finally:
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _apply_batch(
        self, conn: Connection, list_id: int, batch: list[Record], report: ImportReport
    ) -> None:
        latest: dict[str, Entry | Removal] = {}
        extras: dict[str, str] = {}  # each entry's extra as stored: serialised once
        for rec in batch:
            if isinstance(rec, Entry):
                where = f"entry {str(rec.key)[:80]!r}"
                problem = entry_problem(rec, where, extra=False)
                stored = stored_extra(rec, where) if problem is None else problem
                if isinstance(stored, str):
                    extras[rec.key] = stored
                else:
                    rec = stored
            if isinstance(rec, RowProblem):
                report.problems.append(rec)
            else:
                if rec.key in latest:  # a later row for the same key replaces the earlier
                    report.unchanged += 1
                latest[rec.key] = rec
        existing = {key: (eid, dig) for key, eid, dig in rows_by_key(conn, list_id, list(latest))}
        gone, fresh, changed = [], [], []
        for key, rec in latest.items():
            old = existing.get(key)
            if isinstance(rec, Removal):
                if old:
                    gone.append(old[0])
                else:
                    report.unchanged += 1
            elif old is None:
                fresh.append(rec)
            elif old[1] != rec.digest(extras[key]):
                changed.append((old[0], rec))
            else:
                report.unchanged += 1
        self._delete_entries(conn, gone + [eid for eid, _ in changed])
        self._insert_entries(
            conn,
            list_id,
            fresh + [rec for _, rec in changed],
            {rec.key: eid for eid, rec in changed},
            extras,
        )
        report.removed += len(gone)
        report.added += len(fresh)
        report.updated += len(changed)

    def _insert_entries(
        self, conn: Connection, list_id: int, new: list[Entry], keep_ids: dict[str, int],
        extras: dict[str, str],
    ) -> None:  # fmt: skip
        if not new:
            return
        now = db_value(conn, entries, "added_at", _now())
        columns = [*ENTRY_COLUMNS, "list_id", "added_at", "updated_at"]
        rows = {e.key: _entry_row(e, extras[e.key]) for e in new}
        fresh = [(*rows[e.key], list_id, now, now) for e in new if e.key not in keep_ids]
        kept = [(*rows[k], list_id, now, now, keep_ids[k]) for k in rows if k in keep_ids]
        bulk_insert(conn, entries, columns, fresh)
        bulk_insert(conn, entries, [*columns, "id"], kept)
        ids = dict(rows_by_key(conn, list_id, [e.key for e in new], "key, id"))
        apart: dict[str, str] = {}  # stored value (SHA-256) -> the value it stands for
        large = stored_apart()
        sig_rows = []
        for e in new:
            for t, v in dict.fromkeys(e.signals):
                if t in large:
                    digest = hashlib.sha256(v.encode()).hexdigest()
                    apart[digest] = v
                    v = digest
                sig_rows.append((ids[e.key], list_id, t, v))
        bulk_insert(conn, signals, ["entry_id", "list_id", "type", "value"], sig_rows)
        indexed = indexed_types()
        if any(t in indexed for _, _, t, _ in sig_rows):
            added = signals_of_entries(conn, list(ids.values()))
            frame_rows = [(i, apart[v]) for i, t, v in added if t in large]
            bulk_insert(conn, frame_sets, ["signal_id", "frames"], frame_rows)
            self._log(conn, added, "+")

    def _delete_entries(self, conn: Connection, entry_ids: list[int]) -> None:
        sigs = signals_of_entries(conn, entry_ids)
        self._log(conn, sigs, "-")
        large = stored_apart()
        gone = [i for i, t, _ in sigs if t in large]
        for part in chunks(gone):
            conn.execute(delete(frame_sets).where(frame_sets.c.signal_id.in_(part)))
        for part in chunks(entry_ids):
            conn.execute(delete(signals).where(signals.c.entry_id.in_(part)))
            conn.execute(delete(entries).where(entries.c.id.in_(part)))

    @staticmethod
    def _log(conn: Connection, rows: list[tuple[int, str, str]], op: str) -> None:
        """Append the index-served signals among ``rows`` to the change log."""
        indexed = indexed_types()
        logged = [(i, t, v, op) for i, t, v in rows if t in indexed]
        bulk_insert(conn, changes, ["signal_id", "type", "value", "op"], logged)

    def remove_entries(self, list_name: str, keys: list[str]) -> int:
        report = self.apply(list_name, [Removal(k, "removed by request") for k in keys])
        return report.removed

    def index(self, signal_type: str) -> AnyIndex:
        """The index of a signal type, loaded once and brought up to date."""
        self.sync_index(signal_type)
        return self._indexes[signal_type]

    def loaded_index(self, signal_type: str) -> AnyIndex:
        """The index of a signal type as loaded (from its files, once), without catching up."""
        idx = self._indexes.get(signal_type)
        if idx is None:
            path = self.home / "index" / signal_type
            cls = registry.get(signal_type)
            load = LocalIndex.load if cls.indexed_by == "local" else HammingIndex.load
            idx = load(path, cls.frame_bits)
            self._indexes[signal_type] = idx
        return idx

    def last_change(self) -> int:
        """The newest sequence number in the change log (0 if it is empty)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(changes.c.seq))).scalar() or 0)

    def changes_after(
        self, signal_type: str, after: int, upto: int | None = None, limit: int = 100_000
    ) -> Sequence[Any]:
        """Logged changes of one signal type with ``after < seq <= upto``, oldest first."""
        c = changes.c
        query = select(c.seq, c.signal_id, c.value, c.op).where(
            c.seq > after, c.type == signal_type
        )
        if upto is not None:
            query = query.where(changes.c.seq <= upto)
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(changes.c.seq).limit(limit)).all()

    def sync_index(self, signal_type: str, save: bool = True) -> int:
        """Replay changes since the index's checkpoint; returns how many were applied."""
        idx = self.loaded_index(signal_type)
        applied, top = 0, self.last_change()
        while rows := self.changes_after(signal_type, idx.checkpoint, top):
            apply_ops(idx, self.prepare(rows, signal_type))
            idx.checkpoint = rows[-1].seq
            applied += len(rows)
        idx.checkpoint = max(idx.checkpoint, top)  # so the next read starts there
        if applied >= COMPACT_AFTER and isinstance(idx, LocalIndex):
            idx.compact()  # a bulk import: one segment queries faster than several
        if applied and save:
            self.save_index(signal_type)
        return applied

    def save_index(self, signal_type: str) -> bool:
        """Write a loaded index's files, if this process may: one process per data directory
        writes them (the first to save, until it closes the store); the others keep their
        indexes in memory and replay the change log when they start. Whether it saved."""
        if not self._saver.held:
            if not self._saver.acquire():
                return False
            for name, idx in self._indexes.items():  # the folder may have changed since loading
                idx.forget_saved(self.home / "index" / name)
        self._indexes[signal_type].save(self.home / "index" / signal_type)
        return True

    def prepare(self, rows: Sequence[Any], signal_type: str) -> list[Op]:
        """Logged changes as index operations, in order (reading what they need from the
        database). A video signal adds one row per usable frame, with id ``signal id <<
        FRAME_BITS | frame number``; removing it removes the group."""
        return to_ops(rows, signal_type, self.frames_of)


def _labelled(records: Iterable[Record], labels: dict[str, str]) -> Iterator[Record]:
    """Entries whose category came as a name (an NCMEC classification such as ``A1``, a pytx
    category such as ``POSITIVE_CLASS``) get the number the list's category labels give that
    name (any case); the name stays in ``extra``, for export."""
    by_name = {label.strip().lower(): int(n) for n, label in labels.items() if n.isdigit()}
    for rec in records:
        if by_name and isinstance(rec, Entry) and rec.category is None:
            name = rec.extra.get("category", rec.extra.get("classification"))
            if isinstance(name, str) and name.strip().lower() in by_name:
                rec.category = by_name[name.strip().lower()]
        yield rec


def _guarded(records: Iterable[Record]) -> Iterator[Record]:
    """The records, and a last RowProblem if the reader fails part-way (a bug, or a file it
    cannot read further): what was read goes in, and the report says where reading stopped."""
    n = 0
    try:
        for rec in records:
            n += 1
            yield rec
    except VigilError:
        raise
    except Exception as exc:  # the reader's own failure, never the database's
        reason = "nested too deeply" if isinstance(exc, RecursionError) else f"{exc}"[:300]
        yield RowProblem(f"after record {n}", f"reading stopped: {type(exc).__name__}: {reason}")
