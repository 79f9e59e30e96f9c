"""What Vigil writes beside a peer's own fields, so that a round trip gives back the same entries.

A peer format holds some of an entry (StopNCII: one hash a record; pytx's CSV: one signal a
row, of the types pytx knows) and nothing else: not the entry's key, not its other signals, not
its series or comments. Vigil writes the rest as an *annotation*, in a place the peer's readers
skip: an extra CSV column, an OData instance annotation (``@vigil.entry``), a JSON field, a
comment line. The annotation holds the entry's key, the signals the format did not carry, and
every metadata field. Reading it back, the annotation is authoritative: the entry is the
annotation's fields plus the signals the format itself carried.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from vigil.lists.formats.base import parse_bool, parse_category, signal_or_problem
from vigil.lists.model import Entry, RowProblem

__all__ = ["annotation", "annotation_json", "restore"]

_TEXT = ("series", "source", "comments")


def annotation(e: Entry, carried: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The part of ``e`` that the format's own fields do not hold (``carried``: its signals
    that they do)."""
    held = set(carried)
    out: dict[str, Any] = {"key": e.key}
    rest = [[t, v] for t, v in e.signals if (t, v) not in held]
    if rest:
        out["signals"] = rest
    if e.category is not None:
        out["category"] = e.category
    if e.victim_identified is not None:
        out["victim_identified"] = e.victim_identified
    for name in _TEXT:
        if getattr(e, name) is not None:
            out[name] = getattr(e, name)
    if e.tags:
        out["tags"] = e.tags
    if e.extra:
        out["extra"] = e.extra
    return out


def annotation_json(e: Entry, carried: Iterable[tuple[str, str]]) -> str:
    return json.dumps(annotation(e, carried), separators=(",", ":"), default=str)


def restore(
    note: Any, carried: list[tuple[str, str]], where: str, source: str
) -> Entry | RowProblem:
    """The entry an annotation describes, with the ``carried`` signals the format read."""
    if isinstance(note, str):
        try:
            note = json.loads(note)
        except (ValueError, RecursionError):
            return RowProblem(where, "Vigil's entry annotation is not JSON")
    if not isinstance(note, dict) or not isinstance(note.get("key"), str):
        return RowProblem(where, "Vigil's entry annotation needs a 'key' string")
    sigs = list(carried)
    for item in note.get("signals") or []:
        pair = isinstance(item, list) and len(item) == 2
        if not (pair and all(isinstance(x, str) for x in item)):
            return RowProblem(where, "an annotation signal must be a [type, value] pair")
        got = signal_or_problem(item[0], item[1], where, source)
        if isinstance(got, RowProblem):
            return got
        sigs.append(got)
    try:
        category = parse_category(note.get("category"))
        victim = parse_bool(note.get("victim_identified"))
    except ValueError as exc:
        return RowProblem(where, str(exc))
    tags, extra = note.get("tags") or [], note.get("extra") or {}
    texts = [note.get(name) for name in _TEXT]
    if not isinstance(extra, dict) or not isinstance(tags, list):
        return RowProblem(where, "annotation 'tags' must be a list and 'extra' an object")
    if not all(isinstance(t, str) for t in tags) or any(
        t is not None and not isinstance(t, str) for t in texts
    ):
        return RowProblem(where, "annotation tags, series, source and comments must be text")
    series, src, comments = texts
    return Entry(note["key"], sigs, category, series, victim, src, tags, comments, extra)
