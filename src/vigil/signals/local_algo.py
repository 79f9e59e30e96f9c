"""Local features for robust matching: ORB keypoints, their index keys, and a grid of DoG signs.

An image's :data:`POOL_FEATURES` strongest keypoints are extracted; a known image keeps at most
:data:`KNOWN_FEATURES` of them, spread over a 4x4 grid so that a crop or a replaced region cannot
take them all, and a query searches with :data:`QUERY_FEATURES`, spread the same way. Each
256-bit ORB descriptor gives two 24-bit index keys and a 24-bit check (bits chosen on the shared
benign photos by ``bench/train_local_keys.py``: stable under the everyday transforms, rarely
shared by unrelated photos). The DoG grid (32x32 signs of a difference of Gaussians) lets a
candidate be verified densely once the keypoints have aligned it: which part of the known image
is really present in the query.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from vigil.signals.band import area_band, band_product

__all__ = [
    "GRID",
    "KNOWN_CELLS",
    "KNOWN_FEATURES",
    "POOL_FEATURES",
    "QUERY_FEATURES",
    "DogReader",
    "Features",
    "apply_transform",
    "dog_samples",
    "extract",
    "feature_keys",
    "head",
    "mirrored",
    "normalized_gray",
    "pack_record",
    "spread",
    "unpack_record",
]

KNOWN_FEATURES = 40
KNOWN_CELLS = 4  # spread over a 4 x 4 grid
POOL_FEATURES = 500  # the strongest keypoints of an image, that both sides spread theirs from
# (600 let weaker, less repeatable keypoints into a known image's 40: -1.4 points on reduced crops)
QUERY_FEATURES = 300  # spread: as many true matches as all 500, with 40% fewer lookups
GRID = 32  # DoG signs sampled on a GRID x GRID lattice of the known image
MAX_SIDE = 1024  # larger images are reduced to this before feature extraction
MIN_SIDE = 400  # smaller ones are enlarged to this (ORB needs some pixels per feature)
DECODE_MIN_SIDE = 360  # a large JPEG may be decoded at reduced scale down to this short side
# (a 12 MP photo at 1/8: 378 x 504, near the scale of the known images it may show; at 1/4 its
# keypoints sat two pyramid levels from theirs: 0.45 -> 0.70 of known photos found)
FAST_THRESHOLD = 14  # FAST's corner contrast, both sides: 8 cost 1.3 ms more a query for no recall
VERSION = 1
_HEADER = struct.Struct("<BBHH")  # version, feature count, width, height

# Bits of the ORB descriptor used as keys and check (see bench/train_local_keys.py).
KEY_A = (98, 31, 195, 127, 141, 56, 153, 163, 204, 196, 17, 129,
         162, 178, 152, 10, 37, 67, 11, 165, 43, 64, 131, 114)  # fmt: skip
KEY_B = (227, 185, 44, 160, 69, 42, 126, 65, 21, 68, 223, 110,
         111, 171, 123, 225, 202, 232, 52, 74, 154, 142, 237, 124)  # fmt: skip
KEYS = (KEY_A, KEY_B)  # one index table per key
CHECK = tuple(b for b in range(256) if all(b not in k for k in KEYS))[:24]

# One thread: Vigil parallelises by process (scan, service workers), and OpenCV's own thread pool
# would both oversubscribe the cores and deadlock processes forked after it started.
cv2.setNumThreads(0)

_W24 = (1 << np.arange(24, dtype=np.uint64)).astype(np.uint64)


@dataclass(frozen=True)
class Features:
    """Keypoints in pixels of the normalised image (``size``: its width and height)."""

    points: npt.NDArray[np.float32]  # (n, 2) x, y
    descriptors: npt.NDArray[np.uint8]  # (n, 32)
    size: tuple[int, int]
    # (n, 3) each keypoint's ORB size, angle and pyramid level, where they were extracted here
    # (a query's: to describe them mirrored); None when read from a record
    shape: npt.NDArray[np.float32] | None = None

    @classmethod
    def none(cls, size: tuple[int, int]) -> Features:
        return cls(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size)

    def __add__(self, other: Features) -> Features:
        """These keypoints followed by ``other``'s (of the same image)."""
        points = np.concatenate([self.points, other.points])
        return Features(points, np.concatenate([self.descriptors, other.descriptors]), self.size)

    def take(self, pick: npt.NDArray[np.intp] | slice) -> Features:
        """The keypoints at ``pick``, in its order."""
        shape = None if self.shape is None else self.shape[pick]
        return Features(self.points[pick], self.descriptors[pick], self.size, shape)


