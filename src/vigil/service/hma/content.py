"""HMA's banked content as Vigil's list entries: a bank is a list, a content id is the entry's
id in the store, HMA's per-content fields live in the entry (``comments`` is the note,
``extra["hma"]`` holds the client's metadata and ``disable_until_ts``)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from vigil.errors import NotFound, UsageError
from vigil.lists import Entry
from vigil.lists.model import normalized_signal
from vigil.service.hma.models import BankConfig, BankContent, ContentMetadata
from vigil.store import ListInfo, Store

__all__ = [
    "ENABLED",
    "bank_of",
    "content_entry",
    "content_of",
    "enabled",
    "get_content",
    "new_entry",
]

ENABLED, DISABLED = 1, 0  # HMA's magic values of disable_until_ts; any other is a time
FIVE_YEARS = 5 * 365 * 86400


def bank_of(info: ListInfo) -> BankConfig:
    return BankConfig(name=info.name, matching_enabled_ratio=info.enabled_ratio)


def enabled(entry: Entry, now: float | None = None) -> bool:
    """Whether HMA would match this content now (HMA's ``BankContentConfig.enabled``)."""
    until = int(entry.extra.get("hma", {}).get("disable_until_ts", ENABLED))
    if until in (ENABLED, DISABLED):
        return until == ENABLED
    return until <= (time.time() if now is None else now)


def new_entry(
    signals: dict[str, str], metadata: ContentMetadata | None, note: str | None, source: str
) -> Entry:
    """An entry for content added through HMA's API. Its key is derived from its signals, so
    the same content added twice is one entry (and one content id), not two."""
    if not signals:
        raise UsageError("No signals given")
    sigs = sorted({normalized_signal(t, v, f"{t} signal") for t, v in signals.items()})
    key = "hma:" + hashlib.sha256(repr(sigs).encode()).hexdigest()[:32]
    hma: dict[str, Any] = {"disable_until_ts": ENABLED}
    if metadata is not None and (fields := metadata.model_dump(by_alias=True, exclude_none=True)):
        hma["metadata"] = fields
    return Entry(key, sigs, source=source, comments=note or None, extra={"hma": hma})


def get_content(store: Store, bank: str, content_id: int) -> tuple[ListInfo, Entry]:
    """The content ``content_id`` of ``bank``, or NotFound."""
    info = store.get_list(bank)  # ListNotFound for a bank that is not there
    found = store.entries_by_id([content_id]).get(content_id)
    if found is None or found[0].id != info.id:
        raise NotFound(f"content '{content_id}' not found")
    return found


def content_entry(entry: Entry, disable_until_ts: int | None, note: str | None,
                  note_given: bool) -> Entry:  # fmt: skip
    """``entry`` with HMA's mutable fields changed (as ``PUT .../content/{id}`` does)."""
    if disable_until_ts is not None:
        if not 0 <= disable_until_ts <= time.time() + FIVE_YEARS:
            raise UsageError("disable_until_ts must be from 0 to 5 years from now")
        hma = {**entry.extra.get("hma", {}), "disable_until_ts": disable_until_ts}
        entry.extra = {**entry.extra, "hma": hma}
    if note_given:
        entry.comments = note or None
    return entry


def content_of(info: ListInfo, entry: Entry, signals: bool, metadata: bool) -> dict[str, Any]:
    """HMA's ``BankContentResponse`` of an entry (fields HMA leaves out when empty, left out)."""
    hma = entry.extra.get("hma", {})
    body = BankContent(
        id=entry.row_id or 0,
        disable_until_ts=int(hma.get("disable_until_ts", ENABLED)),
        bank=bank_of(info),
        signals=dict(entry.signals) if signals else None,
        metadata=hma.get("metadata") if metadata else None,
        note=entry.comments,
    ).model_dump()
    return {k: v for k, v in body.items() if v is not None or k == "original_media_uri"}
