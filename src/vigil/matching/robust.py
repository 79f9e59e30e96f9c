"""Robust matching: verify the candidates of the local-feature index and say what kind they are.

A candidate known image shares keypoints with the query. It is verified in two steps:

1. **geometry**: a similarity transform (scale, rotation, shift) fitted with RANSAC must explain
   at least :data:`MIN_INLIERS` distinct keypoint pairs, or 4 if the dense agreement below is
   0.9 or more (a rotated or reduced copy keeps few repeatable keypoints, but its dense signs
   still agree: chance agreement is 0.5). A homography is tried where a similarity explains a
   few pairs of many (a photo of a screen), an affine fit where the signs agree too little
   through the similarity;
2. **dense agreement**: through that transform, the query's difference-of-Gaussian signs are
   read at the known image's 32x32 grid and compared with the stored ones. Where the images show
   the same thing most signs agree; where they differ about half do.

A candidate with too few pairs for a fit, but whose pairs sit where the known image has its
keypoints, may be verified by the second step alone, as the whole query
(:func:`vigil.matching.robust_framed.verify_framed`: a photo of a screen taken off axis, an
inset, a cell of a sheet).

The kind follows from the agreement over the part of the known image that lies in the query:
``altered_copy`` when most of it agrees, in most of its 8x8 cells (a crop, pad, screenshot,
overlay, small rotation or a partly replaced image), ``shared_scene`` when only a region does
(the same background with a different subject). Each match names the matched region in both
images, as fractions of their width and height, so a reviewer can check it without viewing more
than needed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numba
import numpy as np
import numpy.typing as npt

from vigil.index.local import Candidate
from vigil.index.local_kernels import popcount64
from vigil.signals.local_algo import GRID, DogReader, Features, apply_transform

__all__ = ["FRAME", "IMAGE", "SURE_INLIERS", "Alignment", "Rules", "verify"]

MIN_INLIERS = 6
ALTERED_AGREEMENT = 0.75  # share of grid signs in view that agree: altered_copy
ALTERED_COVERAGE = 0.5  # and share of the cells in view that match
SURE_AGREEMENT, SURE_INLIERS = 0.8, 8  # below 0.8 agreement, 8 inliers are needed
CELL = 4  # grid points per cell side: 8x8 cells of 16 signs
CELL_AGREE = 13  # signs of 16 that must agree for a cell to count as matched
SHARED_CELLS = 0.25  # share of the known image's cells that must match: shared_scene ...
SHARED_INLIERS = 6  # ... with this many inliers (at least MIN_INLIERS: fewer need agreement)
# a fit with fewer than SURE_INLIERS shows an altered_copy only where an eighth of the known
# image or more matched: a door frame beside two garments hung on the same door matched as a
# thin strip (7 cells, 5 inliers); no quarter crop of the benchmark was found on fewer than 8
LEAST_COVERAGE = 0.125
WHOLE_QUERY = 0.6  # an altered_copy covering this share of the query: the query is that image
Box = tuple[float, float, float, float]
Mask = npt.NDArray[np.bool_]
Fit = tuple[npt.NDArray[np.float64], int]  # a transform known -> query, its distinct inliers


@dataclass(frozen=True)
class Rules:
    """How much a candidate must show to be an ``altered_copy``. Images use :data:`IMAGE`;
    video frames :data:`FRAME`, looser, because a video matches only when several of its
    frames agree with each other (:class:`vigil.matching.ways.LocalFrames`)."""

    min_inliers: int = MIN_INLIERS
    few_inliers_agreement: float = 1.0  # below MIN_INLIERS inliers, the agreement needed
    altered_cells: float = ALTERED_COVERAGE


# 4 or 5 inliers at agreement 0.9: on the split rotate_4 0.877 -> 0.911, crop10_jpeg50_resize
# 0.856 -> 0.902. True copies matched so have a median agreement of 0.96; the unrelated photos
# (other garments on the same beds) reached 0.857 with 4 inliers and 0.849 with 5 (12,012
# queries), so 0.85 let two of them through
IMAGE = Rules(min_inliers=4, few_inliers_agreement=0.9)
FRAME = Rules(min_inliers=4, few_inliers_agreement=0.8, altered_cells=0.25)


@dataclass(frozen=True)
class Alignment:
    """A verified robust match: its kind, score, and where it lies in each image."""

    id: int
    kind: str  # "altered_copy" or "shared_scene"
    score: float  # agreement of the grid signs in view (0.5: chance, 1: identical)
    inliers: int
    coverage: float  # share of the known image's cells that matched
    known_region: Box  # x0, y0, x1, y1 as fractions of the known image
    query_region: Box  # the same region in the query
    scale: float  # query size / known size
    rotation: float  # degrees
    mirrored: bool = False  # the query shows the known image mirrored left to right
    framed: bool = False  # verified as the whole query, with no fit (verify_framed)

    @property
    def whole(self) -> bool:
        """An altered copy covering most of the query: the query is that image."""
        x0, y0, x1, y1 = self.query_region
        return self.kind == "altered_copy" and (x1 - x0) * (y1 - y0) >= WHOLE_QUERY

    @classmethod
    def of_part(cls, box: Box, score: float, mirrored: bool = False) -> Alignment:
        """A known image found whole as one part of a composite query (by the part's PDQ,
        or by its mirrored PDQ)."""
        scale = max(box[2] - box[0], box[3] - box[1])
        return cls(0, "altered_copy", score, 0, 1.0, (0.0, 0.0, 1.0, 1.0), box, scale, 0.0,
                   mirrored)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "mirrored": self.mirrored,
            "framed": self.framed,
            "kind": self.kind,
            "score": round(self.score, 3),
            "inliers": self.inliers,
            "coverage": round(self.coverage, 3),
            "known_region": [round(v, 3) for v in self.known_region],
            "query_region": [round(v, 3) for v in self.query_region],
            "scale": round(self.scale, 3),
            "rotation": round(self.rotation, 1),
        }


PERSPECTIVE_PAIRS = 10  # a candidate with this many pairs that a similarity explains poorly
# (fewer than SURE_INLIERS) is tried with a homography ...
PERSPECTIVE_INLIERS = 10  # ... which must explain this many (a similarity: 4 to 6)
PERSPECTIVE_SPREAD = 0.5  # its sides' scales may differ by this much (a 6% corner shift: 0.2)
PREFILTER_PAIRS = 48  # candidates with at most this many pairs are screened before RANSAC
PREFILTER_PX = 12.0  # a screening hypothesis's tolerance: 3x RANSAC's, for its cruder fit
REFINE_FROM = 0.7  # a fit whose signs agree this well, but not as a copy's, is refined
REFINE_STEPS = (0.5, 0.25)  # corner moves tried, in grid cells of the known image in the query
REFINE_ROUNDS = 4  # rounds of moves at each step at most
_MOVES = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], np.float32)
AFFINE_INLIERS = 5  # a similarity this well supported whose signs agree too little: affine
# an affine fit explaining this many more pairs than the similarity replaces it (a copy
# stretched or squeezed one way: at 0.89 wide, a similarity explained 2-5 pairs, an affine
# 5-9, whose signs agreed 0.92-0.96), if its two scales differ by at most AFFINE_SPREAD
AFFINE_GAIN, AFFINE_SPREAD = 2, 2.0
# ... and, with fewer than SURE_INLIERS, signs agreeing this well: its two more degrees of
# freedom fitted one garment to another on the same bed (6 inliers, 0.80 and 0.82)
STRETCHED_AGREEMENT = 0.9


@numba.njit(cache=True, nogil=True)
def _consensus(
    src: npt.NDArray[np.float32],
    dst: npt.NDArray[np.float32],
    known: npt.NDArray[np.int64],
    tol: float,
) -> int:  # pragma: no cover - compiled
    """The most distinct known keypoints (``known``: their ranks, < 64) that one similarity
    through two of the pairs maps within ``tol`` pixels, every two tried: a cheap screen before
    RANSAC. With a looser tolerance than RANSAC's it counts at least as many inliers, but for
    pairs so close together that a fit through them extrapolates badly."""
    n = src.shape[0]
    best = 0
    tol2 = tol * tol
    for i in range(n):
        for j in range(i + 1, n):
            sx, sy = src[j, 0] - src[i, 0], src[j, 1] - src[i, 1]
            dx, dy = dst[j, 0] - dst[i, 0], dst[j, 1] - dst[i, 1]
            norm = sx * sx + sy * sy
            if norm < 1.0:
                continue
            a = (sx * dx + sy * dy) / norm  # scale * cos
            b = (sx * dy - sy * dx) / norm  # scale * sin
            tx = dst[i, 0] - (a * src[i, 0] - b * src[i, 1])
            ty = dst[i, 1] - (b * src[i, 0] + a * src[i, 1])
            seen = np.uint64(0)
            for k in range(n):
                ex = a * src[k, 0] - b * src[k, 1] + tx - dst[k, 0]
                ey = b * src[k, 0] + a * src[k, 1] + ty - dst[k, 1]
                if ex * ex + ey * ey <= tol2:
                    seen |= np.uint64(1) << np.uint64(known[k])
            best = max(best, popcount64(seen))
    return best


def _fit(cand: Candidate, query: Features, min_inliers: int) -> tuple[Fit, bool] | None:
    """The similarity known -> query explaining the most pairs, and how many distinct ones;
    or a homography where one explains more of many pairs than a similarity's few (a photo
    taken off axis); or an affine transform where one explains AFFINE_GAIN more than a
    similarity's few (a copy resized to another aspect ratio; then the flag is True: it
    is held to STRETCHED_AGREEMENT). Candidates with few pairs
    (most of them: chance) are first screened by :func:`_consensus`, which takes about half
    the time of running RANSAC on each (split, 1,000 known images)."""
    src, dst = _ends(cand, query)
    known = cand.pairs[:, 1]
    screen = len(src) <= PREFILTER_PAIRS
    if screen and _consensus(src, dst, known, PREFILTER_PX) < min_inliers:
        return None
    fit = _similarity(src, dst, known, min_inliers)
    held = fit is not None and fit[1] >= min_inliers
    if fit is not None and held and fit[1] < SURE_INLIERS and len(src) >= PERSPECTIVE_PAIRS:
        # a photo of a screen or a print, taken off axis: a homography, held to more inliers
        # (not tried where no similarity holds at all: that is chance, and RANSAC on it costly)
        seen = _perspective(src, dst, known, cand.size, fit[1])
        if seen is not None:
            return seen, False
    if (fit is None or fit[1] < SURE_INLIERS) and len(src) >= AFFINE_INLIERS:
        stretched = _stretched(src, dst, known)
        least = max(AFFINE_INLIERS, (0 if fit is None else fit[1]) + AFFINE_GAIN)
        if stretched is not None and stretched[1] >= least:
            # where no similarity held but an affine does, the picture may be off axis too
            # (and through a curved lens): a homography, if it explains more
            seen = None
            if not held and len(src) >= PERSPECTIVE_PAIRS:
                seen = _perspective(src, dst, known, cand.size, stretched[1])
            return (seen, False) if seen is not None else (stretched, True)
    return None if fit is None else (fit, False)


def _perspective(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32],
                 known: npt.NDArray[np.int64], size: tuple[int, int], least: int
                 ) -> Fit | None:  # fmt: skip
    """A homography known -> query that a photo of a flat picture could make, explaining at
    least PERSPECTIVE_INLIERS pairs and ``least``; or None."""
    h, inl = cv2.findHomography(src, dst, cv2.RANSAC, 4.0, maxIters=400, confidence=0.995)
    if h is None or not _plausible(np.asarray(h, np.float64), size):
        return None
    seen = _counted(h, inl, known, dst)
    return seen if seen is not None and seen[1] >= max(PERSPECTIVE_INLIERS, least) else None


def _stretched(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32],
               known: npt.NDArray[np.int64]) -> Fit | None:  # fmt: skip
    """The affine transform known -> query explaining the most pairs, and how many distinct
    ones, if a picture could show it: not mirrored, its scales along its two axes within
    AFFINE_SPREAD of each other (a copy resized to another aspect ratio, a slight shear)."""
    m, inl = _affine_ransac(src, dst)
    if m is None:
        return None
    linear = np.asarray(m, np.float64)[:, :2]
    scales = np.linalg.svd(linear, compute_uv=False)
    if np.linalg.det(linear) <= 0 or scales[0] > AFFINE_SPREAD * scales[1]:
        return None
    return _counted(m, inl, known, dst)


def _affine_ransac(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32]) -> tuple[Any, Any]:
    """RANSAC's affine fit of the pairs (4 px): the 2x3 matrix and the inlier mask, or Nones."""
    return cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0,
                                maxIters=500, confidence=0.995)  # fmt: skip


