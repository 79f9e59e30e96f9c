"""NovelAI's "stealth" metadata: the same JSON, gzip-compressed, in the alpha channel's lowest
bits, read column by column (top to bottom, then left to right), most significant bit first:
15 magic bytes (``stealth_pngcomp``, or ``stealth_pnginfo`` uncompressed), a 32-bit length in
bits, then the data."""

from __future__ import annotations

import json
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.evidence.container import MAX_TEXT_BYTES, FileView, inflate

__all__ = ["read_stealth", "stealth_bits"]

MAGICS = {b"stealth_pngcomp": True, b"stealth_pnginfo": False}


def stealth_bits(alpha: npt.NDArray[np.uint8], start: int, count: int) -> bytes:
    """``count`` bits from bit ``start`` of the column-major LSB stream, packed to bytes."""
    h = alpha.shape[0]
    first, last = start // h, (start + count + h - 1) // h
    stream = (alpha[:, first:last].T & 1).ravel()
    off = start - first * h
    return np.packbits(stream[off : off + count]).tobytes()


def read_stealth(view: FileView) -> tuple[dict[str, Any], str] | None:
    """The hidden metadata and where it was found, or None. ValueError if it is damaged."""
    if not view.has_alpha:
        return None
    img = view.raw_image
    if img is None or img.mode not in ("RGBA", "LA"):
        return None
    alpha = np.asarray(img.getchannel("A"), dtype=np.uint8)
    if alpha.size < 200:
        return None
    magic = stealth_bits(alpha, 0, 120)
    if magic not in MAGICS:
        return None
    source = "alpha channel LSBs (NovelAI stealth)"
    length = int.from_bytes(stealth_bits(alpha, 120, 32), "big")
    if length <= 0 or length > alpha.size - 152 or length // 8 > MAX_TEXT_BYTES:
        raise ValueError(f"{source}: length {length} does not fit the image")
    payload = stealth_bits(alpha, 152, length - length % 8)
    raw = inflate(payload, wbits=16 + zlib.MAX_WBITS) if MAGICS[magic] else payload
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{source}: not JSON ({exc})") from None
    return (data if isinstance(data, dict) else {"data": data}), source
