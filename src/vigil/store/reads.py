"""The read side of the store: lists, entries, and the lookups matching needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select

from vigil.errors import ListNotFound
from vigil.lists.model import Entry
from vigil.store.schema import changes, entries, frame_sets, lists, signals

__all__ = ["ListInfo", "Reads", "row_to_entry"]

# built once: an exact lookup is the most frequent query, and building it cost more than running it
_EXACT = select(signals.c.id).where(
    signals.c.type == bindparam("t"), signals.c.value == bindparam("v")
)

PAGE = 10_000  # entries per read; the IN over their ids stays under SQLite's limit


@dataclass(frozen=True)
class ListInfo:
    id: int
    name: str
    description: str
    pdq_threshold: int | None
    category_labels: dict[str, str]
    created_at: datetime
    entries: int = 0
    enabled_ratio: float = 1.0  # the share of HMA lookups the list takes part in
    negative: bool = False  # known-benign hashes: a match suppresses the item's others

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": f"~{self.id}",  # addresses the list wherever a name does (any name)
            "description": self.description,
            "entries": self.entries,
            "pdq_threshold": self.pdq_threshold,
            "category_labels": self.category_labels,
            "created_at": self.created_at.isoformat(),
            "enabled_ratio": self.enabled_ratio,
            "negative": self.negative,
        }


def row_to_entry(row: Any, sigs: list[tuple[str, str]]) -> Entry:
    entry = Entry(
        row.key,
        sigs,
        row.category,
        row.series,
        row.victim_identified,
        row.source,
        json.loads(row.tags),
        row.comments,
        json.loads(row.extra),
    )
    entry.row_id = row.id
    return entry


class Reads:
    """Queries over the store's tables; :class:`~vigil.store.Store` adds the writes."""

    engine: Engine

    def get_list(self, name: str) -> ListInfo:
        """The list named ``name``, or whose reference is ``name`` (``~ID``, see ``ref``)."""
        ref = name[1:] if name.startswith("~") else ""
        where = lists.c.id == int(ref) if ref.isdigit() and len(ref) < 12 else lists.c.name == name
        with self.engine.connect() as conn:
            row = conn.execute(select(lists).where(where)).first()
            if row is None:
                raise ListNotFound(name)
            count = conn.execute(select(func.count()).where(entries.c.list_id == row.id)).scalar()
        return self._info(row, int(count or 0))

    @staticmethod
    def _info(row: Any, count: int) -> ListInfo:
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return ListInfo(
            row.id,
            row.name,
            row.description,
            row.pdq_threshold,
            json.loads(row.category_labels),
            created,
            count,
            float(row.enabled_ratio),
            bool(row.negative),
        )

    def all_lists(self, counts: bool = True) -> list[ListInfo]:
        """Every list; ``counts=False`` leaves entry counts at 0 (counting reads every entry)."""
        with self.engine.connect() as conn:
            by_list: dict[int, int] = {}
            if counts:
                by_list = dict(
                    conn.execute(
                        select(entries.c.list_id, func.count()).group_by(entries.c.list_id)
                    ).all()
                )
            rows = conn.execute(select(lists).order_by(lists.c.name)).all()
        return [self._info(r, int(by_list.get(r.id, 0))) for r in rows]

    def iter_entries(self, list_name: str) -> Iterator[Entry]:
        """Every entry of a list with its signals, in key order, streamed in batches."""
        info = self.get_list(list_name)
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(entries)
                    .where(
                        entries.c.list_id == info.id,
                        entries.c.key > last,
                    )
                    .order_by(entries.c.key)
                    .limit(PAGE)
                ).all()
                if not rows:
                    return
                sigs = _signals_of(conn, [r.id for r in rows])
            for r in rows:
                yield row_to_entry(r, sigs.get(r.id, []))
            last = rows[-1].key

    def frames_of(self, signal_ids: list[int]) -> dict[int, str]:
        """The frames (vPDQ JSON) of video signals, by signal id."""
        found: dict[int, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(signal_ids), PAGE):
                part = signal_ids[start : start + PAGE]
                found.update(
                    conn.execute(
                        select(frame_sets.c.signal_id, frame_sets.c.frames).where(
                            frame_sets.c.signal_id.in_(part)
                        )
                    ).all()
                )
        return found

    # -- lookups for matching ----------------------------------------------------------------
    def exact_signal_ids(self, signal_type: str, value: str) -> list[int]:
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(_EXACT, {"t": signal_type, "v": value})]

    def describe_signals(self, signal_ids: list[int]) -> dict[int, tuple[ListInfo, Entry]]:
        """For each signal id: its list and entry (with all the entry's signals)."""
        if not signal_ids:
            return {}
        with self.engine.connect() as conn:
            hits = conn.execute(
                select(signals.c.id, signals.c.entry_id).where(signals.c.id.in_(signal_ids))
            ).all()
        found = self.entries_by_id(list({h.entry_id for h in hits}), frames=False)
        return {h.id: found[h.entry_id] for h in hits if h.entry_id in found}

    def entries_by_id(
        self, entry_ids: list[int], frames: bool = True
    ) -> dict[int, tuple[ListInfo, Entry]]:
        """For each entry id (HMA's content id) that exists: its list and the entry. Without
        ``frames``, a video signal's value is its stored digest, not its frames (matching
        reads those apart, only where it needs them)."""
        if not entry_ids:
            return {}
        with self.engine.connect() as conn:
            rows = {
                r.id: r for r in conn.execute(select(entries).where(entries.c.id.in_(entry_ids)))
            }
            sigs = _signals_of(conn, list(rows), frames)
            list_rows = {
                r.id: self._info(r, 0)
                for r in conn.execute(
                    select(lists).where(lists.c.id.in_({r.list_id for r in rows.values()}))
                )
            }
        return {
            eid: (list_rows[row.list_id], row_to_entry(row, sigs.get(eid, [])))
            for eid, row in rows.items()
        }

    def list_version(self, list_name: str) -> str:
        """A tag that changes whenever the list's entries may have: its id, entry count,
        newest entry time and the newest change logged (an export's ETag)."""
        info = self.get_list(list_name)
        with self.engine.connect() as conn:
            count, newest = conn.execute(
                select(func.count(), func.max(entries.c.updated_at)).where(
                    entries.c.list_id == info.id)).one()  # fmt: skip
            seq = conn.execute(select(func.max(changes.c.seq))).scalar()
        return f"{info.id}-{count}-{newest.timestamp() if newest else 0}-{seq or 0}"

    def entry_id(self, list_name: str, key: str) -> int | None:
        """The id of the entry ``key`` of a list, or None."""
        info = self.get_list(list_name)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(entries.c.id).where(entries.c.list_id == info.id, entries.c.key == key)
            ).first()
        return None if row is None else int(row.id)


def _signals_of(conn: Any, entry_ids: list[int], frames: bool = True
                ) -> dict[int, list[tuple[str, str]]]:  # fmt: skip
    """The signals of each entry, in the order they were stored. A video signal's row holds a
    digest; with ``frames`` its value is its frames (the vPDQ JSON), read from ``frame_sets``."""
    query = select(signals.c.entry_id, signals.c.type, signals.c.value)
    if frames:
        on = frame_sets.c.signal_id == signals.c.id
        query = query.add_columns(frame_sets.c.frames).select_from(
            signals.outerjoin(frame_sets, on)
        )
    out: dict[int, list[tuple[str, str]]] = {}
    for s in conn.execute(query.where(signals.c.entry_id.in_(entry_ids)).order_by(signals.c.id)):
        value = s.frames if frames and s.frames is not None else s.value
        out.setdefault(s.entry_id, []).append((s.type, value))
    return out