def _similarity(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32],
                known: npt.NDArray[np.int64], min_inliers: int
                ) -> Fit | None:  # fmt: skip
    """The similarity known -> query explaining the most pairs, and how many distinct ones.
    A fit collapsed onto one spot is fitted again without its pairs: a corner detected at
    several scales of the query, each keypoint paired by chance with another known one, can
    outnumber the true pairs (of a photo taken off axis, which a similarity fits loosely)."""
    for _ in range(2):
        m, inl = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0, maxIters=500, confidence=0.995
        )
        fit = _counted(m, inl, known, dst)
        if fit is not None or m is None or inl is None:
            break
        rest = ~inl.ravel().astype(bool)
        src, dst, known = src[rest], dst[rest], known[rest]
        if len(src) < min_inliers:
            break
    return fit


def _ends(cand: Candidate, query: Features) -> tuple[npt.NDArray[np.float32],
                                                     npt.NDArray[np.float32]]:  # fmt: skip
    """Each pair's known keypoint and query keypoint, in their images' pixels."""
    return cand.points[cand.pairs[:, 1]], query.points[cand.pairs[:, 0]]


def _counted(m: Any, inl: Any, known: npt.NDArray[np.int64], dst: npt.NDArray[np.float32]
             ) -> Fit | None:  # fmt: skip
    """A fitted transform and its distinct inliers (known keypoints and query points alike),
    or None where the fit failed or scales implausibly."""
    if m is None or inl is None:
        return None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    if not 0.15 < scale < 6.0:
        return None
    ok = inl.ravel().astype(bool)
    known_kp = len(np.unique(known[ok]))
    query_pts = len(np.unique(np.round(dst[ok] / 3), axis=0))
    return np.asarray(m, np.float64), min(known_kp, query_pts)


