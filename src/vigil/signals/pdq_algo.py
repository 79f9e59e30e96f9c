"""The PDQ perceptual hash (Meta's published algorithm), in NumPy.

Steps, as in the reference: float luma (0.299 R + 0.587 G + 0.114 B); two passes of a Jarosz
box filter along rows and columns with window ``ceil(n / 128)``; decimation to 64x64 at pixel
centres; quality from the 64x64 gradient sum; a 16x16 DCT (dropping the DC row/column); one bit per
coefficient above the median. Bit ``16*i + j`` is coefficient (i, j); the hex is the 256-bit
integer, most significant nibble first, which is what the reference prints.

The filter-and-decimate is linear and separable: (64 x rows) @ luma @ (cols x 64), with the
operator matrices built once per size; each output row and column reads only its band of a few
pixels (:mod:`vigil.signals.band`), so it costs a fraction of the dense product.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np
import numpy.typing as npt

from vigil.signals.band import Band, band_of, band_product, banded

__all__ = ["DIHEDRAL", "PdqResult", "hash_luma", "hash_rgb_or_l", "pdq_from_buffer"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

DIHEDRAL = ("original", "rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose", "transverse")


def _dct_matrix() -> F64:
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    out: F64 = np.sqrt(2.0 / 64.0) * np.cos((np.pi / 2 / 64.0) * i * (2 * j + 1))
    return out


_DCT = _dct_matrix()
_ODD = np.where(np.arange(1, 17) % 2 == 1, -1.0, 1.0)  # (-1)^i for DCT frequencies i = 1..16


def _window(n: int) -> int:
    return (n + 2 * 64 - 1) // (2 * 64)


def _box_bounds(n: int, window: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each output k, the input range [lo, hi) the reference's box filter averages."""
    half = (window + 2) // 2
    k = np.arange(n)
    lo = np.maximum(0, k - (window - half))
    hi = np.minimum(n, k + half)
    return lo, hi


def _operator(n: int) -> F32:
    """The 64 x n matrix of two box passes followed by decimation, for a side of length n
    (built once per size: :func:`_band` keeps only its band)."""
    if n == 64:
        return np.eye(64, dtype=np.float32)
    lo, hi = _box_bounds(n, _window(n))
    picks = ((np.arange(64) + 0.5) * n / 64).astype(np.int64)
    op = np.zeros((64, n), dtype=np.float64)
    for row, s in enumerate(picks):
        for j in range(int(lo[s]), int(hi[s])):
            op[row, lo[j] : hi[j]] += 1.0 / ((hi[s] - lo[s]) * (hi[j] - lo[j]))
    return op.astype(np.float32)


