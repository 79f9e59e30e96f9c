"""Invisible watermarks of the Stable Diffusion reference scripts (``invisible-watermark``'s
``dwtDct`` method), decoded here without that package's PyTorch import.

The encoder takes the U channel of YUV, a one-level Haar wavelet's approximation band, and in
each 4x4 block of it moves the largest coefficient (after the first) so that its magnitude modulo
36 is a quarter (bit 0) or three quarters (bit 1) of the way through; bit ``i`` of the payload
goes into every block ``n`` with ``n % len == i``. Decoding reads each block's bit and takes the
majority per payload bit: the same arithmetic as ``imwatermark.WatermarkDecoder`` (tests check
agreement), vectorised, and done once for all three payloads.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vigil.evidence.base import Evidence, Extractor, registry
from vigil.evidence.container import FileView

__all__ = ["MARKS", "Watermark", "block_bits", "decode_bits"]

SCALE = 36.0
BLOCK = 4
MIN_PIXELS = 256 * 256  # the reference refuses smaller images


def _bits(payload: bytes) -> npt.NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(payload, np.uint8))


# name -> (payload bits, agreement needed). Thresholds keep chance agreement of an unmarked
# image under 1e-6 for a random bit string (binomial tail), the 32-bit mark being the weakest.
MARKS: dict[str, tuple[npt.NDArray[np.uint8], float]] = {
    "Stable Diffusion 1.x (StableDiffusionV1)": (_bits(b"StableDiffusionV1"), 0.80),
    "Stable Diffusion 2.x (SDV2)": (_bits(b"SDV2"), 0.90),
    "SDXL (0xB3EC907BB19E)": (_bits(bytes.fromhex("B3EC907BB19E")), 0.85),
}


def block_bits(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """The bit each 4x4 block of the U channel's Haar approximation carries, in block order."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    u = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:rows, :cols, 1].astype(np.float64)
    ll = (u[0::2, 0::2] + u[0::2, 1::2] + u[1::2, 0::2] + u[1::2, 1::2]) / 2.0
    br, bc = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    blocks = np.abs(ll[: br * BLOCK, : bc * BLOCK].reshape(br, BLOCK, bc, BLOCK))
    flat = blocks.transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK)
    pos = np.argmax(flat[:, 1:], axis=1) + 1
    val = flat[np.arange(len(flat)), pos]
    return np.asarray((val % SCALE) > 0.5 * SCALE)


def decode_bits(blocks: npt.NDArray[np.bool_], length: int) -> npt.NDArray[np.uint8]:
    """The ``length``-bit payload: per bit, the majority of the blocks that carry it."""
    idx = np.arange(len(blocks)) % length
    ones = np.bincount(idx, weights=blocks.astype(np.float64), minlength=length)
    count = np.bincount(idx, minlength=length)
    return (ones / np.maximum(count, 1) * 255 > 127).astype(np.uint8)


@registry.register
class Watermark(Extractor):
    name = "watermark"
    description = "Stable Diffusion invisible watermarks (dwtDct: SD 1.x, SD 2.x, SDXL)"

    def applies(self, view: FileView) -> bool:
        return view.is_image

    def extract(self, view: FileView) -> list[Evidence]:
        bgr = view.bgr
        if bgr is None or bgr.shape[0] * bgr.shape[1] < MIN_PIXELS:
            return []
        blocks = block_bits(bgr)
        items = []
        for name, (payload, needed) in MARKS.items():
            bits = decode_bits(blocks, len(payload))
            agreement = float((bits == payload).mean())
            if agreement >= needed:
                strength = "strong" if agreement >= 0.97 else "moderate"
                value = {"mark": name, "agreement": round(agreement, 3), "bits": len(payload)}
                items.append(
                    self.item("ai_generated", value, "pixels (dwtDct, U channel)", strength)
                )
        return items
