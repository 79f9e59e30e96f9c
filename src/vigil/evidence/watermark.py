"""Invisible watermarks of the Stable Diffusion reference scripts (``invisible-watermark``'s
``dwtDct`` method), decoded here without that package's PyTorch import.

The encoder takes the U channel of YUV, a one-level Haar wavelet's approximation band, and in
each 4x4 block of it moves the largest coefficient (after the first) so that its magnitude modulo
36 sits a quarter (bit 0) or three quarters (bit 1) of the way through; bit ``i`` of the payload
goes into every block ``n`` with ``n % len == i``. The reference decoder takes each block's hard
bit and a majority per payload bit (:func:`block_bits`, :func:`decode_bits`: the same arithmetic,
vectorised; tests check they agree). After lossy compression that fails: JPEG shifts the phases.

Detection here is soft and coherent instead: each block's phase (its largest coefficient modulo
36, as an angle) is summed per payload bit, and a candidate payload is scored by how coherently
its bit pattern aligns those sums: ``score = |sum_i s_i S_i|^2 / sum_i |S_i|^2`` (``s_i`` = +-1,
``S_i`` the centred phase sum of bit ``i``). Unmarked, the score is about Exp(1) (P(> t) =
e^-t); marked, it grows with the number of blocks. The bits are then read relative to the
common phase, for the bit-agreement score.

That null holds for blocks whose phases are independent, and photos break it: a black or white
border, letterbox bars, a flat background give runs of identical blocks, which land on bits in a
pattern (a column on every ``gcd(row, payload length)``-th bit, a row on a run of them) that a
payload's own structure can echo (ASCII payloads have a 0 every 8th bit). Padded photos scored
up to 16 so (issue 17). A mark, though, aligns with its payload at one offset only; structure in
the picture aligns about as well with the payload rotated. So a payload counts only when its own
alignment scores :data:`MARGIN` times the best of its ``length - 1`` rotations
(:func:`rotations`); on the shared photos and 15 transforms (``bench.watermark``) that took false
detections from 20 in 32,320 to 1.

The same test on the phases high-passed (each block less its neighbours' mean, :func:`high_pass`)
finds marks that JPEG's 4:2:0 chroma left weak, where the picture's own smooth phases drown them:
at 1024 px after JPEG 90 0.84 of marked photos instead of 0.74. Its null is wider (neighbouring
blocks share terms), so it needs a score of :data:`DETECT_HP`; these two thresholds were chosen
on that benchmark, which is where they were also measured.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vigil.evidence.base import Evidence, Extractor, registry
from vigil.evidence.container import FileView

__all__ = [
    "MARKS",
    "Watermark",
    "block_bits",
    "block_grid",
    "block_phases",
    "coherence",
    "decode_bits",
    "detect",
    "found_in",
    "high_pass",
    "rotations",
]

SCALE = 36.0
BLOCK = 4
MIN_PIXELS = 256 * 256  # the reference refuses smaller images
# Larger images are not searched: the marks do not survive resizing, and generators write at
# most a few megapixels, so a 12 MP phone photo cannot carry one (and costs a full decode).
MAX_PIXELS = 2048 * 2048


def _bits(payload: bytes) -> npt.NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(payload, np.uint8))


MARKS: dict[str, npt.NDArray[np.uint8]] = {
    "Stable Diffusion 1.x (StableDiffusionV1)": _bits(b"StableDiffusionV1"),
    "Stable Diffusion 2.x (SDV2)": _bits(b"SDV2"),
    "SDXL (0xB3EC907BB19E)": _bits(bytes.fromhex("B3EC907BB19E")),
}
# Detection threshold on the coherence score: unmarked, P(score > t) is about e^-t (measured on
# the shared photos by bench/watermark.py: lighter-tailed than that, highest 7.2 of 6,000), so
# 10 gives about 1.4e-4 false detections per image over the three payloads.
DETECT = 10.0
STRONG = 40.0
MARGIN = 1.5  # the payload's alignment over the best of its rotations
DETECT_HP = 15.0  # the threshold on high-passed phases (their null is wider)


def _blocks(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """The |coefficients| of each 4x4 block of the U channel's Haar approximation, in order."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    u = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:rows, :cols, 1].astype(np.float64)
    ll = (u[0::2, 0::2] + u[0::2, 1::2] + u[1::2, 0::2] + u[1::2, 1::2]) / 2.0
    br, bc = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    blocks = np.abs(ll[: br * BLOCK, : bc * BLOCK].reshape(br, BLOCK, bc, BLOCK))
    return np.asarray(blocks.transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK))


