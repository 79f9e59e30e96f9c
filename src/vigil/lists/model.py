"""What a list holds: entries (a set of signals plus metadata), and what an import yields."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from vigil.errors import InputError, UnknownSignalType, UsageError
from vigil.signals import registry

__all__ = [
    "Entry",
    "ImportReport",
    "Record",
    "Removal",
    "RowProblem",
    "check_list_name",
    "entry_problem",
    "normalized_signal",
    "stored_extra",
]

# A list name: what URLs, file names, HMA bank names and HTML carry as they are. Names made
# before this rule stay usable: by name where they fit in a URL, and everywhere as ``~ID``.
LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
LIST_NAME_RULE = "1-100 letters, digits, '_', '-' or '.', starting with a letter or digit"


def check_list_name(name: str) -> str:
    """``name`` if it is a valid list name, else UsageError saying what a name may be."""
    if not isinstance(name, str) or not LIST_NAME.fullmatch(name):
        shown = ascii(name)[:60]
        raise UsageError(f"a list name must be {LIST_NAME_RULE}; got {shown}")
    return name


MAX_KEY = 1000  # characters of an entry key
MAX_TEXT = 2**20  # characters of series, source, comments
MAX_CATEGORY = 2**31 - 1


def normalized_signal(type_name: str, value: str, source: str) -> tuple[str, str]:
    """Check a (type, value) pair against the registry; raises InputError naming ``source``."""
    try:
        cls = registry.get(type_name)
    except UnknownSignalType as exc:
        raise InputError(source, str(exc)) from None
    return type_name, cls.normalize(value, source)


@dataclass
class Entry:
    """One known item. ``key`` is unique within a list and stable across re-imports."""

    key: str
    signals: list[tuple[str, str]]
    category: int | None = None
    series: str | None = None
    victim_identified: bool | None = None
    source: str | None = None
    tags: list[str] = field(default_factory=list)
    comments: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the store's id of the entry, once stored (HMA's content id); not part of its content
    row_id: int | None = field(default=None, compare=False, repr=False)

    def signal(self, type_name: str) -> str | None:
        return next((v for t, v in self.signals if t == type_name), None)

    def extra_json(self) -> str:
        """``extra`` as canonical JSON (sorted keys), as stored and as fingerprinted."""
        return json.dumps(self.extra, sort_keys=True, default=str) if self.extra else "{}"

    def digest(self, extra_json: str | None = None) -> str:
        """A fingerprint of the content, so re-importing an unchanged entry writes nothing.
        ``extra_json``: :meth:`extra_json`, when the caller has it already."""
        body = repr(
            (
                sorted(set(self.signals)),
                self.category,
                self.series,
                self.victim_identified,
                self.source,
                sorted(self.tags),
                self.comments,
            )
        )
        body += extra_json if extra_json is not None else self.extra_json()
        return hashlib.sha1(body.encode()).hexdigest()


def entry_problem(e: Entry, where: str | None = None, extra: bool = True) -> RowProblem | None:
    """Why ``e`` cannot be stored (a value no database column holds), or None. Checked for
    every entry of every import, whatever its format, so one bad row never fails the rest.
    Without ``extra``, its extra fields are left for the caller (:func:`stored_extra`)."""
    where = where or f"entry {str(e.key)[:80]!r}"
    if not isinstance(e.key, str) or not 0 < len(e.key) <= MAX_KEY:
        return RowProblem(where, f"an entry key must be 1-{MAX_KEY} characters")
    c = e.category
    if c is not None and (
        isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= MAX_CATEGORY
    ):
        return RowProblem(where, f"category must be an integer from 0 to {MAX_CATEGORY}")
    for name in ("series", "source", "comments"):
        value = getattr(e, name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            return RowProblem(where, f"{name} must be text of at most {MAX_TEXT:,} characters")
    if not e.signals:
        return RowProblem(where, "an entry needs at least one signal")
    got = stored_extra(e, where) if extra else None
    return got if isinstance(got, RowProblem) else None


def stored_extra(e: Entry, where: str) -> str | RowProblem:
    """``e.extra`` as stored (:meth:`Entry.extra_json`), or why it cannot be."""
    try:
        return e.extra_json()
    except (ValueError, TypeError, RecursionError) as exc:
        return RowProblem(where, f"extra fields cannot be stored: {type(exc).__name__}")


@dataclass(frozen=True)
class Removal:
    """The source says this entry is gone (tombstone, withdrawn case)."""

    key: str
    reason: str


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be read; the import goes on."""

    where: str  # "line 12", "entry 40", ...
    reason: str


Record = Entry | Removal | RowProblem


@dataclass
class ImportReport:
    """What an import did. Every row is counted exactly once."""

    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.added + self.updated + self.unchanged + self.removed + len(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "problems": [{"where": p.where, "reason": p.reason} for p in self.problems],
        }
