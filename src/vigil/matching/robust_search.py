"""Robust search: the passes that look for known images in a query, each verified by
:func:`vigil.matching.robust.verify` (or, where nothing covers the query, as the whole of
it: :func:`vigil.matching.robust_framed.verify_framed`).

A query is searched as it is (and, when small, enlarged and at its own size); unless found
as a whole, turned back upright where it shows a rotated picture on a plain canvas, then
mirrored (with the same passes). A part of a composite query (a cell, an inset) is searched
as an image of its own. Each match is mapped back into the query as the query shows it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, partial

import numpy as np
import numpy.typing as npt

from vigil.index.local import LocalIndex, Pairs
from vigil.matching.robust import IMAGE, SURE_INLIERS, Alignment, Box, Mask, verify
from vigil.matching.robust_framed import FRAMED_TOL, framed_reader, verify_framed
from vigil.signals.local import LocalQuery, Upright, part_query
from vigil.signals.local_algo import Features, apply_transform

__all__ = ["search", "search_part"]

OWN_SCALE = float(np.log(1.25))  # a query searched at its own size: scales within 1.25x of 1
PART_AGREEMENT = 0.9  # a part's match with fewer than SURE_INLIERS inliers needs this
CANDIDATE_PAIRS = 4  # known images sharing fewer keypoints with the query are not verified


def _verified(index: LocalIndex, feats: Features, gray: npt.NDArray[np.float32],
              pairs: Pairs | None, picture: Mask | None = None) -> list[Alignment]:  # fmt: skip
    found = (
        verify(c, feats, gray, IMAGE, picture)
        for c in index.candidates(feats, min_pairs=CANDIDATE_PAIRS, pairs=pairs)
    )
    return [a for a in found if a is not None]


def search(index: LocalIndex, query: LocalQuery, matched: bool = False) -> list[Alignment]:
    """The verified robust matches of a query image, mirrored copies included.

    Unless the query already matched as a whole (``matched``: an exact or PDQ match, which
    tries the flips, or an ``altered_copy`` covering most of it), it is searched again
    mirrored (:meth:`LocalQuery.flipped`): its keypoints described in the mirrored image,
    verified against the mirrored image, the matched region mirrored back; a query that
    normalising enlarged is searched mirrored enlarged and at its own size too. The
    known side is indexed once, unmirrored. A query showing a picture rotated on a plain
    canvas is searched turned back upright too, mirrored or not (:mod:`vigil.signals.upright`)."""
    found = _search(index, query, matched)
    if matched or any(a.whole for a in found):
        return found
    found = _joined(found, _upright(index, query))
    if any(a.whole for a in found):
        return found
    flipped = query.flipped()
    mirror = _search(index, flipped)
    if query.upright and not any(a.whole for a in mirror):  # mirrored and rotated
        mirror = _joined(mirror, _upright(index, flipped))
    return _joined([_unmirror(a) for a in mirror], found)


def _upright(index: LocalIndex, query: LocalQuery) -> list[Alignment]:
    """The matches of a query turned back upright, where it shows a rotated picture
    (:attr:`LocalQuery.upright`), mapped back into it."""
    return [_turned_back(a, u, query.gray.shape) for u in query.upright
            for a in _search(index, u.query)]  # fmt: skip


def _joined(first: list[Alignment], then: list[Alignment]) -> list[Alignment]:
    """One match a known image: ``then``'s where both found it."""
    return list(({a.id: a for a in first} | {a.id: a for a in then}).values())


def _turned_back(al: Alignment, up: Upright, size: tuple[int, ...]) -> Alignment:
    """A match found in a query turned upright, with its region, scale and rotation where
    they are in the query (the region: the box around it there)."""
    h, w = up.query.gray.shape
    x0, y0, x1, y1 = al.query_region
    box = np.array([[x0 * w, y0 * h], [x1 * w, y0 * h], [x0 * w, y1 * h], [x1 * w, y1 * h]])
    q = apply_transform(up.to_query, box)
    qh, qw = size
    region = (max(0.0, float(q[:, 0].min()) / qw), max(0.0, float(q[:, 1].min()) / qh),
              min(1.0, float(q[:, 0].max()) / qw), min(1.0, float(q[:, 1].max()) / qh))  # fmt: skip
    m = up.to_query
    scale = al.scale * float(np.hypot(m[0, 0], m[1, 0]))
    rotation = (al.rotation + float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))) + 180) % 360 - 180
    return replace(al, query_region=region, scale=scale, rotation=rotation)