def normalized_gray(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The image at the working scale: long side at most MAX_SIDE and at least MIN_SIDE."""
    h, w = gray.shape
    long_side = max(w, h)
    scale = MAX_SIDE / long_side if long_side > MAX_SIDE else MIN_SIDE / long_side
    if long_side >= MIN_SIDE and long_side <= MAX_SIDE:
        return np.ascontiguousarray(gray)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(gray, size, interpolation=interp), dtype=np.uint8)


SCALE_FACTOR = 1.2  # between ORB's pyramid levels


def _orb(n: int, levels: int, fast: int) -> cv2.ORB:
    return cv2.ORB.create(
        nfeatures=n,
        scaleFactor=SCALE_FACTOR,
        nlevels=levels,
        edgeThreshold=15,
        patchSize=15,
        fastThreshold=fast,
    )


def extract(
    gray: npt.NDArray[np.uint8],
    n: int = POOL_FEATURES,
    levels: int = 7,
    fast: int = FAST_THRESHOLD,
) -> Features:
    """The ``n`` strongest ORB keypoints of a normalised grey image, over ``levels`` scales
    1.2x apart, among corners of FAST contrast ``fast`` or more."""
    h, w = gray.shape
    keypoints, desc = _orb(n, levels, fast).detectAndCompute(gray, None)
    if desc is None or not keypoints:
        return Features.none((w, h))
    points = np.asarray(cv2.KeyPoint.convert(keypoints), dtype=np.float32).reshape(-1, 2)
    read = np.array([(kp.response, kp.size, kp.angle, kp.octave) for kp in keypoints], np.float32)
    shape = read[:, 1:]
    order = np.argsort(-read[:, 0], kind="stable")
    ordered = np.ascontiguousarray(desc[order], np.uint8)
    return Features(points[order], ordered, (w, h), shape[order])


def mirrored(feats: Features, gray: npt.NDArray[np.uint8], levels: int = 7) -> Features:
    """``feats`` (extracted from ``gray`` over ``levels`` scales) in ``gray`` mirrored left to
    right: the same corners, described there. ORB's descriptors are not symmetric, so a
    mirrored copy's keypoints are found again but read differently; describing the known
    corners mirrored costs a quarter of extracting them anew, and leaves the index as it is.
    Keypoints ORB cannot describe there (too near a border) are left out."""
    w, h = feats.size
    if feats.shape is None or not len(feats.points):
        return Features.none((w, h))
    flipped = np.ascontiguousarray(gray[:, ::-1])
    octave = feats.shape[:, 2].astype(np.intp)
    given = [  # from lists: reading numpy's scalars one by one took 4x as long
        cv2.KeyPoint(x, y, size, (180 - a) % 360, 0, lv)
        for x, y, size, a, lv in zip(_mirrored_x(feats.points[:, 0], octave, w).tolist(),
                                     feats.points[:, 1].tolist(), feats.shape[:, 0].tolist(),
                                     feats.shape[:, 1].tolist(), octave.tolist(), strict=True)
    ]  # fmt: skip
    keypoints, desc = _orb(len(given), levels, FAST_THRESHOLD).compute(flipped, given)
    if desc is None or not keypoints:
        return Features.none((w, h))
    points = np.asarray(cv2.KeyPoint.convert(keypoints), dtype=np.float32).reshape(-1, 2)
    return Features(points, np.ascontiguousarray(desc, np.uint8), (w, h))


def _mirrored_x(x: npt.NDArray[np.float32], octave: npt.NDArray[np.intp], w: int
                ) -> npt.NDArray[np.float64]:  # fmt: skip
    """Where ORB reads keypoints found at ``x`` (in pixels of an image ``w`` wide, at their
    ``octave``) in the image mirrored: the mirrored pixel of their own pyramid level, which
    ORB sizes by rounding (``w - 1 - x`` is up to a pixel of that level off, and a descriptor
    read a pixel off is another: a third of the coarsest level's keypoints read wrong)."""
    scale = (SCALE_FACTOR ** octave.astype(np.float64)).astype(np.float32)  # as ORB's own
    level_w = np.round(w / scale)
    return ((level_w - 1 - np.round(x / scale)) * scale).astype(np.float64)


def spread(feats: Features, k: int = KNOWN_FEATURES, cells: int = KNOWN_CELLS) -> Features:
    """``k`` of the keypoints (strongest first, as :func:`extract` orders them) spread over a
    ``cells`` x ``cells`` grid of the image: the strongest of each cell, then the second
    strongest of each, and so on, in order of strength within a round. So the first ``j``
    keypoints of a spread are the spread of ``j`` over the same grid."""
    n = len(feats.points)
    w, h = feats.size
    cx = np.minimum((feats.points[:, 0] * cells / w).astype(np.intp), cells - 1)
    cy = np.minimum((feats.points[:, 1] * cells / h).astype(np.intp), cells - 1)
    cell = cy * cells + cx
    by_cell = np.argsort(cell, kind="stable")  # by cell, strongest first within one
    in_cell = cell[by_cell]
    rank = np.arange(n) - np.searchsorted(in_cell, in_cell)
    pick = by_cell[np.argsort(rank * n + by_cell)][:k]  # by round, then strength
    return feats.take(pick)


def head(feats: Features, k: int) -> Features:
    """The first ``k`` keypoints."""
    return feats.take(slice(0, k))


def _bits_value(bits: npt.NDArray[np.uint8], which: tuple[int, ...]) -> npt.NDArray[np.uint32]:
    return (bits[:, list(which)].astype(np.uint64) @ _W24[: len(which)]).astype(np.uint32)


def feature_keys(
    desc: npt.NDArray[np.uint8],
) -> tuple[list[npt.NDArray[np.uint32]], npt.NDArray[np.uint32]]:
    """The 24-bit index keys (one per table) and the 24-bit check of each descriptor."""
    bits = np.unpackbits(desc, axis=1)
    return [_bits_value(bits, k) for k in KEYS], _bits_value(bits, CHECK)


@lru_cache(maxsize=256)
def _grid_points(kw: int, kh: int) -> npt.NDArray[np.float64]:
    """The GRID x GRID sampling points of a known image of size (kw, kh), row by row."""
    gx, gy = np.meshgrid((np.arange(GRID) + 0.5) * kw / GRID, (np.arange(GRID) + 0.5) * kh / GRID)
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    pts.flags.writeable = False  # shared by every call
    return pts


def apply_transform(m: npt.NDArray[np.float64], pts: npt.NDArray[np.float64]
                    ) -> npt.NDArray[np.float64]:  # fmt: skip
    """Points through a 2x3 similarity or a 3x3 homography."""
    out = pts @ m[:, :2].T + m[:, 2]
    if m.shape[0] == 3:
        out = out[:, :2] / out[:, 2:3]
    return np.asarray(out, np.float64)


def dog_samples(
    gray: npt.NDArray[np.float32],
    transform: npt.NDArray[np.float64] | None,
    known: tuple[int, int],
    picture: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Signs of a difference of Gaussians at the GRID x GRID points of a known image of size
    ``known``, read from ``gray`` through ``transform`` (known pixels -> gray pixels; None for
    the known image itself). Returns the signs and which points fall inside ``gray`` (and
    on ``picture``, where given: a mask of ``gray``'s size)."""
    diff, inside = DogReader.at(gray, transform, known).read(transform, known, picture)
    return diff > 0, inside


@dataclass(frozen=True)
class DogReader:
    """An image's difference of Gaussians at the scale of one known image in it, to read at
    that image's grid points through a transform (or several near one another: the blurs
    are made once).

    The image is first reduced so that a grid cell spans about 4 pixels: the blurs stay small
    whatever the image size."""

    fine: npt.NDArray[np.float32]
    coarse: npt.NDArray[np.float32]
    size: tuple[int, int]  # the image's width and height, before it was reduced

    @classmethod
    def at(cls, gray: npt.NDArray[np.float32], transform: npt.NDArray[np.float64] | None,
           known: tuple[int, int]) -> DogReader:  # fmt: skip
        h, w = gray.shape
        scale = 1.0 if transform is None else float(np.hypot(transform[0, 0], transform[1, 0]))
        cell = scale * max(known) / GRID  # a grid cell, in pixels of gray
        factor = min(1.0, 4.0 / max(cell, 1e-6))
        small = gray
        if factor < 1.0:  # OpenCV's INTER_AREA, reading only each output's band (4x faster)
            sw, sh = max(1, round(w * factor)), max(1, round(h * factor))
            src = np.ascontiguousarray(gray, dtype=np.float32)
            small = band_product(src, *area_band(h, sh), *area_band(w, sw))
        sigma = 0.5 * cell * factor
        fine = np.asarray(cv2.GaussianBlur(small, (0, 0), sigma), np.float32)
        coarse = np.asarray(cv2.GaussianBlur(small, (0, 0), sigma * 2.5), np.float32)
        return cls(fine, coarse, (w, h))

    def read(self, transform: npt.NDArray[np.float64] | None, known: tuple[int, int],
             picture: npt.NDArray[np.bool_] | None = None
             ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:  # fmt: skip
        """The difference at the known image's grid points, and which points fall inside the
        image (and on ``picture``, where given)."""
        w, h = self.size
        pts = _grid_points(*known)
        if transform is not None:
            pts = apply_transform(transform, pts)
        inside = (pts[:, 0] >= 1) & (pts[:, 0] < w - 1) & (pts[:, 1] >= 1) & (pts[:, 1] < h - 1)
        sx, sy = self.fine.shape[1] / w, self.fine.shape[0] / h
        mx = (pts[:, 0] * sx).reshape(GRID, GRID).astype(np.float32)
        my = (pts[:, 1] * sy).reshape(GRID, GRID).astype(np.float32)
        fine = cv2.remap(self.fine, mx, my, cv2.INTER_LINEAR)
        diff = fine - cv2.remap(self.coarse, mx, my, cv2.INTER_LINEAR)
        if picture is not None:  # and where the image shows the picture, not a canvas around it
            px = np.clip(np.round(pts[:, 0]).astype(np.intp), 0, w - 1)
            py = np.clip(np.round(pts[:, 1]).astype(np.intp), 0, h - 1)
            inside &= picture[py, px]
        return np.asarray(diff.ravel(), np.float32), inside


def pack_record(features: Features, grid: npt.NDArray[np.bool_]) -> str:
    """A known image's robust signal value: header, DoG grid, positions, descriptors (hex)."""
    w, h = features.size
    n = len(features.points)
    pos = np.round(features.points / np.array([w, h], np.float32) * 65535)
    parts = [
        _HEADER.pack(VERSION, n, w, h),
        np.packbits(grid.astype(np.uint8)).tobytes(),
        np.clip(pos, 0, 65535).astype("<u2").tobytes(),
        features.descriptors.tobytes(),
    ]
    return b"".join(parts).hex()


def unpack_record(raw: bytes) -> tuple[Features, npt.NDArray[np.uint8]]:
    """The features and packed DoG grid of a record; ValueError if it is malformed."""
    if len(raw) < _HEADER.size:
        raise ValueError("record too short")
    version, n, w, h = _HEADER.unpack_from(raw)
    grid_bytes = GRID * GRID // 8
    expected = _HEADER.size + grid_bytes + n * 4 + n * 32
    if version != VERSION or len(raw) != expected or w == 0 or h == 0:
        raise ValueError(f"bad record (version {version}, {len(raw)} bytes, expected {expected})")
    off = _HEADER.size
    grid = np.frombuffer(raw, np.uint8, grid_bytes, off)
    off += grid_bytes
    pos = np.frombuffer(raw, "<u2", n * 2, off).reshape(n, 2).astype(np.float32)
    desc = np.frombuffer(raw, np.uint8, n * 32, off + n * 4).reshape(n, 32)
    points = (pos / 65535 * np.array([w, h], np.float32)).astype(np.float32)
    return Features(points, desc.copy(), (w, h)), grid.copy()
