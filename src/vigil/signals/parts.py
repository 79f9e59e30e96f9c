"""The parts of a composite image: the cells of a contact sheet, a grid of thumbnails or a
collage, and a picture inside plain margins.

Known material is often re-shared as one image holding several (a video's preview sheet, a
"set" posted as one grid). Each cell is a known image reduced several times, too small for
the query's keypoints to find at the known image's scale, but whole: its PDQ is the known
image's. The cells are found by their gutters, rows or columns of near-uniform pixels that
cross the whole sheet (or the whole of a part of it, for an uneven collage), cut recursively;
each cell is then matched as an image of its own
(:meth:`vigil.matching.match.Matcher.match_signals`).
An image with no gutters may still hold a picture pasted inside it, found by the seams around
it (:mod:`vigil.signals.insets`). Neither needs a model; each costs about a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from vigil.signals.insets import SEARCH_SUPPORT, find_insets
from vigil.signals.pdq_algo import PdqResult, hash_rgb_or_l

__all__ = ["MIN_SHARE", "Box", "Part", "find_parts", "match_parts", "part_hashes"]

MIN_SHARE = 0.1  # a part's sides: at least this share of the image's (a portrait thumbnail)
MIN_AREA = 0.025  # and its area of the image's (a 4x4 sheet's cell: 0.0625; a 5x5's: 0.04)
MIN_SIDE = 40  # pixels
GUTTER_STD = 4.0  # a line whose pixels' standard deviation is below this is a gutter
MIN_GUTTER = 2  # pixels
DEPTH = 4  # cuts within cuts: rows, then columns, then rows of a column, ...
MAX_PARTS = 16
SEARCHED_WHOLE = 0.5  # a single framed part this large (share of the area) is not searched
# the best two rectangles: the second is the inset where a line inside it and three of its
# sides are supported better (inset 0.690 -> 0.703 on the benchmark)
SEARCHED_INSETS = 2
SAME_INSET = 0.02  # an inset this close to a cell (share of the long side) is that cell
# a cell is snapped to its row and column if no side moves more than this share of its size
# (at a quarter, a portrait garment on white in a landscape cell, which lost more than half
# its height to the gutter, was left cut short: sheets with all nine 25 -> 28 of 33)
SNAP_MOVE = 0.6
Box = tuple[float, float, float, float]
IntBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class Part:
    """One part: where it lies (fractions of the image's width and height) and its PDQ."""

    box: Box
    pdq: PdqResult
    inset: bool = False  # one of the rectangles that may be a picture pasted in the image
    support: float = 1.0  # an inset's: how much of its sides are seams
    pixels: npt.NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)


def find_parts(gray: npt.NDArray[np.uint8]) -> list[Part]:
    """The parts of a composite grey image, with their PDQ: its cells (none for a single
    picture filling the image, or nothing but margins), then the rectangles that may be an
    inset (:func:`~vigil.signals.insets.find_insets`: alternatives, best first)."""
    h, w = gray.shape
    cells = _cells(gray)
    near = max(w, h) * SAME_INSET
    insets = [((round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h)), support)
              for (x0, y0, x1, y1), support in find_insets(gray)]  # fmt: skip
    insets = [(b, s) for b, s in insets if not any(_close(b, c, near) for c in cells)]
    boxes = [(b, False, 1.0) for b in cells] + [(b, True, s) for b, s in insets]
    return [Part((x0 / w, y0 / h, x1 / w, y1 / h), hash_rgb_or_l(gray[y0:y1, x0:x1]), inset, s,
                 gray[y0:y1, x0:x1]) for (x0, y0, x1, y1), inset, s in boxes]  # fmt: skip


def part_hashes(part: Part) -> Iterator[tuple[str, str]]:
    """The PDQ hashes a part is looked up by, with PDQ's name for each: its own, then (made
    only if asked for, and where the part keeps its pixels) its mirror's. A mirrored sheet
    or collage mirrors each cell, and a query's own PDQ tries the flips of the whole query,
    which do not see its parts. The mirror's is hashed from the mirrored pixels: PDQ's box
    filter is not symmetric, and on a cell a third of a photo wide the flip read from the
    cell's own DCT was 8-18 bits further from the known image than the cell itself
    (mirrored grid_3x3 0.89 -> 0.98)."""
    yield "original", part.pdq.hex
    if part.pixels is not None:
        yield "flip_h", hash_rgb_or_l(np.ascontiguousarray(part.pixels[:, ::-1])).hex


