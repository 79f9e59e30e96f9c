"""How each kind of signal is matched: one :class:`Way` per kind (base class and registry).

A signal type says what kind it is (:attr:`vigil.signals.base.SignalType.kind`); the
:class:`~vigil.matching.match.Matcher` asks that kind's way to match a value, or a file's
signal, and never switches on the kind itself. A new kind of signal brings its way: a
:class:`Way` registered in :data:`ways` (a plug-in, through the ``vigil.matching_ways``
entry-point group).

- ``exact``: cryptographic digests, by SQL lookup under every name of the same digest;
- ``hamming``: perceptual hashes (PDQ), through the Hamming index, each of the query's
  rotations and flips;
- ``frames``: a video's frame hashes (vPDQ), matched frame by frame;
- ``local``: the robust image signal, searched and verified (:mod:`vigil.matching.robust`),
  then the parts of a composite query;
- ``local_frames``: the robust signal of a video's frames.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from vigil.errors import InvalidSignal, UsageError
from vigil.index import HammingIndex, LocalIndex
from vigil.matching.found import Match
from vigil.matching.robust import FRAME, Alignment, verify
from vigil.matching.robust_search import search, search_part
from vigil.matching.video_match import FRAME_BITS, describe, match_frames
from vigil.registry import Registry
from vigil.signals import SignalValue, registry
from vigil.signals.base import same_digest
from vigil.signals.local import LocalQuery
from vigil.signals.parts import Box, Part, match_parts, part_hashes
from vigil.signals.pdq import PDQ_MIN_QUALITY
from vigil.signals.video_local import VideoLocalQuery, parse_local_frames

if TYPE_CHECKING:
    from vigil.matching.match import Matcher

__all__ = ["Way", "way_of", "ways"]

Found = dict[tuple[str, str], list[Match]]  # a file's matches so far, by (list, entry)


class Way:
    """How signals of one kind are matched (``name``: the kind, as signal types give it)."""

    name: ClassVar[str]
    last: ClassVar[bool] = False  # matched after the other kinds, knowing what they found

    def match_value(self, matcher: Matcher, signal_type: str, value: str,
                    variant: str) -> list[Match]:  # fmt: skip
        """Matches of one (normalised) value."""
        raise UsageError(f"{signal_type} matches media, not values: match the file itself")

    def match_signal(self, matcher: Matcher, sv: SignalValue, found: Found) -> list[Match]:
        """Matches of a file's signal: its value and each of its variants."""
        pairs = [("original", sv.value), *sv.variants.items()]
        return [m for variant, value in pairs
                for m in matcher.match_value(sv.type, value, variant)]  # fmt: skip


ways: Registry[Way] = Registry("way of matching", "vigil.matching_ways")


def way_of(signal_type: str) -> Way:
    """The way a signal type's values are matched."""
    return ways.get(registry.get(signal_type).kind)()


@ways.register
class Exact(Way):
    name = "exact"

    def match_value(self, matcher: Matcher, signal_type: str, value: str,
                    variant: str) -> list[Match]:  # fmt: skip
        hits = [(sid, 0) for t in same_digest(signal_type)  # md5 and video_md5 alike
                for sid in matcher.store.exact_signal_ids(t, value)]  # fmt: skip
        return matcher.listed(signal_type, value, variant, hits, "exact")


@ways.register
class Hamming(Way):
    name = "hamming"

    def match_value(self, matcher: Matcher, signal_type: str, value: str,
                    variant: str) -> list[Match]:  # fmt: skip
        index = matcher.index(signal_type)
        assert isinstance(index, HammingIndex)
        hits = index.query(bytes.fromhex(value), matcher.radius(signal_type))
        return matcher.listed(signal_type, value, variant, hits, "near_duplicate")


@ways.register
class Frames(Way):
    name = "frames"

    def match_value(self, matcher: Matcher, signal_type: str, value: str,
                    variant: str) -> list[Match]:  # fmt: skip
        index = matcher.index(signal_type)
        assert isinstance(index, HammingIndex)
        found = [m for m in match_frames(index, matcher.store.frames_of, value,
                                         matcher.radius(signal_type)) if m.is_match()]  # fmt: skip
        described = matcher.store.describe_signals([m.signal_id for m in found])
        out = []
        for vm in found:
            if vm.signal_id in described and described[vm.signal_id][0].name in matcher.lists:
                info, entry = described[vm.signal_id]
                out.append(Match(info.name, signal_type, value, round(vm.mean_distance), variant,
                                 entry, video=vm))  # fmt: skip
        return out


