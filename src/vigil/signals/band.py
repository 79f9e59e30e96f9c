"""Separable linear resampling that reads only each output's band of inputs.

PDQ's filter-and-decimate and the DoG grid's area reduction are both ``rows @ image @ cols.T``
with operator matrices that are zero outside a band a few pixels wide: computed densely, the
product spends nearly all its work on zeros.
"""

from __future__ import annotations

from functools import lru_cache
from math import ceil

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["Band", "area_band", "band_of", "band_product", "banded"]

F32 = npt.NDArray[np.float32]
Band = tuple[npt.NDArray[np.int64], F32]  # each output's first input, and its k weights


def band_of(op: npt.NDArray[np.floating]) -> Band:
    """The band form of a dense (outputs x inputs) operator (k: its widest row)."""
    n = op.shape[1]
    nonzero = op != 0
    lo = nonzero.argmax(axis=1)
    hi = n - nonzero[:, ::-1].argmax(axis=1)
    k = max(1, int((hi - lo).max()))
    start = np.minimum(lo, n - k).astype(np.int64)
    weights = np.take_along_axis(op, start[:, None] + np.arange(k), axis=1)
    return start, np.ascontiguousarray(weights, dtype=np.float32)


@lru_cache(maxsize=256)
def area_band(n_in: int, n_out: int) -> Band:
    """OpenCV's INTER_AREA reduction of ``n_in`` pixels to ``n_out`` (its computeResizeAreaTab:
    each output averages the inputs its cell covers, partial pixels by the part covered), in
    :func:`band_of`'s form, computed row by row without the dense operator (a query's DoG grid
    is read at a new scale for most candidates: 0.2 ms a call saved)."""
    scale = n_in / n_out
    f1 = np.arange(n_out, dtype=np.float64) * scale
    f2 = f1 + scale
    cell = np.minimum(scale, n_in - f1)
    s2 = np.minimum(np.floor(f2), n_in - 1).astype(np.int64)
    s1 = np.minimum(np.ceil(f1).astype(np.int64), s2)
    width = ceil(scale) + 3
    base = s1 - 1  # each row's weights from its input base on
    pos = base[:, None] + np.arange(width)
    w = np.where((pos >= s1[:, None]) & (pos < s2[:, None]), 1.0 / cell[:, None], 0.0)
    left = s1 - f1 > 1e-3
    w[left, 0] = ((s1 - f1) / cell)[left]
    right = np.nonzero(f2 - s2 > 1e-3)[0]
    w[right, (s2 - base)[right]] = (np.minimum(np.minimum(f2 - s2, 1.0), cell) / cell)[right]
    return banded(w, base, n_in)


def banded(w: npt.NDArray[np.float64], base: npt.NDArray[np.int64], n_in: int) -> Band:
    """Rows of weights from inputs ``base`` on, as :func:`band_of` gives the same operator."""
    nonzero = w != 0
    lo = base + nonzero.argmax(axis=1)
    hi = base + w.shape[1] - nonzero[:, ::-1].argmax(axis=1)
    k = max(1, int((hi - lo).max()))
    start = np.minimum(lo, n_in - k).astype(np.int64)
    cols = start[:, None] + np.arange(k) - base[:, None]
    inside = (cols >= 0) & (cols < w.shape[1])
    taken = np.take_along_axis(w, np.clip(cols, 0, w.shape[1] - 1), axis=1)
    return start, np.ascontiguousarray(np.where(inside, taken, 0.0), dtype=np.float32)


@numba.njit(cache=True, nogil=True)
def band_product(
    src: F32,
    row_start: npt.NDArray[np.int64],
    row_weights: F32,
    col_start: npt.NDArray[np.int64],
    col_weights: F32,
) -> F32:  # pragma: no cover - compiled
    """rows @ src @ cols.T for operators in band form."""
    out_h, out_w, width = row_start.shape[0], col_start.shape[0], src.shape[1]
    tmp = np.zeros((out_h, width), np.float32)
    for r in range(out_h):
        for j in range(row_weights.shape[1]):
            weight = row_weights[r, j]
            if weight != 0:
                line = src[row_start[r] + j]
                for x in range(width):
                    tmp[r, x] += weight * line[x]
    out = np.empty((out_h, out_w), np.float32)
    for r in range(out_h):
        for c in range(out_w):
            acc = np.float32(0)
            for j in range(col_weights.shape[1]):
                acc += col_weights[c, j] * tmp[r, col_start[c] + j]
            out[r, c] = acc
    return out
