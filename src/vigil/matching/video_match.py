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
from vigil.signals.base import FRAME_BITS
from vigil.signals.video import parse_vpdq

__all__ = ["FRAME_BITS", "Segment", "VideoMatch", "describe", "match_frames"]

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
    # where in the known video the query lies: the longest segment's alignment applied to the
    # whole query when the query is a clip of the known video (query share >= 80 %, or the
    # whole query maps inside the known video), else to the segment alone
    known_range: tuple[float, float] = (0.0, 0.0)

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
            "known_range": list(self.known_range),
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
    """Runs of (query time, known time) pairs, sorted by query time, split at gaps; each run's
    known range comes from its alignment (:func:`_fit`)."""
    runs: list[list[tuple[float, float]]] = [[pairs[0]]]
    for p in pairs[1:]:
        if p[0] - runs[-1][-1][0] > gap:
            runs.append([])
        runs[-1].append(p)
    out = []
    for run in runs:
        a, b = _fit(run, gap)
        q0, q1 = run[0][0], run[-1][0]
        out.append(Segment(q0, q1, round(a * q0 + b, 3), round(a * q1 + b, 3), len(run)))
    return out


def _fit(pairs: list[tuple[float, float]], gap: float) -> tuple[float, float]:
    """known time ~= a * query time + b, fitted to the pairs whose offset is within ``gap`` of
    the median offset (a static scene can pair a frame with a far one). ``a`` is the speed of
    the query relative to the known video (2 for a copy played twice as fast), kept to
    1/4..4; with too few pairs for a slope, a = 1."""
    q = np.array([p[0] for p in pairs])
    k = np.array([p[1] for p in pairs])
    offset = float(np.median(k - q))
    keep = np.abs(k - q - offset) <= gap * max(1.0, float(np.ptp(q)) / 10)
    if keep.sum() >= 3 and np.ptp(q[keep]) > 0:
        a, b = (float(x) for x in np.polyfit(q[keep], k[keep], 1))
        if 0.25 <= a <= 4:
            return a, b
    return 1.0, offset


def _aligned(
    hits: list[tuple[float, int, int]], known: list[tuple[str, int, float]]
) -> dict[float, tuple[int, int]]:
    """One known frame per matched query frame: the one closest to the offset (known time -
    query time) that the query frames agree on best (each frame votes 32 minus its distance
    at that offset). Picking each frame's nearest hash instead goes wrong on static scenes,
    where a frame matches many others almost equally well."""
    closest: dict[tuple[int, float], int] = {}  # (offset, query time) -> smallest distance
    for t, frame, d in hits:
        if frame < len(known):
            key = (round(known[frame][2] - t), t)
            closest[key] = min(d, closest.get(key, d))
    if not closest:
        return {}
    score: dict[int, int] = {}  # offsets scored by how many frames agree, and how closely
    for (o, _), d in closest.items():
        score[o] = score.get(o, 0) + 32 - d
    offset = max(score, key=lambda o: (score[o], -abs(o)))
    best: dict[float, tuple[float, int, int]] = {}  # query time -> (skew, distance, frame)
    for t, frame, d in hits:
        if frame < len(known):
            skew = abs(known[frame][2] - t - offset)
            if t not in best or (skew, d) < best[t][:2]:
                best[t] = (skew, d, frame)
    return {t: (d, frame) for t, (_, d, frame) in best.items()}


def describe(
    signal_id: int,
    hits: list[tuple[float, int, int]],
    known: list[tuple[str, int, float]],
    query_span: tuple[float, float, int],
    gap: float = GAP_SECONDS,
) -> VideoMatch:
    """How one known video matches: ``hits`` are (query time, known frame number, distance),
    ``known`` its frames as (hash, quality, seconds), ``query_span`` the query's first and last
    sampled times and how many frames it could match with."""
    first, last, usable_query = query_span
    usable_known = sum(1 for _, q, _ in known if q >= PDQ_MIN_QUALITY) or 1
    best = _aligned(hits, known)
    pairs = sorted((t, known[f][2]) for t, (_, f) in best.items())
    matched_known = {f for _, f, _ in hits}
    match = VideoMatch(
        signal_id,
        100.0 * len(best) / max(1, usable_query),
        100.0 * len(matched_known) / usable_known,
        float(np.mean([d for d, _ in best.values()])),
        _segments(pairs, gap) if pairs else [Segment(0, 0, 0, 0, 0)],
    )
    seg = match.longest
    run = [p for p in pairs if seg.query_start <= p[0] <= seg.query_end]
    a, b = _fit(run, gap) if run else (1.0, 0.0)
    end = known[-1][2] if known else 0.0
    # the query is a clip of the known video when most of it matches, or when the whole query,
    # mapped through the alignment, lies inside the known video (an excerpt some of whose
    # frames, dark or static, did not match); otherwise only the matched run is placed
    inside = a * first + b >= -gap and a * last + b <= end + gap
    clip = match.query_match_percent >= QUERY_MATCH_PERCENT or inside
    q0, q1 = (first, last) if clip else (seg.query_start, seg.query_end)
    match.known_range = (round(max(0.0, a * q0 + b), 3), round(min(end, a * q1 + b), 3))
    return match


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
    times = [t for _, _, t in frames]  # the clip's whole span, usable frames or not
    usable = sum(1 for _, q, _ in frames if q >= PDQ_MIN_QUALITY)
    span = (min(times, default=0.0), max(times, default=0.0), usable)
    hits = _pairs(index, frames, max_distance)
    known = frames_of(list(hits))
    found = [
        describe(sid, h, parse_vpdq(known[sid]), span, gap)
        for sid, h in hits.items()
        if sid in known
    ]
    return sorted(found, key=lambda m: (-m.query_match_percent, m.mean_distance))