T = TypeVar("T")


def match_parts(parts: list[Part], whole: Callable[[Part], list[T]],
                within: Callable[[Box], list[T]]) -> list[T]:  # fmt: skip
    """What the parts of a query hold: each cell ``whole`` (by its PDQ), or else what is
    found ``within`` it (robust matching in that box). Insets are alternatives for one
    picture: the first found whole, or else what is found within the first of the best
    SEARCHED_INSETS that holds any, if well supported (SEARCH_SUPPORT: a search costs as
    much as the query's own)."""
    found: list[T] = []
    cells = [p for p in parts if not p.inset]
    for part in cells:
        # a picture inside margins that fills half the query or more was searched with it
        alone = len(cells) == 1 and _area(part.box) >= SEARCHED_WHOLE
        found += whole(part) or ([] if alone else within(part.box))
    insets = [p for p in parts if p.inset]
    for part in insets:
        if by_pdq := whole(part):
            return found + by_pdq
    for part in insets[:SEARCHED_INSETS]:
        if part.support >= SEARCH_SUPPORT and (there := within(part.box)):
            return found + there
    return found


def _cells(gray: npt.NDArray[np.uint8]) -> list[IntBox]:
    """The cells between gutters, in pixels; none for a single picture."""
    h, w = gray.shape
    mins = (max(MIN_SIDE, round(MIN_SHARE * w)), max(MIN_SIDE, round(MIN_SHARE * h)))
    boxes: list[IntBox] = []
    _split(_Lines(gray), (0, 0, w, h), mins, 0, boxes)
    boxes = [b for b in boxes if _area(b) >= MIN_AREA * w * h]
    if len(boxes) > MAX_PARTS or not boxes:
        return []
    if len(boxes) == 1 and (_area(boxes[0]) > 0.9 * w * h or not _framed(boxes[0], w, h)):
        return []  # one picture, (nearly) the whole image, or beside a plain area: as it is
    return _on_grid(boxes)


def _on_grid(boxes: list[IntBox]) -> list[IntBox]:
    """The cells of a sheet laid out in rows and columns, each widened to its row's and its
    column's extent: a thumbnail whose own plain margin merges with the gutter (a garment on
    white) is otherwise cut short, and its PDQ moves (22 of 297 cells of the benchmark's
    sheets). Left as they are unless every cell has a row and a column of its own and moves
    by at most SNAP_MOVE of its size, overlapping no other."""
    cols, rows = _bands([(b[0], b[2]) for b in boxes]), _bands([(b[1], b[3]) for b in boxes])
    if len(boxes) < 4 or len(set(zip(cols, rows, strict=True))) < len(boxes):
        return boxes
    lo_x = {c: min(b[0] for b, k in zip(boxes, cols, strict=True) if k == c) for c in cols}
    hi_x = {c: max(b[2] for b, k in zip(boxes, cols, strict=True) if k == c) for c in cols}
    lo_y = {r: min(b[1] for b, k in zip(boxes, rows, strict=True) if k == r) for r in rows}
    hi_y = {r: max(b[3] for b, k in zip(boxes, rows, strict=True) if k == r) for r in rows}
    snapped = [(lo_x[c], lo_y[r], hi_x[c], hi_y[r]) for c, r in zip(cols, rows, strict=True)]
    for box, new in zip(boxes, snapped, strict=True):
        bw, bh = box[2] - box[0], box[3] - box[1]
        moved = max(abs(new[0] - box[0]) / bw, abs(new[2] - box[2]) / bw,
                    abs(new[1] - box[1]) / bh, abs(new[3] - box[3]) / bh)  # fmt: skip
        others = [o for o in snapped if o is not new]
        if moved > SNAP_MOVE or any(_overlaps(new, o) for o in others):
            return boxes
    return snapped