def _largest(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Each block's largest coefficient after the first: the one the encoder moved."""
    flat = _blocks(bgr)
    return np.asarray(flat[np.arange(len(flat)), np.argmax(flat[:, 1:], axis=1) + 1])


def block_bits(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """The reference's hard bit of each block (for comparison with ``imwatermark``)."""
    return np.asarray((_largest(bgr) % SCALE) > 0.5 * SCALE)


def decode_bits(blocks: npt.NDArray[np.bool_], length: int) -> npt.NDArray[np.uint8]:
    """The ``length``-bit payload: per bit, the majority of the blocks that carry it."""
    idx = np.arange(len(blocks)) % length
    ones = np.bincount(idx, weights=blocks.astype(np.float64), minlength=length)
    count = np.bincount(idx, minlength=length)
    return (ones / np.maximum(count, 1) * 255 > 127).astype(np.uint8)


def _bit_sums(phases: npt.NDArray[np.complex128], length: int) -> npt.NDArray[np.complex128]:
    """The centred phase sum of each payload bit's blocks."""
    idx = np.arange(len(phases)) % length
    centred = phases - phases.mean()
    return np.asarray(
        np.bincount(idx, centred.real, length) + 1j * np.bincount(idx, centred.imag, length)
    )


def rotations(phases: npt.NDArray[np.complex128], payload: npt.NDArray[np.uint8]
              ) -> npt.NDArray[np.float64]:  # fmt: skip
    """The coherence score of ``payload`` rotated by 0, 1, ... ``length - 1`` bits."""
    sums = _bit_sums(phases, len(payload))
    signs = 2.0 * payload - 1.0
    rotated = np.stack([np.roll(signs, k) for k in range(len(payload))])
    totals = rotated @ sums
    return np.asarray(np.abs(totals) ** 2 / max(float(np.sum(np.abs(sums) ** 2)), 1e-12))


def coherence(phases: npt.NDArray[np.complex128], payload: npt.NDArray[np.uint8]
              ) -> tuple[float, float]:  # fmt: skip
    """(score, bit agreement) of ``payload`` against the blocks' unit phases."""
    sums = _bit_sums(phases, len(payload))
    signs = 2.0 * payload - 1.0
    total = complex(np.sum(signs * sums))
    score = abs(total) ** 2 / max(float(np.sum(np.abs(sums) ** 2)), 1e-12)
    aligned = (sums * np.exp(-1j * np.angle(total))).real > 0
    return score, float(np.mean(aligned == payload.astype(bool)))


def high_pass(grid: npt.NDArray[np.complex128]) -> npt.NDArray[np.complex128]:
    """Each block's phase less the mean of its four neighbours' (edges repeated): what a
    smooth picture shares with its neighbours goes, a mark's block-to-block pattern stays."""
    pad = np.pad(grid, 1, mode="edge")
    around = (pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:]) / 4
    return np.asarray(grid - around)


def found_in(grid: npt.NDArray[np.complex128], payload: npt.NDArray[np.uint8]
             ) -> tuple[float, float] | None:  # fmt: skip
    """(score, agreement) when ``payload`` is found in the block grid's phases, else None:
    on the phases as they are (score :data:`DETECT`) or high-passed (:data:`DETECT_HP`), by
    :data:`MARGIN` over the payload's best rotation either way."""
    for phases, threshold in ((grid.ravel(), DETECT), (high_pass(grid).ravel(), DETECT_HP)):
        scores = rotations(phases, payload)
        if scores[0] >= threshold and scores[0] >= MARGIN * scores[1:].max():
            return coherence(phases, payload)
    return None


def detect(
    grid: npt.NDArray[np.complex128],
) -> tuple[tuple[float, float], str, int] | None:
    """((score, agreement), mark, bits) of the mark the block grid carries, or None. A file
    carries one mark; a strong one also scores on the others' bit patterns: the best is
    taken."""
    found = []
    for name, payload in MARKS.items():
        got = found_in(grid, payload)
        if got is not None:
            found.append((got, name, len(payload)))
    return max(found) if found else None


def block_grid(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.complex128]:
    """:func:`block_phases` as the grid of blocks they come from (rows of blocks)."""
    rows = (bgr.shape[0] // 4 * 4 // 2) // BLOCK
    return block_phases(bgr).reshape(rows, -1)


def block_phases(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.complex128]:
    """Each 4x4 block's largest coefficient modulo 36, as a unit complex number."""
    return np.asarray(np.exp(2j * np.pi * (_largest(bgr) % SCALE) / SCALE))


@registry.register
class Watermark(Extractor):
    name = "watermark"
    description = "Stable Diffusion invisible watermarks (dwtDct: SD 1.x, SD 2.x, SDXL)"

    def applies(self, view: FileView) -> bool:
        return view.is_image

    def extract(self, view: FileView) -> list[Evidence]:
        size = view.size
        if size is None or not MIN_PIXELS <= size[0] * size[1] <= MAX_PIXELS:
            return []
        bgr = view.bgr
        if bgr is None or bgr.shape[0] * bgr.shape[1] < MIN_PIXELS:
            return []
        found = detect(block_grid(bgr))
        if found is None:
            return []
        (score, agreement), name, bits = found
        strength = "strong" if score >= STRONG else "moderate"
        value = {"mark": name, "score": round(score, 1), "agreement": round(agreement, 3),
                 "bits": bits}  # fmt: skip
        return [self.item("ai_generated", value, "pixels (dwtDct, U channel)", strength)]
