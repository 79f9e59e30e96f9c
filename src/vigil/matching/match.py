"""Match signals against the lists: exact types by SQL lookup, Hamming types through the index,
the robust ``vlocal`` signal through the local-feature index with verification.

A PDQ query may also try the 7 other rotations/flips of the image (``variants``); a match found
that way says which variant matched. Each list may set its own PDQ threshold (default 31).
Every match has a kind: ``exact`` (a cryptographic hash), ``near_duplicate`` (PDQ or video
frames), ``altered_copy`` or ``shared_scene`` (vlocal; see :mod:`vigil.matching.robust`).
Models and LoRAs named by hash in a file's evidence are matched too (:meth:`match_evidence`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.errors import InvalidSignal, UsageError
from vigil.evidence.base import Evidence
from vigil.index import HammingIndex, LocalIndex
from vigil.lists.model import Entry, normalized_signal
from vigil.matching.hashing import HashResult
from vigil.matching.robust import FRAME, Alignment, search, search_part, verify
from vigil.matching.video_match import FRAME_BITS, VideoMatch, describe, match_frames
from vigil.signals import SignalValue, registry
from vigil.signals.base import same_digest
from vigil.signals.local import LocalQuery
from vigil.signals.parts import Box, Part, match_parts
from vigil.signals.pdq import PDQ_MIN_QUALITY
from vigil.signals.video_local import VideoLocalQuery, parse_local_frames
from vigil.store import ListInfo, Store

__all__ = ["KINDS", "Match", "Matcher", "acted_on"]

KINDS = ("exact", "near_duplicate", "altered_copy", "shared_scene")  # strongest first
MODEL_HASHES = ("autov1", "autov2", "autov3", "sha256")  # what model evidence can be matched by


@dataclass(frozen=True)
class Match:
    """One list entry that a signal matched."""

    list: str
    signal_type: str
    value: str  # the query's value that matched (after any rotation/flip)
    distance: int
    variant: str  # "original", or the rotation/flip of the query that matched
    entry: Entry
    via: tuple[str, ...] = ()  # every signal type of the query that matched this entry
    video: VideoMatch | None = None  # for video frames: shares matched and time ranges
    kind: str = "near_duplicate"  # one of KINDS
    region: Alignment | None = None  # vlocal: score, and where the match lies in each image

    def as_dict(self, labels: dict[str, str] | None = None) -> dict[str, Any]:
        e = self.entry
        out: dict[str, Any] = {
            "list": self.list,
            "entry": e.key,
            "kind": self.kind,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "variant": self.variant,
            "category": e.category,
            "via": list(self.via or (self.signal_type,)),
        }
        if labels and e.category is not None and str(e.category) in labels:
            out["category_label"] = labels[str(e.category)]
        for name in ("series", "victim_identified", "source", "comments"):
            if getattr(e, name) is not None:
                out[name] = getattr(e, name)
        if self.video is not None:
            out["video"] = self.video.as_dict()
        if self.region is not None:
            out["robust"] = self.region.as_dict()
        if e.tags:
            out["tags"] = e.tags
        if e.extra:
            out["extra"] = e.extra
        return out


def acted_on(answer: dict[str, Any]) -> bool:
    """Whether an answered match (:meth:`Matcher.as_dicts`) counts: not on a negative list, not
    suppressed by one, and not a quarantined flood (:mod:`vigil.exchanges.flood`)."""
    return not (answer.get("negative") or answer.get("suppressed_by") or answer.get("quarantined"))


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

    def _threshold(self, info: ListInfo, signal_type: str) -> int:
        cls = registry.get(signal_type)
        if signal_type == "pdq" and info.pdq_threshold is not None:
            return info.pdq_threshold
        return cls.default_threshold

    def _radius(self, signal_type: str) -> int:
        return max((self._threshold(i, signal_type) for i in self.lists.values()), default=0)

    def match_value(self, signal_type: str, value: str, variant: str = "original") -> list[Match]:
        """Matches of one (type, value); the value is validated first (InvalidSignal)."""
        signal_type, value = normalized_signal(signal_type, value, f"{signal_type}:{value[:80]}")
        cls = registry.get(signal_type)
        if cls.kind == "frames":
            return self._match_video(signal_type, value, variant)
        if cls.kind in ("local", "local_frames"):
            raise UsageError(f"{signal_type} matches media, not values: match the file itself")
        kind = "exact" if cls.kind == "exact" else "near_duplicate"
        if cls.kind == "exact":  # under every name of the same digest (md5 and video_md5)
            hits = [(sid, 0) for t in same_digest(signal_type)
                    for sid in self.store.exact_signal_ids(t, value)]  # fmt: skip
        else:
            index = self._index(signal_type)
            assert isinstance(index, HammingIndex)
            hits = index.query(bytes.fromhex(value), self._radius(signal_type))
        described = self.store.describe_signals([sid for sid, _ in hits])
        found = []
        for sid, distance in hits:
            if sid not in described:
                continue  # removed between the index read and the lookup
            info, entry = described[sid]
            if info.name in self.lists and distance <= self._threshold(info, signal_type):
                found.append(
                    Match(info.name, signal_type, value, distance, variant, entry, kind=kind)
                )
        return found

    def _match_local(self, sv: SignalValue, matched: bool) -> list[Match]:
        """Verified robust matches of a query image (its vlocal payload); ``matched``: the
        image already matched as a whole (see :func:`vigil.matching.robust.search`). A query
        that did not is also looked at part by part, if it is a composite
        (:mod:`vigil.signals.parts`): a part's PDQ, then robust matching within the part."""
        query = sv.payload
        if not isinstance(query, LocalQuery):
            return []
        index = self._index(sv.type)
        assert isinstance(index, LocalIndex)
        aligned = search(index, query, matched)
        if matched or any(a.whole for a in aligned):
            return self._aligned(sv, aligned)
        return self._aligned(sv, aligned) + self._match_parts(sv, index, query)

    def _match_parts(self, sv: SignalValue, index: LocalIndex, query: LocalQuery) -> list[Match]:
        """Each part of a composite query by its PDQ, or else robustly within it."""

        def within(box: Box) -> list[Match]:
            return self._aligned(sv, search_part(index, query, box))

        return match_parts(query.parts, self._part_by_pdq, within)

    def _aligned(self, sv: SignalValue, aligned: list[Alignment]) -> list[Match]:
        """Matches of the robust alignments whose known images are on this matcher's lists."""
        by_id = {a.id: a for a in aligned}
        described = self.store.describe_signals(list(by_id))
        out = []
        for sid, al in by_id.items():
            if sid in described and described[sid][0].name in self.lists:
                info, entry = described[sid]
                distance = round((1 - al.score) * 256)  # on PDQ's 256-bit scale
                variant = "flip_h" if al.mirrored else "original"  # PDQ's name for a mirror
                out.append(Match(info.name, sv.type, sv.value, distance, variant, entry,
                                 kind=al.kind, region=al))  # fmt: skip
        return out

    def _part_by_pdq(self, part: Part) -> list[Match]:
        """Known images that are one part of a composite query as a whole (a cell of a contact
        sheet or grid, a picture inside margins), by the part's PDQ."""
        if part.pdq.quality < PDQ_MIN_QUALITY:
            return []
        try:
            found = self.match_value("pdq", part.pdq.hex)
        except InvalidSignal:
            return []  # a degenerate part (nearly flat) matches nothing
        return [dataclasses.replace(m, kind="altered_copy",
                                    region=Alignment.of_part(part.box, 1 - m.distance / 256))
                for m in found]  # fmt: skip

    def _match_local_video(self, sv: SignalValue) -> list[Match]:
        """Known videos whose sampled frames the query's frames are verified altered copies of
        (at least 2 frames, and half the query's frames or a 4-second run of them)."""
        query = sv.payload
        if not isinstance(query, VideoLocalQuery):
            return []
        index = self._index(sv.type)
        assert isinstance(index, LocalIndex)
        hits: dict[int, list[tuple[float, int, int]]] = {}
        mask = (1 << FRAME_BITS) - 1
        for t, frame in query.frames:
            gray = frame.gray.astype(np.float32)
            feats = frame.widened  # frames are searched in one pass, enlarged too when small
            for cand in index.candidates(feats):
                al = verify(cand, feats, gray, FRAME)
                if al is not None and al.kind == "altered_copy":
                    # on vPDQ's 0-31 scale, by how much of the known frame matched: with a
                    # moving camera, neighbouring frames agree where they overlap
                    distance = round(31 * (1 - al.coverage))
                    hits.setdefault(cand.id >> FRAME_BITS, []).append((t, cand.id & mask, distance))
        times = [t for t, _ in query.frames]
        span = (min(times, default=0.0), max(times, default=0.0), len(times))
        stored = self.store.frames_of(list(hits))
        described = self.store.describe_signals(list(stored))
        out = []
        for sid, h in hits.items():
            if sid not in described or described[sid][0].name not in self.lists:
                continue
            known = [("", 100, t) for t, _ in parse_local_frames(stored[sid])]
            vm = describe(sid, h, known, span)
            if len({t for t, _, _ in h}) >= 2 and vm.is_match(50.0, 4.0):
                info, entry = described[sid]
                out.append(Match(info.name, sv.type, sv.note or "", round(vm.mean_distance),
                                 "original", entry, video=vm, kind="altered_copy"))  # fmt: skip
        return out

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

    def _index(self, signal_type: str) -> HammingIndex | LocalIndex:
        """The index, brought up to date once per file (a file's 8 rotations and flips, or its
        video variants, are looked up against the same state) or once per lookup otherwise."""
        if self._synced is None:
            return self.store.index(signal_type)
        if signal_type not in self._synced:
            self._synced[signal_type] = self.store.index(signal_type)
        return self._synced[signal_type]

    def _match_video(self, signal_type: str, value: str, variant: str) -> list[Match]:
        index = self._index(signal_type)
        assert isinstance(index, HammingIndex)
        found = [
            m
            for m in match_frames(index, self.store.frames_of, value, self._radius(signal_type))
            if m.is_match()
        ]
        described = self.store.describe_signals([m.signal_id for m in found])
        out = []
        for vm in found:
            if vm.signal_id not in described:
                continue
            info, entry = described[vm.signal_id]
            if info.name in self.lists:
                distance = round(vm.mean_distance)
                out.append(Match(info.name, signal_type, value, distance, variant, entry, video=vm))
        return out

    def match_signals(self, signals: dict[str, SignalValue]) -> list[Match]:
        """Matches of a file's signals, one per (list, entry): the strongest evidence (an exact
        hash before a perceptual one, then the smallest distance), with every signal type that
        matched in ``via``. Unusable values (e.g. low-quality PDQ) are skipped."""
        found: dict[tuple[str, str], list[Match]] = {}
        usable = [sv for sv in signals.values() if sv.usable]
        # robust signals last: an image that already matched as a whole is searched once
        usable.sort(key=lambda sv: registry.get(sv.type).kind in ("local", "local_frames"))
        with self.pinned():
            for sv in usable:
                for m in self._match_signal(sv, found):
                    found.setdefault((m.list, m.entry.key), []).append(m)
        best = []
        for ms in found.values():
            ms.sort(key=lambda m: (KINDS.index(m.kind), m.distance))
            via = tuple(dict.fromkeys(m.signal_type for m in ms))
            best.append(dataclasses.replace(ms[0], via=via))
        return sorted(best, key=lambda m: (KINDS.index(m.kind), m.distance, m.list, m.entry.key))

    def _match_signal(self, sv: SignalValue, found: dict[tuple[str, str], list[Match]]
                      ) -> list[Match]:  # fmt: skip
        """Matches of one signal; ``found``: the file's matches by the signals before it."""
        kind = registry.get(sv.type).kind
        if kind == "local":
            whole = any(m.kind in ("exact", "near_duplicate") for ms in found.values() for m in ms)
            return self._match_local(sv, whole)
        if kind == "local_frames":
            return self._match_local_video(sv)
        pairs = [("original", sv.value), *sv.variants.items()]
        return [m for variant, value in pairs for m in self.match_value(sv.type, value, variant)]

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
