"""``vlocal``: Vigil's robust image signal (keypoints plus a DoG grid), for altered copies.

The value of a known image (what lists carry) is a hex record of up to 40 spread keypoints
and the 32x32 DoG grid; see :mod:`vigil.signals.local_algo`. A query needs more than its value:
matching reads 300 keypoints (and 500 more of a small image, enlarged) and the image itself (to
verify candidates densely), so computing the signal for a query keeps them in
:attr:`SignalValue.payload`.
Robust matching therefore needs the image (or video frame), not only a hash sent by a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import InvalidSignal
from vigil.signals.base import Content, SignalExample, SignalType, SignalValue, registry
from vigil.signals.local_algo import (
    DECODE_MIN_SIDE,
    FAST_THRESHOLD,
    KNOWN_CELLS,
    KNOWN_FEATURES,
    POOL_FEATURES,
    QUERY_FEATURES,
    Features,
    dog_samples,
    extract,
    head,
    mirrored,
    normalized_gray,
    pack_record,
    spread,
    unpack_record,
)
from vigil.signals.parts import Part, find_parts
from vigil.signals.pdq import example_image
from vigil.signals.upright import fill_rotation, turned

__all__ = ["LocalQuery", "Upright", "VLocal", "analyse", "enlarged_keypoints", "part_query"]

MIN_FEATURES = 8  # fewer keypoints than this: too little texture to match robustly
SMALL_QUERY = 400  # a query whose short side is under this (as decoded) ...
ENLARGE = 1.4  # ... is also searched at this scale: copies are often reduced
ENLARGED_FEATURES = 500  # the enlarged pass's strongest (spreading them cost recall on resize_0.5)
ENLARGED_LEVELS = 7  # fewer (3) cost 6 points of recall on reduced crops for 2 ms
# the enlarged image's corners are softer: FAST 8 (11 saved 0.7 ms for -0.6 points on reduced
# crops), for stills and video frames alike
ENLARGED_FAST = 8


@dataclass(frozen=True)
class _Extraction:
    """How keypoints are taken from one kind of image."""

    fast: int  # FAST threshold
    pool: int  # the strongest keypoints extracted; the known side spreads its 40 from them
    query: int  # the query's, spread over a cells x cells grid
    cells: int


# Stills: FAST 14 (8 cost 1.3 ms more a query for no recall).
STILL = _Extraction(FAST_THRESHOLD, POOL_FEATURES, QUERY_FEATURES, KNOWN_CELLS)
# Video frames are compressed and often soft (issue 6's recall was measured at FAST 8), and a
# logo or caption box would take most of the strongest keypoints: 500 spread 8x8 from 1,000.
VIDEO = _Extraction(8, 1000, 500, 8)

MIRROR_FEATURES = 150  # a query's mirrored pass: the spread of 150 (all 300: +0.6 ms at 1M)


@dataclass(frozen=True)
class LocalQuery:
    """What robust matching reads from a query image: its keypoints and its normalised grey
    image. A small image (maybe a reduced copy) is also searched enlarged: those keypoints,
    :attr:`enlarged`, are computed when first read, which an image search does only when
    its first pass did not already find the query as a whole
    (:func:`vigil.matching.robust_search.search`)."""

    features: Features
    gray: npt.NDArray[np.uint8]  # 8 bits: cheap to send from a scan worker to the matcher
    small: bool = False
    native: npt.NDArray[np.uint8] | None = None  # the image as decoded, where gray enlarged it
    picture: npt.NDArray[np.bool_] | None = None  # where gray shows a picture, if not all of it
    mirror_of: LocalQuery | None = None  # the query this one is mirrored from
    mirror_features: int = MIRROR_FEATURES  # how many keypoints its mirrored pass reads
    reduced: bool = False  # a large photo decoded at a reduced scale (libjpeg's DCT scaling)

    @cached_property
    def enlarged(self) -> Features:
        """The keypoints of the image enlarged ENLARGE times, in its own pixels (none unless
        it is small)."""
        found = self._enlarged_pass
        return Features.none(self.features.size) if found is None else found.scaled(self.gray)

    @cached_property
    def own_size(self) -> Features:
        """The keypoints of the image at its own size, in :attr:`gray`'s pixels, where
        normalising enlarged it (none otherwise)."""
        found = self._own_pass
        return Features.none(self.features.size) if found is None else found.scaled(self.gray)

    @cached_property
    def _enlarged_pass(self) -> _Pass | None:
        if not self.small:
            return None
        if self.mirror_of is not None:  # described mirrored: a quarter of extracting anew
            return _mirrored_pass(self.mirror_of._enlarged_pass)
        return _enlarged(self.gray)

    @cached_property
    def _own_pass(self) -> _Pass | None:
        """A crop of a known image shows the known keypoints at their indexed scale only at
        its own size (enlarged 1.5 times, their descriptors differed in 17 bits of 256
        against 4; 58% of the known keypoints in view were keyed against 24%)."""
        if self.native is None:
            return None
        if self.mirror_of is not None:
            return _mirrored_pass(self.mirror_of._own_pass)
        feats = extract(self.native, STILL.pool, fast=STILL.fast)
        return _Pass(self.native, spread(feats, STILL.query, STILL.cells), 7)

    @property
    def enlargement(self) -> float:
        """How much :attr:`gray` enlarged the image as decoded (1 where it did not)."""
        return 1.0 if self.native is None else self.gray.shape[1] / self.native.shape[1]

    @cached_property
    def mirrored(self) -> Features:
        """:attr:`features` in the image mirrored left to right, in its pixels: what a known
        image's keypoints look like when the query is a mirrored copy of it."""
        return mirrored(head(self.features, self.mirror_features), self.gray)

    def flipped(self) -> LocalQuery:
        """The query mirrored left to right: :attr:`mirrored`'s keypoints, and where the
        query is small its enlarged pass (and where normalising enlarged it, its own-size
        pass), their keypoints described in the mirrored images when first read. (A small
        query that normalising left as it is, such as 512 x 341, was mirrored once until
        2026-12: 22 of 300 reduced crops were missed mirrored and found unmirrored.) A large
        photo decoded reduced (12 megapixels at 504 x 378) is mirrored once: its enlarged
        pass would add 6-10 ms to every unrelated phone photo."""
        native = None if self.native is None else np.ascontiguousarray(self.native[:, ::-1])
        gray = np.ascontiguousarray(self.gray[:, ::-1])
        small = self.small and not self.reduced
        return LocalQuery(self.mirrored, gray, small, native, mirror_of=self,
                          mirror_features=self.mirror_features)  # fmt: skip

    @cached_property
    def upright(self) -> list[Upright]:
        """The query turned back upright, where it shows a picture rotated on a plain canvas
        (:mod:`vigil.signals.upright`); at 45 degrees either way, both ways. Empty otherwise."""
        seen = self._canvas
        if seen is None:
            return []
        angle, picture = seen
        angles = [angle] + ([angle - float(np.copysign(90.0, angle))] if abs(angle) > 40 else [])
        return [u for a in angles if (u := Upright.of(self.gray, picture, a)) is not None]

    @cached_property
    def _canvas(self) -> tuple[float, npt.NDArray[np.bool_]] | None:
        """The rotation a plain canvas around the picture shows, and where the picture is
        (:func:`~vigil.signals.upright.fill_rotation`; a mirrored query's, from its own)."""
        if self.mirror_of is None:
            return fill_rotation(self.gray)
        seen = self.mirror_of._canvas
        return None if seen is None else (-seen[0], np.ascontiguousarray(seen[1][:, ::-1]))

    @cached_property
    def parts(self) -> list[Part]:
        """The cells of the image if it is a contact sheet, grid or collage (each with its
        PDQ), or the picture inside its margins; none for a single picture."""
        return find_parts(self.gray)

    @property
    def widened(self) -> Features:
        """:attr:`features` followed by :attr:`enlarged`."""
        return self.features + self.enlarged if self.small else self.features


