"""A query verified as the whole of a known image, with no fitted transform.

Where a search finds nothing covering the query, the known images whose keypoint pairs sit
where the known image has its keypoints (:meth:`vigil.index.local.LocalIndex.in_frame`) are
verified through the map of the known image's frame onto the query's, refined corner by
corner: a photo of a screen taken off axis, a copy stretched to another frame, a picture
pasted in another or a cell of a sheet, whose keypoints pair too seldom to fit a transform.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from vigil.index.local import Candidate
from vigil.matching.robust import Alignment, _aligned, _Dense, _refined
from vigil.signals.local_algo import DogReader

__all__ = ["FRAMED_TOL", "framed_reader", "verify_framed"]

# a query verified as a whole known image (verify_framed): its corners may be further off
FRAMED_STEPS = (1.0, 0.5, 0.25)
# ... and more of it must agree, everywhere but at its edges: of the 36 cells inside the
# outer ring of the known image's 8x8, at most FRAMED_HOLES unmatched. Where a copy's
# corners are not quite where the map puts them, its cells miss at the edges (0-3 of 36 in
# 288 of 294 framed perspective copies); a different subject on the same background
# misses in the middle (the same-bed hard negatives: 5-18, at up to 0.902 agreement)
FRAMED_AGREEMENT, FRAMED_CELLS, FRAMED_HOLES = 0.85, 0.7, 3
FRAMED_FROM = 0.6  # refined from this agreement (a 6% corner shift: 0.6-0.7 before)
# ... and on only if the coarse moves reach this (true copies, perspective: 0.836 or more;
# 142 chance candidates: 0.816 at most, most below 0.78)
FRAMED_HALFWAY = 0.8
FRAMED_STRETCH = 1.6  # a frame whose aspect ratio differs more: not a copy (squeezed 0.7: 1.43)
FRAMED_TOL = 0.08  # a pair's keypoints this far apart (share of width, height) are in place


def verify_framed(cand: Candidate, gray: npt.NDArray[np.float32],
                  reader: Callable[[], DogReader] | None = None) -> Alignment | None:  # fmt: skip
    """A candidate whose pairs put the query's keypoints where the known image has them
    (:meth:`~vigil.index.local.LocalIndex.in_frame`), verified as the whole of the query:
    the dense agreement through the map of the known image onto the query's frame, refined
    corner by corner (FRAMED_STEPS). An ``altered_copy`` where FRAMED_AGREEMENT of the signs
    and FRAMED_CELLS of the cells agree, with at most FRAMED_HOLES cells unmatched away
    from its edges. It needs no fit: a photo of a screen taken off axis, a copy stretched to
    another frame, a picture pasted in another or a cell of a sheet whose keypoints pair too
    seldom to fit one (on the split, 300 known: perspective 0.830 -> 0.933, inset 0.727 ->
    0.787, grid_4x4 0.923 -> 0.970). The match says so (``framed``): its inliers are the
    pairs in place, not a fit's."""
    kw, kh = cand.size
    h, w = gray.shape
    if abs(np.log(w * kh / (h * kw))) > np.log(FRAMED_STRETCH):
        return None
    m = np.array([[w / kw, 0, 0], [0, h / kh, 0]], np.float64)
    dense = _Dense.read(cand, gray, m, None, reader() if reader else framed_reader(gray))
    if dense.score < FRAMED_FROM:
        return None
    coarse, fine = FRAMED_STEPS[:1], FRAMED_STEPS[1:]
    dense = _refined(cand, gray, dense, None, coarse)
    if dense.score < FRAMED_HALFWAY:
        return None
    dense = _refined(cand, gray, dense, None, fine)
    holes = int((~dense.cells[1:-1, 1:-1]).sum())
    if dense.score < FRAMED_AGREEMENT or dense.cells.mean() < FRAMED_CELLS or holes > FRAMED_HOLES:
        return None
    inliers = len(np.unique(cand.pairs[:, 1]))  # the pairs in place
    return _aligned(cand, dense, "altered_copy", inliers, (w, h), framed=True)


def framed_reader(gray: npt.NDArray[np.float32]) -> DogReader:
    """The query's DoG at the scale of a known image filling its frame (a grid cell: a
    GRID-th of its long side), to read each candidate of :func:`verify_framed` through: made
    once a query (``functools.cache``), where a candidate gets that far."""
    h, w = gray.shape
    return DogReader.at(gray, None, (w, h))