def _scaled_operator(n_full: int, scale: int) -> F32:
    """The full-size operator summed over blocks of ``scale`` pixels, for a side decoded at
    1/scale (libjpeg's DCT scaling makes each decoded pixel close to the mean of its block)."""
    full = _operator(n_full).astype(np.float64)
    n_small = -(-n_full // scale)
    padded = np.zeros((64, n_small * scale), dtype=np.float64)
    padded[:, :n_full] = full
    out: F32 = padded.reshape(64, n_small, scale).sum(axis=2).astype(np.float32)
    return out


class PdqResult:
    """A PDQ hash (32 bytes), its quality (0-100) and the 64x64 buffer for dihedral variants."""

    __slots__ = ("buffer", "digest", "quality")

    def __init__(self, digest: bytes, quality: int, buffer: F32) -> None:
        self.digest = digest
        self.quality = quality
        self.buffer = buffer

    @property
    def hex(self) -> str:
        return self.digest.hex()

    def dihedral(self) -> dict[str, bytes]:
        """The hashes of the 8 rotations/flips of the image, keyed by :data:`DIHEDRAL` name.

        One DCT serves all eight: reversing the buffer's columns negates the odd-frequency
        columns of the coefficients (cos(pi*i*(127 - 2j)/128) = (-1)^i cos(pi*i*(2j + 1)/128)),
        reversing its rows the odd rows, and transposing it transposes them."""
        c = _coefficients(self.buffer)
        flip_v, flip_h = c * _ODD[:, None], c * _ODD[None, :]
        both, t = flip_v * _ODD[None, :], c.T
        views = [c, t * _ODD[:, None], both, t * _ODD[None, :], flip_h, flip_v, t, both.T]
        return {name: _bits_of(v) for name, v in zip(DIHEDRAL, views, strict=True)}


def _quality(buf: F32) -> int:
    dv = np.trunc((buf[:-1, :] - buf[1:, :]) * 100.0 / 255.0)
    dh = np.trunc((buf[:, :-1] - buf[:, 1:]) * 100.0 / 255.0)
    total = int(np.abs(dv).sum() + np.abs(dh).sum())
    return min(100, total // 90)


def _coefficients(buf: F32) -> F64:
    """The 16x16 DCT coefficients of a 64x64 buffer (DC row and column dropped)."""
    out: F64 = _DCT @ buf.astype(np.float64) @ _DCT.T
    return out


def _bits_of(coeffs: F64) -> bytes:
    flat = coeffs.ravel()
    median = np.partition(flat, 127)[127]  # Torben's median: the 128th smallest
    bits = flat > median
    return np.packbits(bits[::-1]).tobytes()


def pdq_from_buffer(buf: F32) -> PdqResult:
    """Hash a 64x64 float luma buffer (already filtered and decimated)."""
    return PdqResult(_bits_of(_coefficients(buf)), _quality(buf), buf)


def _scaled(n: int, full: int | None, scale: int) -> bool:
    """Whether a side of ``n`` pixels is a 1/scale decode of one of ``full``."""
    return scale > 1 and full is not None and -(-full // scale) == n


def _side_operator(n: int, full: int | None, scale: int) -> F32:
    if full is not None and _scaled(n, full, scale):
        return _scaled_operator(full, scale)
    return _operator(n)


def hash_luma(luma: F32, full_size: tuple[int, int] | None = None, scale: int = 1) -> PdqResult:
    """Hash a 2-D float32 luma array of any size.

    ``full_size`` (width, height) and ``scale``: the array is a 1/scale decode of an image of that
    size; the hash then approximates the full-resolution hash closely.
    """
    rows, cols = luma.shape
    full_w, full_h = full_size if full_size else (None, None)
    row_start, row_weights = _band(rows, full_h, scale)
    col_start, col_weights = _band(cols, full_w, scale)
    luma = np.asarray(luma, dtype=np.float32)
    buf = band_product(luma, row_start, row_weights, col_start, col_weights)
    return pdq_from_buffer(buf)


@lru_cache(maxsize=64)
def _band(n: int, full: int | None, scale: int) -> Band:
    """A side's operator in band form: the dense 64 x n product spent 97% of its work on
    zeros."""
    if _scaled(n, full, scale) or n == 64:  # summed blocks, or the identity
        return band_of(_side_operator(n, full, scale))
    return _operator_band(n)


def _operator_band(n: int) -> Band:
    """:func:`_operator` in band form, built without the dense matrix, summing in the same
    order (identical weights): the parts of a composite image each have a size of their own,
    and building the dense operator cost 0.5 ms a side."""
    lo, hi = _box_bounds(n, _window(n))
    picks = ((np.arange(64) + 0.5) * n / 64).astype(np.int64)
    first, last = lo[picks], hi[picks]
    outer = (last - first).astype(np.float64)
    base = lo[first]  # each row's first input
    pos = base[:, None] + np.arange(int((hi[last - 1] - base).max()))
    w = np.zeros(pos.shape, dtype=np.float64)
    for t in range(int((last - first).max())):  # the j-th box of each row, as _operator adds
        j = np.minimum(first + t, n - 1)
        inside = (pos >= lo[j][:, None]) & (pos < hi[j][:, None]) & (first + t < last)[:, None]
        w += np.where(inside, 1.0 / (outer * (hi[j] - lo[j]))[:, None], 0.0)
    return banded(w.astype(np.float32).astype(np.float64), base.astype(np.int64), n)


def hash_rgb_or_l(
    pixels: npt.NDArray[np.uint8], full_size: tuple[int, int] | None = None, scale: int = 1
) -> PdqResult:
    """Hash an H x W x 3 RGB or H x W greyscale uint8 array (see :func:`hash_luma`)."""
    if pixels.ndim == 2:
        return hash_luma(pixels.astype(np.float32), full_size, scale)
    return hash_luma(_luma(np.ascontiguousarray(pixels)), full_size, scale)


@numba.njit(cache=True, nogil=True)
def _luma(pixels: npt.NDArray[np.uint8]) -> F32:  # pragma: no cover - compiled
    """0.299 R + 0.587 G + 0.114 B in float32 (3x faster than NumPy's matmul, same values to
    an ulp)."""
    h, w, channels = pixels.shape
    flat = pixels.reshape(-1)
    out = np.empty(h * w, np.float32)
    r, g, b = np.float32(0.299), np.float32(0.587), np.float32(0.114)
    for i in range(h * w):
        k = i * channels
        out[i] = r * np.float32(flat[k]) + g * np.float32(flat[k + 1]) + b * np.float32(flat[k + 2])
    return out.reshape(h, w)