@ways.register
class Local(Way):
    name = "local"
    last = True  # an image already matched as a whole is searched once

    def match_signal(self, matcher: Matcher, sv: SignalValue, found: Found) -> list[Match]:
        """Verified robust matches of a query image (its vlocal payload). Unless it already
        matched as a whole (an exact or PDQ match, or an ``altered_copy`` covering most of it;
        see :func:`vigil.matching.robust_search.search`), it is also looked at part by part if it is
        a composite (:mod:`vigil.signals.parts`): a part's PDQ, else robust matching within."""
        query = sv.payload
        if not isinstance(query, LocalQuery):
            return []
        index = matcher.index(sv.type)
        assert isinstance(index, LocalIndex)
        whole = any(m.kind in ("exact", "near_duplicate") for ms in found.values() for m in ms)
        aligned = search(index, query, whole)
        if whole or any(a.whole for a in aligned):
            return self._aligned(matcher, sv, aligned)

        def within(box: Box) -> list[Match]:
            return self._aligned(matcher, sv, search_part(index, query, box))

        by_pdq = partial(self._part_by_pdq, matcher)
        return self._aligned(matcher, sv, aligned) + match_parts(query.parts, by_pdq, within)

    @staticmethod
    def _aligned(matcher: Matcher, sv: SignalValue, aligned: list[Alignment]) -> list[Match]:
        """Matches of the robust alignments whose known images are on the matcher's lists."""
        by_id = {a.id: a for a in aligned}
        described = matcher.store.describe_signals(list(by_id))
        out = []
        for sid, al in by_id.items():
            if sid in described and described[sid][0].name in matcher.lists:
                info, entry = described[sid]
                distance = round((1 - al.score) * 256)  # on PDQ's 256-bit scale
                variant = "flip_h" if al.mirrored else "original"  # PDQ's name for a mirror
                out.append(Match(info.name, sv.type, sv.value, distance, variant, entry,
                                 kind=al.kind, region=al))  # fmt: skip
        return out

    @staticmethod
    def _part_by_pdq(matcher: Matcher, part: Part) -> list[Match]:
        """Known images that are one part of a composite query as a whole (a cell of a contact
        sheet or grid, a picture inside margins or pasted in another), by the part's PDQ or,
        where that finds none, its mirror's."""
        if part.pdq.quality < PDQ_MIN_QUALITY:
            return []
        for variant, value in part_hashes(part):
            try:
                found = matcher.match_value("pdq", value, variant)
            except InvalidSignal:
                return []  # a degenerate part (nearly flat) matches nothing
            if found:
                return [Local._of_part(m, part) for m in found]
        return []

    @staticmethod
    def _of_part(m: Match, part: Part) -> Match:
        region = Alignment.of_part(part.box, 1 - m.distance / 256, m.variant == "flip_h")
        return dataclasses.replace(m, kind="altered_copy", region=region)


@ways.register
class LocalFrames(Way):
    name = "local_frames"
    last = True

    def match_signal(self, matcher: Matcher, sv: SignalValue, found: Found) -> list[Match]:
        """Known videos whose sampled frames the query's frames are verified altered copies of
        (at least 2 frames, and half the query's frames or a 4-second run of them)."""
        query = sv.payload
        if not isinstance(query, VideoLocalQuery):
            return []
        hits = self._frame_hits(matcher, sv.type, query)
        times = [t for t, _ in query.frames]
        span = (min(times, default=0.0), max(times, default=0.0), len(times))
        stored = matcher.store.frames_of(list(hits))
        described = matcher.store.describe_signals(list(stored))
        out = []
        for sid, h in hits.items():
            if sid not in described or described[sid][0].name not in matcher.lists:
                continue
            known = [("", 100, t) for t, _ in parse_local_frames(stored[sid])]
            vm = describe(sid, h, known, span)
            if len({t for t, _, _ in h}) >= 2 and vm.is_match(50.0, 4.0):
                info, entry = described[sid]
                out.append(Match(info.name, sv.type, sv.note or "", round(vm.mean_distance),
                                 "original", entry, video=vm, kind="altered_copy"))  # fmt: skip
        return out

    @staticmethod
    def _frame_hits(matcher: Matcher, signal_type: str, query: VideoLocalQuery
                    ) -> dict[int, list[tuple[float, int, int]]]:  # fmt: skip
        """Each known video's frames that a query frame is an altered copy of: (query time,
        known frame, distance)."""
        index = matcher.index(signal_type)
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
        return hits