def _plausible(h: npt.NDArray[np.float64], size: tuple[int, int]) -> bool:
    """A homography that a photo of a flat picture could make: it keeps the orientation (no
    mirror, no fold) and its scale changes by at most PERSPECTIVE_SPREAD across the image."""
    w, h_ = size
    corners = np.array([[0, 0], [w, 0], [w, h_], [0, h_]], np.float64)
    if np.any(corners @ h[2, :2] + h[2, 2] <= 1e-6):
        return False  # part of the image behind the camera
    q = apply_transform(h, corners)
    edges = np.roll(q, -1, axis=0) - q
    turns = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1]
        - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    )
    if not (turns > 0).all():
        return False  # not convex, or mirrored
    sides = np.hypot(edges[:, 0], edges[:, 1]) / np.array([w, h_, w, h_])
    return float(sides.max() / max(sides.min(), 1e-9)) <= 1 + PERSPECTIVE_SPREAD


def _cells(agree: npt.NDArray[np.bool_], inside: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Which cells of the known image matched (enough signs agree, enough of it in view)."""
    n = GRID // CELL
    shape = (n, CELL, n, CELL)
    hits = (agree & inside).reshape(shape).sum(axis=(1, 3))
    seen = inside.reshape(shape).sum(axis=(1, 3))
    matched = (hits >= CELL_AGREE) & (seen >= CELL * CELL * 3 // 4)
    # a lone matched cell is as likely chance (4% of unrelated cells) as content: keep cells
    # with a matched neighbour
    padded = np.pad(matched, 1)
    neighbours = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    return np.asarray(matched & neighbours)


def _largest(cells: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The largest 4-connected group of matched cells: the region to show a reviewer."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cells.astype(np.uint8), connectivity=4)
    if n <= 1:
        return cells
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.asarray(labels == biggest)


def _region(cells: npt.NDArray[np.bool_], m: npt.NDArray[np.float64], known: tuple[int, int],
            query: tuple[int, int]) -> tuple[Box, Box]:  # fmt: skip
    ys, xs = np.nonzero(_largest(cells))
    n = cells.shape[0]
    kbox = (xs.min() / n, ys.min() / n, (xs.max() + 1) / n, (ys.max() + 1) / n)
    kw, kh = known
    corners = np.array([[kbox[0] * kw, kbox[1] * kh], [kbox[2] * kw, kbox[1] * kh],
                        [kbox[0] * kw, kbox[3] * kh], [kbox[2] * kw, kbox[3] * kh]])  # fmt: skip
    q = apply_transform(m, corners)
    qw, qh = query
    qbox = (
        max(0.0, q[:, 0].min() / qw),
        max(0.0, q[:, 1].min() / qh),
        min(1.0, q[:, 0].max() / qw),
        min(1.0, q[:, 1].max() / qh),
    )
    return tuple(float(v) for v in kbox), qbox  # type: ignore[return-value]


@dataclass(frozen=True)
class _Dense:
    """How the query's DoG signs agree with a candidate's through one transform."""

    m: npt.NDArray[np.float64]
    agree: npt.NDArray[np.bool_]
    inside: npt.NDArray[np.bool_]
    reader: DogReader | None = None  # what it was read with: refinement reads through it again

    @classmethod
    def read(cls, cand: Candidate, gray: npt.NDArray[np.float32], m: npt.NDArray[np.float64],
             picture: Mask | None = None, reader: DogReader | None = None) -> _Dense:  # fmt: skip
        reader = reader or DogReader.at(gray, m, cand.size)
        diff, inside = reader.read(m, cand.size, picture)
        known = np.unpackbits(cand.grid)[: GRID * GRID].astype(bool)
        return cls(m, (diff > 0) == known, inside, reader)

    @property
    def score(self) -> float:
        return float(self.agreeing / max(int(self.inside.sum()), 1))

    @property
    def agreeing(self) -> int:
        return int((self.agree & self.inside).sum())

    @cached_property
    def cells(self) -> npt.NDArray[np.bool_]:
        return _cells(self.agree, self.inside)

    def altered(self, inliers: int, rules: Rules) -> bool:
        """Whether a fit with ``inliers`` and this agreement shows an ``altered_copy``: most
        signs in view agree, in most of the cells in view; and with few inliers, at least
        LEAST_COVERAGE of the known image's cells match."""
        if inliers < MIN_INLIERS and self.score < rules.few_inliers_agreement:
            return False
        if inliers < SURE_INLIERS and self.cells.mean() < LEAST_COVERAGE:
            return False
        strong = self.score >= SURE_AGREEMENT or inliers >= SURE_INLIERS
        return self.score >= ALTERED_AGREEMENT and self.in_view >= rules.altered_cells and strong

    @cached_property
    def in_view(self) -> float:
        """The share of the cells in view that matched."""
        return float(self.cells.sum() / max(int(_cells(self.inside, self.inside).sum()), 1))


def verify(
    cand: Candidate,
    query: Features,
    gray: npt.NDArray[np.float32],
    rules: Rules = IMAGE,
    picture: Mask | None = None,
) -> Alignment | None:
    """The verified match of one candidate, or None. ``gray``: the query's normalised image;
    ``picture``: where it shows a picture, if not all of it (a turned query's canvas)."""
    if len(cand.pairs) < rules.min_inliers:
        return None
    found = _fit(cand, query, rules.min_inliers)
    if found is None or found[0][1] < rules.min_inliers:
        return None
    (m, inliers), stretched = found
    dense = _Dense.read(cand, gray, m, picture)
    if dense.score < ALTERED_AGREEMENT and inliers >= AFFINE_INLIERS:
        dense = _affine(cand, query, gray, dense, picture)
    if dense.score >= REFINE_FROM and not dense.altered(inliers, rules):
        dense = _refined(cand, gray, dense, picture)
    if stretched and inliers < SURE_INLIERS and dense.score < STRETCHED_AGREEMENT:
        return None
    coverage = float(dense.cells.mean())
    if dense.inside.mean() < 0.2 or not dense.cells.any():
        return None
    if dense.altered(inliers, rules):
        kind = "altered_copy"
    elif coverage >= SHARED_CELLS and inliers >= SHARED_INLIERS:
        kind = "shared_scene"
    else:
        return None
    return _aligned(cand, dense, kind, inliers, query.size)


def _aligned(cand: Candidate, dense: _Dense, kind: str, inliers: int,
             size: tuple[int, int], framed: bool = False) -> Alignment:  # fmt: skip
    """The match that ``dense`` shows, of ``kind``, in a query of ``size``."""
    m = dense.m
    kbox, qbox = _region(dense.cells, m, cand.size, size)
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    rotation = float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
    coverage = float(dense.cells.mean())
    return Alignment(cand.id, kind, dense.score, inliers, coverage, kbox, qbox, scale, rotation,
                     framed=framed)  # fmt: skip


def _refined(cand: Candidate, gray: npt.NDArray[np.float32], dense: _Dense,
             picture: Mask | None, steps: tuple[float, ...] = REFINE_STEPS) -> _Dense:  # fmt: skip
    """The dense agreement through the homography near ``dense``'s transform under which the
    most signs agree: each corner of the known image moved in turn by half a grid cell, then
    a quarter, while more agree. A photo of a screen or a print taken off axis is fitted by
    a similarity only near its keypoints; elsewhere the signs are read a cell or more away
    (6% corner shifts cost true copies 0.05 to 0.1 of agreement)."""
    kw, kh = cand.size
    known = np.array([[0, 0], [kw, 0], [kw, kh], [0, kh]], np.float32)
    corners = apply_transform(dense.m, known.astype(np.float64)).astype(np.float32)
    reader = dense.reader or DogReader.at(gray, dense.m, cand.size)
    cell = float(np.hypot(dense.m[0, 0], dense.m[1, 0])) * max(kw, kh) / GRID
    best = dense
    for step in steps:
        for _ in range(REFINE_ROUNDS):
            before = best.agreeing
            for j, d in itertools.product(range(4), _MOVES):
                tried = corners.copy()
                tried[j] += np.float32(step * cell) * d
                h = np.asarray(cv2.getPerspectiveTransform(known, tried), np.float64)
                other = _Dense.read(cand, gray, h, picture, reader)
                if other.agreeing > best.agreeing:
                    best, corners = other, tried
            if best.agreeing == before:
                break
    return best


def _affine(cand: Candidate, query: Features, gray: npt.NDArray[np.float32], dense: _Dense,
            picture: Mask | None) -> _Dense:  # fmt: skip
    """The dense agreement through an affine fit (a slight shear or non-uniform scale, as a
    photo of a screen adds), if it agrees better than ``dense``."""
    src, dst = _ends(cand, query)
    fit = _counted(*_affine_ransac(src, dst), cand.pairs[:, 1], dst)
    if fit is None or fit[1] < AFFINE_INLIERS:
        return dense
    other = _Dense.read(cand, gray, fit[0], picture)
    return other if other.score > dense.score else dense
