"""Matching a video's frames against the frame index: vPDQ similarity plus clip localisation.

For each known video that some query frame matches (PDQ distance <= 31, both frames of quality
>= 50, as python-threatexchange does):

- ``query_match_percent``: the share of the query's usable frames that match the known video,
  and ``known_match_percent``, the share of the known video's usable frames matched: the two
  numbers pytx's vPDQ reports (its default decision: query >= 80 %);
- localisation: each matched query frame is paired with its nearest known frame; the pairs are
  split into *segments* where the query runs on without a gap of more than ``gap`` seconds, and
  each segment gives a query time range and the known time range it shows.

A known video matches when ``query_match_percent`` reaches the threshold (the query is a copy
or a clip of it) or when some segment lasts at least ``min_segment`` seconds (a long query that
contains a clip of it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vigil.index import HammingIndex
from vigil.signals import PDQ_MIN_QUALITY
from vigil.signals.video import parse_vpdq

__all__ = ["FRAME_BITS", "Segment", "VideoMatch", "match_frames"]

FRAME_BITS = 20
QUERY_MATCH_PERCENT = 80.0
MIN_SEGMENT_SECONDS = 5.0
GAP_SECONDS = 3.0


@dataclass(frozen=True)
class Segment:
    query_start: float
    query_end: float
    known_start: float
    known_end: float
    frames: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": [self.query_start, self.query_end],
            "known": [self.known_start, self.known_end],
            "frames": self.frames,
        }


@dataclass
class VideoMatch:
    """How one known video (a vPDQ signal) matches the query."""

    signal_id: int
    query_match_percent: float
    known_match_percent: float
    mean_distance: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def longest(self) -> Segment:
        return max(self.segments, key=lambda s: s.query_end - s.query_start)

    def is_match(
        self, query_percent: float = QUERY_MATCH_PERCENT, min_segment: float = MIN_SEGMENT_SECONDS
    ) -> bool:
        best = self.longest
        return (
            self.query_match_percent >= query_percent
            or best.query_end - best.query_start >= min_segment
        )

    def as_dict(self) -> dict[str, Any]:
        best = self.longest
        return {
            "query_match_percent": round(self.query_match_percent, 1),
            "known_match_percent": round(self.known_match_percent, 1),
            "mean_frame_distance": round(self.mean_distance, 1),
            "query_range": [best.query_start, best.query_end],
            "known_range": [best.known_start, best.known_end],
            "segments": [s.as_dict() for s in self.segments],
        }


def _pairs(
    index: HammingIndex, frames: list[tuple[str, int, float]], max_d: int
) -> dict[int, list[tuple[float, int, int]]]:
    """Per known signal: (query time, known frame number, distance) of every frame hit."""
    hits: dict[int, list[tuple[float, int, int]]] = {}
    mask = (1 << FRAME_BITS) - 1
    for pdq, quality, t in frames:
        if quality < PDQ_MIN_QUALITY:
            continue
        for row_id, d in index.query(bytes.fromhex(pdq), max_d):
            hits.setdefault(row_id >> FRAME_BITS, []).append((t, row_id & mask, d))
    return hits


def _segments(pairs: list[tuple[float, float]], gap: float) -> list[Segment]:
    """Runs of (query time, known time) pairs, sorted by query time, split at gaps."""
    runs: list[list[tuple[float, float]]] = [[pairs[0]]]
    for p in pairs[1:]:
        if p[0] - runs[-1][-1][0] > gap:
            runs.append([])
        runs[-1].append(p)
    out = []
    for run in runs:
        lo, hi = _known_range(sorted(k for _, k in run), gap)
        out.append(Segment(run[0][0], run[-1][0], lo, hi, len(run)))
    return out


def _known_range(known: list[float], gap: float) -> tuple[float, float]:
    """The span of the largest cluster of known times without a gap over ``gap`` seconds:
    stray pairs (a static scene matching far away) fall outside, while a sped-up copy,
    whose known times step by more than a second, stays whole."""
    clusters: list[list[float]] = [[known[0]]]
    for k in known[1:]:
        if k - clusters[-1][-1] > gap:
            clusters.append([])
        clusters[-1].append(k)
    best = max(clusters, key=len)
    return best[0], best[-1]


def _describe(
    signal_id: int,
    hits: list[tuple[float, int, int]],
    known_json: str,
    usable_query: int,
    gap: float,
) -> VideoMatch:
    known = parse_vpdq(known_json)
    usable_known = sum(1 for _, q, _ in known if q >= PDQ_MIN_QUALITY) or 1
    best: dict[float, tuple[int, int]] = {}  # query time -> (distance, known frame)
    for t, frame, d in hits:
        if t not in best or (d, frame) < best[t]:
            best[t] = (d, frame)
    pairs = sorted((t, known[f][2]) for t, (_, f) in best.items() if f < len(known))
    matched_known = {f for _, f, _ in hits}
    return VideoMatch(
        signal_id,
        100.0 * len(best) / max(1, usable_query),
        100.0 * len(matched_known) / usable_known,
        float(np.mean([d for d, _ in best.values()])),
        _segments(pairs, gap) if pairs else [Segment(0, 0, 0, 0, 0)],
    )


def match_frames(
    index: HammingIndex,
    frames_of: Callable[[list[int]], dict[int, str]],
    query_json: str,
    max_distance: int = 31,
    gap: float = GAP_SECONDS,
) -> list[VideoMatch]:
    """Every known video that any usable query frame hits, best first (not yet thresholded:
    use :meth:`VideoMatch.is_match`)."""
    frames = parse_vpdq(query_json)
    usable = sum(1 for _, q, _ in frames if q >= PDQ_MIN_QUALITY)
    hits = _pairs(index, frames, max_distance)
    known = frames_of(list(hits))
    found = [_describe(sid, h, known[sid], usable, gap) for sid, h in hits.items() if sid in known]
    return sorted(found, key=lambda m: (-m.query_match_percent, m.mean_distance))