@dataclass(frozen=True)
class _Pass:
    """Keypoints extracted from an image other than the query's normalised one (enlarged, or
    at its own size), in that image's pixels, over ``levels`` scales."""

    image: npt.NDArray[np.uint8]
    feats: Features
    levels: int

    def scaled(self, gray: npt.NDArray[np.uint8]) -> Features:
        """The keypoints in ``gray``'s pixels."""
        h, w = gray.shape
        factor = np.float32(w / self.image.shape[1])
        return Features(self.feats.points * factor, self.feats.descriptors, (w, h))


def _mirrored_pass(found: _Pass | None) -> _Pass | None:
    """``found``'s keypoints described in its image mirrored left to right."""
    if found is None:
        return None
    image = np.ascontiguousarray(found.image[:, ::-1])
    return _Pass(image, mirrored(found.feats, found.image, found.levels), found.levels)


@dataclass(frozen=True)
class Upright:
    """A query turned back by the angle its canvas shows: what to search, and the 2x3
    transform from its pixels to the query's."""

    query: LocalQuery  # its picture: where it is not canvas
    to_query: npt.NDArray[np.float64]

    @classmethod
    def of(cls, gray: npt.NDArray[np.uint8], picture: npt.NDArray[np.bool_],
           angle: float) -> Upright | None:  # fmt: skip
        """``gray`` (a query's normalised image, ``picture`` where it is not canvas) turned
        back by ``angle``; None if it has too few keypoints."""
        img, shown, to_gray = turned(gray, picture, angle)
        norm = normalized_gray(img)
        if norm.shape != img.shape:
            size = (norm.shape[1], norm.shape[0])
            shown = cv2.resize(shown.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            to_gray = to_gray * np.array([img.shape[1] / norm.shape[1]] * 2 + [1.0])
        feats = spread(extract(norm, STILL.pool, fast=STILL.fast), STILL.query, STILL.cells)
        if len(feats.points) < MIN_FEATURES:
            return None
        # signs read within a few pixels of the canvas see its edge: not picture either
        kernel = np.ones((2 * EDGE + 1, 2 * EDGE + 1), np.uint8)
        picture = cv2.erode(shown.astype(np.uint8), kernel) > 0
        return cls(LocalQuery(feats, norm, picture=picture), to_gray)


def analyse(
    gray: npt.NDArray[np.uint8], query: bool, spread_query: bool = False, reduced: bool = False
) -> tuple[str, int, LocalQuery | None]:
    """One pass over a grey image: the known-side record (and how many keypoints it holds),
    and with ``query`` what matching reads (more keypoints when the image is small).

    A query's keypoints are spread over a grid like the known side's, so that texture in one
    part of the image (a screenshot's interface, a caption) cannot take them all. With
    ``spread_query`` (video frames) the grid is 8x8 and the pool twice the query: a logo or
    caption box with hard edges otherwise takes most of the strongest keypoints, leaving few
    on the footage under it."""
    norm = normalized_gray(gray)
    how = VIDEO if spread_query else STILL
    feats = extract(norm, how.pool, fast=how.fast)
    wide = spread(feats, how.query, cells=how.cells) if query else None
    if wide is not None and how.cells == KNOWN_CELLS:
        known = head(wide, KNOWN_FEATURES)  # a spread starts with the spread of fewer
    else:
        known = spread(feats)
    signs, _ = dog_samples(norm.astype(np.float32), None, known.size)
    found = None
    if wide is not None:
        small = min(gray.shape) < SMALL_QUERY  # maybe a reduced copy: look at it enlarged too
        # a still that normalising enlarged is also searched at its own size (video frames
        # are compared with frames hashed at the same size)
        enlarged = small and how is STILL and norm.shape[1] > gray.shape[1]
        native = np.ascontiguousarray(gray) if enlarged else None
        found = LocalQuery(wide, norm, small, native, reduced=reduced)
    return pack_record(known, signs), len(known.points), found


EDGE = 4  # pixels of a turned query's picture next to its canvas, not verified
PART_SIDE = 560  # a part's long side when searched (a small query's enlarged pass: 400 x 1.4)


def part_query(crop: npt.NDArray[np.uint8]) -> LocalQuery | None:
    """What robust matching reads from one part of a composite image (a reduced picture):
    the part brought to PART_SIDE on its long side (where a small query's enlarged pass
    looks) and its keypoints taken as a still's, in one pass; None if it has too few. A
    small query's two passes cost 4 times as much a part (550 ms for an unrelated 4x4
    sheet); FAST 8, or 500 keypoints, 1.5 and 2.3 times, and found no more on the tests'
    sheet."""
    h, w = crop.shape
    factor = max(1.0, PART_SIDE / max(h, w, 1))
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    big = normalized_gray(np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR),
                                     np.uint8))  # fmt: skip
    feats = spread(extract(big, STILL.pool, fast=STILL.fast), STILL.query, STILL.cells)
    if len(feats.points) < MIN_FEATURES:
        return None
    # mirrored with all its keypoints: a part is searched only where its PDQ found nothing
    return LocalQuery(feats, big, mirror_features=len(feats.points))