def search_part(index: LocalIndex, query: LocalQuery, box: Box) -> list[Alignment]:
    """The verified robust matches within one part of a query (``box``: fractions of its
    width and height), searched as an image of its own; their regions in the whole query."""
    h, w = query.gray.shape
    x0, y0, x1, y1 = box
    crop = query.gray[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)]
    part = part_query(np.ascontiguousarray(crop))
    if part is None:
        return []
    sure = _sure(_search(index, part))
    if not sure:  # a mirrored sheet or collage mirrors each of its pictures
        sure = [_unmirror(a) for a in _sure(_search(index, part.flipped()))]
    return [replace(a, query_region=_within(a.query_region, box)) for a in sure]


def _sure(found: list[Alignment]) -> list[Alignment]:
    """The matches of a part held to a surer fit than a whole query's (two unrelated
    garments' cells matched with 6 inliers at 0.81 on the split); those verified as the
    whole part (``framed``) already are."""
    return [a for a in found
            if a.framed or a.inliers >= SURE_INLIERS or a.score >= PART_AGREEMENT]  # fmt: skip


def _within(inner: Box, outer: Box) -> Box:
    """``inner`` (fractions of ``outer``) as fractions of what ``outer`` is a part of."""
    w, h = outer[2] - outer[0], outer[3] - outer[1]
    return (outer[0] + inner[0] * w, outer[1] + inner[1] * h,
            outer[0] + inner[2] * w, outer[1] + inner[3] * h)  # fmt: skip


def _unmirror(al: Alignment) -> Alignment:
    """A match found in the mirrored query, with its region where it is in the query."""
    x0, y0, x1, y1 = al.query_region
    return replace(al, query_region=(1 - x1, y0, 1 - x0, y1), mirrored=True)


def _search(index: LocalIndex, query: LocalQuery, matched: bool = False) -> list[Alignment]:
    """The verified robust matches of a query image as it is.

    A small image is searched a second time with the keypoints of it enlarged too (a reduced
    copy shows a known image's finer keypoints only then), unless it already matched as a
    whole: ``matched`` (an exact or PDQ match found before), or an ``altered_copy`` of the
    first pass covering most of the query. Then the second pass could only find another
    known image in what is left of the query, and it costs as much again as the first
    (an ORB pass on twice the pixels, 500 more lookups). Where nothing covers the query,
    the known images whose keypoints it shows in place are verified as the whole of it
    (:func:`_framed`)."""
    gray = query.gray.astype(np.float32)
    feats, pairs = query.features, index.lookup(query.features)
    found = _verified(index, feats, gray, pairs, query.picture)
    if query.small and not matched and not any(a.whole for a in found):
        pairs = pairs + index.lookup(query.enlarged, first=len(feats.points))
        feats = query.widened
        wider = _verified(index, feats, gray, pairs) + _own_size(index, query, gray)
        found = _joined(found, wider)
    if matched or any(a.whole for a in found) or query.picture is not None:
        return found
    return found + _framed(index, feats, gray, pairs, {a.id for a in found})


def _framed(index: LocalIndex, feats: Features, gray: npt.NDArray[np.float32], pairs: Pairs,
            seen: set[int]) -> list[Alignment]:  # fmt: skip
    """The known images that the query may be the whole of, however stretched or taken off
    axis: two or more of its keypoints pair where the known image has them
    (:meth:`LocalIndex.in_frame`), and the signs agree through the frame's map
    (:func:`~vigil.matching.robust_framed.verify_framed`). Not those already found."""
    cands = [c for c in index.in_frame(feats, pairs, FRAMED_TOL) if c.id not in seen]
    if not cands:
        return []
    reader = cache(partial(framed_reader, gray))  # the frame's scale is the query's
    return [a for c in cands if (a := verify_framed(c, gray, reader)) is not None]


def _own_size(index: LocalIndex, query: LocalQuery,
              gray: npt.NDArray[np.float32]) -> list[Alignment]:  # fmt: skip
    """The matches of a query that normalising enlarged, searched with its keypoints at its
    own size: a known image shown there at its own scale (a crop of it), held to that scale
    (more scales let two garments on the same bed through as a reduced copy)."""
    if query.native is None:
        return []
    found = _verified(index, query.own_size, gray, None)
    return [a for a in found if abs(np.log(a.scale / query.enlargement)) <= OWN_SCALE]
