"""A picture pasted inside another: found by the four straight seams around it.

A known image is often re-shared inset in an unrelated one (a picture in a picture, a "reaction"
frame, a screenshot of a photo over a background). Unlike a contact sheet's cells it has no plain
gutters to cut at, and at a fraction of the query's size its keypoints are too small for the
whole query's search to find. Its sides are seams, though: straight rows and columns where the
pixels step sharply from one picture to the other, much more than they step two pixels either
side (within each picture). Lines holding many such steps are tried in pairs; a rectangle whose
four sides are mostly seams is an inset, matched as an image of its own
(:func:`vigil.signals.parts.find_parts`). So is one with three such sides and a fainter fourth,
where the inset meets a background as bright as its own edge (a white wall on a white page).

On 200 of the shared photos, each inset at 45% of the width in another, 92% gave a rectangle
and the inset was among the best three for about 70%; 23% of the photos alone gave one (a
window, a picture frame, a bed's edges), which costs a PDQ lookup or three, not a match.
Looking takes 0.7 ms on a 400 x 533 query.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["SEARCH_SUPPORT", "find_insets"]

SIDE = 256  # the image is reduced by a whole factor to about this long side (a seam: a pixel)
STEP = 12  # grey levels a seam steps by, at least ...
CONTRAST = 2  # ... and this many times the steps two pixels either side of it (an integer)
MIN_SHARE = 0.2  # an inset's sides: at least this share of the image's
MAX_AREA = 0.8  # larger: the query as a whole is that picture
SUPPORT = 0.5  # share of each side that must be seam ...
# ... or of three sides, the fourth at least WEAK_SIDE, where the four average WEAK_MEAN: an
# inset with one side along a background as bright as itself (white on white). On the split
# (300 known, inset at 45%): inset 0.787 -> 0.833, at 30% 0.573 -> 0.643, for 0.2 ms a query
WEAK_SIDE, WEAK_MEAN = 0.2, 0.7
MAX_LINES = 14  # candidate rows (and columns): those with the most seam
MAX_INSETS = 3  # the best rectangles: an inset, or one of its sides and a line inside it
# Where the best is this well supported, robust matching looks inside it when no PDQ matched:
# 84% of the insets of the benchmark, 7% of single photos (23% give a rectangle at all)
SEARCH_SUPPORT = 0.7
SAME = 0.02  # rectangles whose sides are all this close (fractions of the image) are one
Box = tuple[float, float, float, float]
_F = npt.NDArray[np.float64]
_I = npt.NDArray[np.int32]


def find_insets(gray: npt.NDArray[np.uint8]) -> list[tuple[Box, float]]:
    """Rectangles (fractions of width and height) bounded by seams on all four sides, with
    their support (the mean share of seam along their sides), the best supported first.
    They may overlap: a straight line inside an inset (a bed's edge) and three of its sides
    make a rectangle too, sometimes supported better than the inset's own; each is worth a
    look, which its PDQ gives cheaply."""
    g = _reduced(gray)
    h, w = g.shape
    if min(h, w) < 16:
        return []
    rows = _along(_steps(g))  # rows[y, x]: seam pixels between rows y-1 and y, left of x
    cols = _along(_steps(np.ascontiguousarray(g.T)))
    ys, xs = _lines(rows, MIN_SHARE * w), _lines(cols, MIN_SHARE * h)
    yp, xp = _pairs(ys, MIN_SHARE * h), _pairs(xs, MIN_SHARE * w)
    if not len(yp) or not len(xp):
        return []
    y0, y1 = yp[:, 0, None], yp[:, 1, None]  # rectangles: rows of y pairs, columns of x pairs
    x0, x1 = xp[None, :, 0], xp[None, :, 1]
    sides = np.stack([_share(rows, y0, x0, x1), _share(rows, y1, x0, x1),
                      _share(cols, x0, y0, y1), _share(cols, x1, y0, y1)])  # fmt: skip
    rank = sides.mean(axis=0)
    sure = _supported(sides, rank) & ((x1 - x0) * (y1 - y0) <= MAX_AREA * w * h)
    found = [(float(rank[i, j]), (xp[j, 0] / w, yp[i, 0] / h, xp[j, 1] / w, yp[i, 1] / h))
             for i, j in zip(*np.nonzero(sure), strict=True)]  # fmt: skip
    return _distinct(sorted(found, reverse=True))


def _supported(sides: _F, mean: _F) -> npt.NDArray[np.bool_]:
    """Which rectangles (``sides``: the seam share of each side, stacked first) are seams
    on all four sides, or on three with a fainter fourth (WEAK_SIDE, WEAK_MEAN)."""
    faint, second = np.partition(sides, 1, axis=0)[:2]
    weak = (second >= SUPPORT) & (faint >= WEAK_SIDE) & (mean >= WEAK_MEAN)
    return np.asarray((faint >= SUPPORT) | weak)


def _reduced(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The image reduced by a whole factor to a long side near SIDE, each pixel the mean
    of a k x k block (OpenCV's fast path: a fractional INTER_AREA took 0.4 ms)."""
    h, w = gray.shape
    k = max(1, round(max(h, w) / SIDE))
    if k == 1:
        return np.ascontiguousarray(gray)
    block = np.ascontiguousarray(gray[: h // k * k, : w // k * k])
    return np.asarray(cv2.resize(block, (w // k, h // k), interpolation=cv2.INTER_AREA))


def _steps(g: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Seam pixels between each two rows: a strong step, CONTRAST times those 2 rows away,
    counted on the lines either side too (resizing spreads a seam, and a side found a pixel
    off is still found)."""
    d = cv2.absdiff(g[1:], g[:-1])
    away = np.zeros_like(d)  # the larger of the steps 2 rows before and 2 rows after
    away[2:] = d[:-2]
    np.maximum(away[:-2], d[2:], out=away[:-2])
    seam = (d >= STEP) & (d // CONTRAST >= away)  # whole grey levels: d >= CONTRAST * away
    near = seam.copy()
    near[1:] |= seam[:-1]
    near[:-1] |= seam[1:]
    return np.asarray(near)


def _along(seam: npt.NDArray[np.bool_]) -> _I:
    """Cumulative counts of seam pixels along each line, numbered by the row after the step
    (row 0 has none)."""
    counts = np.zeros((seam.shape[0] + 1, seam.shape[1] + 1), np.int32)
    np.cumsum(seam, axis=1, dtype=np.int32, out=counts[1:, 1:])
    return counts


def _lines(along: _I, least: float) -> list[int]:
    """The MAX_LINES lines with the most seam pixels (at least ``least`` * SUPPORT) that hold
    more than any line within 2 pixels (one seam is read on neighbouring lines too)."""
    totals = along[:, -1]
    n = len(totals)
    padded = np.pad(totals, 2, constant_values=-1)
    before = np.maximum(padded[0:n], padded[1 : n + 1])
    after = np.maximum(padded[3 : n + 3], padded[4 : n + 4])
    peaks = np.nonzero((totals > before) & (totals >= after) & (totals >= least * SUPPORT))[0]
    best = peaks[np.argsort(-totals[peaks], kind="stable")][:MAX_LINES]
    return sorted(int(y) for y in best)


def _pairs(lines: list[int], least: float) -> npt.NDArray[np.intp]:
    """Pairs of lines at least ``least`` apart, (n, 2)."""
    a = np.array(lines, np.intp)
    i, j = np.triu_indices(len(a), 1)
    keep = a[j] - a[i] >= least
    return np.stack([a[i][keep], a[j][keep]], axis=1)


def _share(along: _I, line: npt.NDArray[np.intp], a: npt.NDArray[np.intp],
           b: npt.NDArray[np.intp]) -> _F:  # fmt: skip
    """The share of each ``line`` from ``a`` to ``b`` that is seam (``b - a`` is at least
    MIN_SHARE of the image's side: the lines come from :func:`_pairs`)."""
    return np.asarray((along[line, b] - along[line, a]) / (b - a))


def _distinct(found: list[tuple[float, Box]]) -> list[tuple[Box, float]]:
    """The best MAX_INSETS rectangles, leaving out any that is another seen twice."""
    out: list[tuple[Box, float]] = []
    for support, box in found:
        if len(out) < MAX_INSETS and not any(
            max(abs(a - b) for a, b in zip(box, o, strict=True)) < SAME for o, _ in out
        ):
            out.append((box, support))
    return out