def enlarged_keypoints(norm: npt.NDArray[np.uint8]) -> Features:
    """The ENLARGED_FEATURES strongest keypoints of ``norm`` enlarged ENLARGE times, in
    ``norm``'s pixels."""
    return _enlarged(norm).scaled(norm)


def _enlarged(norm: npt.NDArray[np.uint8]) -> _Pass:
    h, w = norm.shape
    size = (round(w * ENLARGE), round(h * ENLARGE))
    big = np.asarray(cv2.resize(norm, size, interpolation=cv2.INTER_LINEAR), np.uint8)
    return _Pass(big, extract(big, ENLARGED_FEATURES, ENLARGED_LEVELS, ENLARGED_FAST),
                 ENLARGED_LEVELS)  # fmt: skip


@registry.register
class VLocal(SignalType):
    name = "vlocal"
    kind = "local"
    indexed_by = "local"
    large = True
    applies_to = "image"
    bits = 0
    description = "Vigil robust signal: keypoints and DoG grid, matched with verification"

    @classmethod
    def normalize(cls, value: str, source: str = "value") -> str:
        v = value.strip().lower()
        try:
            unpack_record(bytes.fromhex(v))
        except ValueError as exc:
            raise InvalidSignal(source, f"vlocal: not a valid record ({exc})") from exc
        return v

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else 256

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        img = content.image(DECODE_MIN_SIDE)
        value, n, query = analyse(img.gray, query=content.variants, reduced=img.scale > 1)
        usable = n >= MIN_FEATURES
        note = f"{n} keypoints" if usable else f"{n} keypoints < {MIN_FEATURES}: too plain to match"
        payload = query if usable else None
        return SignalValue(cls.name, value, None, usable, note, payload=payload)

    @classmethod
    def examples(cls) -> list[SignalExample]:
        content = example_image(5, (320, 240))
        gray = np.asarray(Content(content, "example").image().image.convert("L"), np.uint8)
        # ORB's output depends on OpenCV's build, so the example pins determinism only; what
        # vlocal finds (and misses) is asserted in tests/test_robust.py
        return [SignalExample(content, analyse(gray, query=False)[0])]
