"""Survivors' submissions (issue 21): the hashes a person computed of their own images on their
own device, taken in as entries of a list that platforms consume like any other (and export in
StopNCII ``hashRecords`` form), with a **receipt** that lets the person check and withdraw them
later. Hashes only: each item is a file's ``md5`` and ``pdq`` (a photo) or ``video_md5`` (a
video), each checked as its signal type (a degenerate PDQ is refused). The receipt is shown
once and stored only as its SHA-256; the optional label (a case number the person was given)
stays on the submission, never in the list. Nothing about the person is stored: no address,
no account, no cookie."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from vigil.errors import InputError, NotFound, UnknownSignalType
from vigil.lists import Entry
from vigil.signals import registry
from vigil.store import Store
from vigil.store.schema import submissions

__all__ = ["HASH_PAGE", "MAX_ITEMS", "TYPES", "SubmissionSettings", "Submissions", "receipt_digest"]

HASH_PAGE = Path(__file__).parent / "static" / "hash"  # the page's files

TYPES = ("md5", "pdq", "video_md5")  # what the hashing page computes
MAX_ITEMS = 100  # files in one submission


@dataclass(frozen=True)
class SubmissionSettings:
    list_name: str = "submissions"
    rate: float = 0.2  # requests a second per client address (12 a minute) ...
    burst: float = 10.0  # ... in bursts of at most this many
    origins: tuple[str, ...] = ()  # other origins allowed to call (a hosted copy of the page)


def receipt_digest(code: str) -> str:
    """The stored form of a receipt code (case and dashes do not matter)."""
    plain = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(plain.encode()).hexdigest()


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(15)).decode()  # 120 bits, 24 characters
    return "-".join(raw[i : i + 4] for i in range(0, 24, 4))


@dataclass(frozen=True)
class Made:
    id: int
    receipt: str  # shown once
    hashes: int


def _items(data: Any) -> list[list[tuple[str, str]]]:
    """The submission's files, each its (type, value) pairs; InputError naming the field."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise InputError("submission", "items: a list of files' hashes is needed")
    if unknown := sorted(set(data) - {"items", "label"}):
        raise InputError("submission", f"{unknown[0]}: unknown field")
    items = data["items"]
    if not 1 <= len(items) <= MAX_ITEMS:
        raise InputError("submission", f"items: 1 to {MAX_ITEMS} files in one submission")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not item:
            raise InputError("submission", f"items[{n}]: an object of hashes")
        pairs = []
        for kind, value in item.items():
            where = f"items[{n}].{kind}"
            if kind not in TYPES:
                raise InputError("submission", f"{where}: one of {', '.join(TYPES)} (hashes only)")
            try:
                pairs.append((kind, registry.get(kind).normalize(str(value), where)))
            except UnknownSignalType:  # pragma: no cover - TYPES are registered
                raise InputError("submission", f"{where}: not a signal type") from None
            except InputError as exc:
                raise InputError("submission", f"{where}: {exc.reason}") from None
        out.append(pairs)
    return out


class Submissions:
    def __init__(self, store: Store, list_name: str = "submissions") -> None:
        self.store, self.list_name = store, list_name

    def _list(self) -> None:
        if self.list_name not in {i.name for i in self.store.all_lists(counts=False)}:
            self.store.create_list(self.list_name, "hashes survivors sent of their own images")

    def take(self, data: Any) -> Made:
        """Take a submission in (its hashes matchable when this returns); its receipt."""
        items = _items(data)
        label = data.get("label") or ""
        if not isinstance(label, str) or len(label) > 200:
            raise InputError("submission", "label: text of at most 200 characters")
        self._list()
        code, now = _new_code(), datetime.now(UTC)
        with self.store.engine.begin() as conn:
            made = conn.execute(insert(submissions).values(
                digest=receipt_digest(code), list_name=self.list_name, label=label,
                entries="[]", created_at=now)).inserted_primary_key  # fmt: skip
        if made is None:
            raise RuntimeError("no id for a new submission")
        sid = int(made[0])
        entries = [Entry(f"submission:{sid}:{n}", pairs, source="submission")
                   for n, pairs in enumerate(items)]  # fmt: skip
        self.store.apply(self.list_name, entries, source="submission")
        with self.store.engine.begin() as conn:
            conn.execute(update(submissions).where(submissions.c.id == sid).values(
                entries=json.dumps([e.key for e in entries])))  # fmt: skip
        return Made(sid, code, sum(len(p) for p in items))

    def _row(self, code: str) -> Any:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(submissions).where(
                submissions.c.digest == receipt_digest(code))).first()  # fmt: skip
        if row is None:
            raise NotFound("no submission has this receipt")
        return row

    def status(self, code: str) -> dict[str, Any]:
        row = self._row(code)
        gone = row.withdrawn_at.isoformat() if row.withdrawn_at else None
        return {"state": "withdrawn" if gone else "active",
                "files": len(json.loads(row.entries)), "label": row.label,
                "created_at": row.created_at.isoformat(), "withdrawn_at": gone}  # fmt: skip

    def withdraw(self, code: str) -> dict[str, Any]:
        """Take a submission's hashes off the list (no longer matched when this returns)."""
        row = self._row(code)
        if row.withdrawn_at is None:
            self.store.remove_entries(row.list_name, json.loads(row.entries))
            with self.store.engine.begin() as conn:
                conn.execute(update(submissions).where(submissions.c.id == row.id).values(
                    withdrawn_at=datetime.now(UTC)))  # fmt: skip
        return self.status(code)
