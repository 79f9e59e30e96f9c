"""Match signals against the lists: each kind of signal its own way (:mod:`vigil.matching.ways`).

Exact types by SQL lookup, Hamming types through the index, the robust ``vlocal`` signal
through the local-feature index with verification. A PDQ query may also try the 7 other
rotations/flips of the image (``variants``); a match found that way says which variant
matched. Each list may set its own PDQ threshold (default 31). Every match has a kind:
``exact`` (a cryptographic hash), ``near_duplicate`` (PDQ or video frames), ``altered_copy``
or ``shared_scene`` (vlocal; see :mod:`vigil.matching.robust`). Models and LoRAs named by hash
in a file's evidence are matched too (:meth:`Matcher.match_evidence`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from vigil.errors import InvalidSignal
from vigil.evidence.base import Evidence
from vigil.index import HammingIndex, LocalIndex
from vigil.lists.model import normalized_signal
from vigil.matching.found import KINDS, MODEL_HASHES, Match, acted_on
from vigil.matching.hashing import HashResult
from vigil.matching.ways import way_of
from vigil.signals import SignalValue, registry
from vigil.store import ListInfo, Store

__all__ = ["KINDS", "MODEL_HASHES", "Match", "Matcher", "acted_on"]


class Matcher:
    """Matches against all lists, or only those named in ``lists``."""

    def __init__(self, store: Store, lists: list[str] | None = None) -> None:
        self.store = store
        infos = store.all_lists()
        if lists:
            infos = [store.get_list(n) for n in lists]  # raises ListNotFound for a bad name
        self.lists: dict[str, ListInfo] = {i.name: i for i in infos}
        self._synced: dict[str, HammingIndex | LocalIndex] | None = (
            None  # set while matching one file
        )

    def threshold(self, info: ListInfo, signal_type: str) -> int:
        """The distance within which a list's entries of a signal type match."""
        cls = registry.get(signal_type)
        if signal_type == "pdq" and info.pdq_threshold is not None:
            return info.pdq_threshold
        return cls.default_threshold

    def radius(self, signal_type: str) -> int:
        """The largest threshold of the matcher's lists: how far an index lookup reaches."""
        return max((self.threshold(i, signal_type) for i in self.lists.values()), default=0)

    def match_value(self, signal_type: str, value: str, variant: str = "original") -> list[Match]:
        """Matches of one (type, value); the value is validated first (InvalidSignal)."""
        signal_type, value = normalized_signal(signal_type, value, f"{signal_type}:{value[:80]}")
        return way_of(signal_type).match_value(self, signal_type, value, variant)

    def listed(self, signal_type: str, value: str, variant: str, hits: list[tuple[int, int]],
               kind: str) -> list[Match]:  # fmt: skip
        """The matches of index or lookup ``hits`` (signal id, distance) on this matcher's
        lists, within each list's threshold."""
        described = self.store.describe_signals([sid for sid, _ in hits])
        found = []
        for sid, distance in hits:
            if sid not in described:
                continue  # removed between the index read and the lookup
            info, entry = described[sid]
            if info.name in self.lists and distance <= self.threshold(info, signal_type):
                found.append(
                    Match(info.name, signal_type, value, distance, variant, entry, kind=kind)
                )
        return found

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within it, each index is brought up to date once, at its first lookup: the lookups
        of one item (a file's signals and their rotations, a report's files) see one state."""
        if self._synced is not None:  # already pinned by a caller
            yield
            return
        self._synced = {}
        try:
            yield
        finally:
            self._synced = None

    def index(self, signal_type: str) -> HammingIndex | LocalIndex:
        """The index, brought up to date once per file (a file's 8 rotations and flips, or its
        video variants, are looked up against the same state) or once per lookup otherwise."""
        if self._synced is None:
            return self.store.index(signal_type)
        if signal_type not in self._synced:
            self._synced[signal_type] = self.store.index(signal_type)
        return self._synced[signal_type]

    def match_signals(self, signals: dict[str, SignalValue]) -> list[Match]:
        """Matches of a file's signals, one per (list, entry): the strongest evidence (an exact
        hash before a perceptual one, then the smallest distance), with every signal type that
        matched in ``via``. Unusable values (e.g. low-quality PDQ) are skipped."""
        found: dict[tuple[str, str], list[Match]] = {}
        usable = [sv for sv in signals.values() if sv.usable]
        usable.sort(key=lambda sv: way_of(sv.type).last)  # robust signals know what went before
        with self.pinned():
            for sv in usable:
                for m in way_of(sv.type).match_signal(self, sv, found):
                    found.setdefault((m.list, m.entry.key), []).append(m)
        best = []
        for ms in found.values():
            ms.sort(key=lambda m: (KINDS.index(m.kind), m.distance))
            via = tuple(dict.fromkeys(m.signal_type for m in ms))
            best.append(dataclasses.replace(ms[0], via=via))
        return sorted(best, key=lambda m: (KINDS.index(m.kind), m.distance, m.list, m.entry.key))

    def match_evidence(self, items: Iterable[Evidence]) -> list[Match]:
        """Listed models named in a file's evidence: the hashes its generator metadata gives
        (``model_reference``) and, for a model file, its own (``model_file``)."""
        wanted: list[tuple[str, str, str]] = []
        for e in items:
            if e.claim == "model_reference" and isinstance(e.value, dict):
                variant = f"{e.value.get('role', 'model')} {e.value.get('name', '')}".strip()
                wanted.append((str(e.value.get("type")), str(e.value.get("hash")), variant))
            elif e.claim == "model_file" and isinstance(e.value, dict) and "sha256" in e.value:
                wanted.extend((t, e.value[t], "model file") for t in MODEL_HASHES if t in e.value)
        found: dict[tuple[str, str], Match] = {}
        for signal_type, value, variant in wanted:
            if signal_type not in MODEL_HASHES:
                continue
            try:
                matches = self.match_value(signal_type, value, variant)
            except InvalidSignal:
                continue  # a malformed hash in a file's metadata matches nothing
            for m in matches:
                found.setdefault((m.list, m.entry.key), m)
        return list(found.values())

    def match_result(self, result: HashResult) -> list[Match]:
        return self.match_signals(result.signals)

    def screen(self, found: list[Match]) -> list[tuple[Match, str | None]]:
        """Each match of one item with the negative list that suppresses it, or None. When the
        item matches a negative list (hashes known to be benign), its matches on the other lists
        are suppressed: reported, never actioned. Matches on negative lists are never actioned
        either (``Matcher.lists[name].negative``)."""
        benign = sorted({m.list for m in found if self.lists[m.list].negative})
        by = benign[0] if benign else None
        return [(m, None if self.lists[m.list].negative else by) for m in found]

    def as_dicts(self, found: list[Match]) -> list[dict[str, Any]]:
        """One item's matches as answered: each with its category label; a match on a negative
        list marked ``negative``, one it suppressed marked ``suppressed_by``."""
        out = []
        for m, suppressed_by in self.screen(found):
            d = m.as_dict(self.labels(m.list))
            if self.lists[m.list].negative:
                d["negative"] = True
            if suppressed_by is not None:
                d["suppressed_by"] = suppressed_by
            out.append(d)
        return out

    def labels(self, list_name: str) -> dict[str, str]:
        return self.lists[list_name].category_labels if list_name in self.lists else {}