def _bands(spans: list[tuple[int, int]]) -> list[int]:
    """Which band (column or row) each span falls in: spans whose centres lie within half the
    median span of each other, in order."""
    centres = [(a + b) / 2 for a, b in spans]
    half = sorted(b - a for a, b in spans)[len(spans) // 2] / 2
    order = sorted(range(len(spans)), key=lambda i: centres[i])
    band, out, last = -1, [0] * len(spans), -1e9
    for i in order:
        if centres[i] - last > half:
            band += 1
        out[i], last = band, centres[i]
    return out


def _overlaps(a: IntBox, b: IntBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _close(a: IntBox, b: IntBox, near: float) -> bool:
    return max(abs(u - v) for u, v in zip(a, b, strict=True)) <= near


def _framed(box: IntBox, w: int, h: int) -> bool:
    """Margins on both sides, left and right or top and bottom (a letterbox, a frame), not
    on one side only (a plain area beside a picture, as where part of it was painted over)."""
    x0, y0, x1, y1 = box
    return (x0 > 0 and x1 < w) or (y0 > 0 and y1 < h)


def _area(box: Box | IntBox) -> float:
    """In pixels for a box in pixels, as a share of the image for one in fractions."""
    return (box[2] - box[0]) * (box[3] - box[1])


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The runs of True (half-open)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(),
                    strict=True))  # fmt: skip


def _spans(lines_std: npt.NDArray[np.float64], least: int) -> list[tuple[int, int]]:
    """The runs of content between gutters (half-open) at least ``least`` long: a flat run
    thinner than MIN_GUTTER is content, a run of content thinner than ``least`` (a caption's
    line of text) is neither a part nor a cut."""
    flat = lines_std < GUTTER_STD
    for a, b in _runs(flat):
        if b - a < MIN_GUTTER:
            flat[a:b] = False
    return [(a, b) for a, b in _runs(~flat) if b - a >= least]


class _Lines:
    """The standard deviation of any row's or column's pixels within a box, read from the
    image's integral images (the cuts within cuts then cost nothing like a pass each)."""

    def __init__(self, gray: npt.NDArray[np.uint8]) -> None:
        total, squares = cv2.integral2(gray)  # int32 sums, float64 squares
        self.total = np.asarray(total, np.int32)
        self.squares = np.asarray(squares, np.float64)

    def std(self, box: IntBox, axis: int) -> npt.NDArray[np.float64]:
        """Each row's (``axis`` 1) or column's (``axis`` 0) within ``box``."""
        x0, y0, x1, y1 = box
        n = x1 - x0 if axis == 1 else y1 - y0
        mean, square = (self._sums(s, box, axis) / n for s in (self.total, self.squares))
        return np.sqrt(np.maximum(square - mean * mean, 0.0))

    @staticmethod
    def _sums(t: npt.NDArray[np.int32] | npt.NDArray[np.float64], box: IntBox, axis: int
              ) -> npt.NDArray[np.float64]:  # fmt: skip
        x0, y0, x1, y1 = box
        if axis == 1:  # rows: columns x1 minus x0 of the integral, then line y+1 minus y
            d = t[y0 : y1 + 1, x1] - t[y0 : y1 + 1, x0]
        else:
            d = t[y1, x0 : x1 + 1] - t[y0, x0 : x1 + 1]
        return np.diff(d).astype(np.float64)


def _split(lines: _Lines, box: IntBox, mins: tuple[int, int], depth: int,
           out: list[IntBox]) -> None:  # fmt: skip
    """Cut ``box`` at its gutters, rows first, then columns, into ``out``."""
    x0, y0, x1, y1 = box
    rows = _spans(lines.std(box, 1), mins[1])
    cols = _spans(lines.std(box, 0), mins[0])
    if not rows or not cols:
        return  # nothing here large enough to be a picture
    if depth >= DEPTH or (len(rows) == 1 and len(cols) == 1
                          and rows[0] == (0, y1 - y0) and cols[0] == (0, x1 - x0)):  # fmt: skip
        out.append((x0 + cols[0][0], y0 + rows[0][0], x0 + cols[-1][1], y0 + rows[-1][1]))
        return
    if len(rows) > 1 or len(cols) == 1:
        for a, b in rows:
            _split(lines, (x0, y0 + a, x1, y0 + b), mins, depth + 1, out)
    else:
        for a, b in cols:
            _split(lines, (x0 + a, y0, x0 + b, y1), mins, depth + 1, out)
