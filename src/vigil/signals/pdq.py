"""PDQ as a signal type: 256 bits, quality 0-100, matched within Hamming distance 31."""

from __future__ import annotations

import io

import numpy as np

from vigil.errors import InvalidSignal
from vigil.signals.base import Content, SignalExample, SignalType, SignalValue, registry
from vigil.signals.pdq_algo import hash_rgb_or_l

__all__ = ["EXAMPLE_PDQ", "PDQ", "PDQ_MIN_QUALITY", "example_image"]

PDQ_MIN_QUALITY = 50
# The PDQ of example_image(7) and example_image(11, (300, 200)), as python-threatexchange
# computes them: placeholders for list-format examples and tests.
EXAMPLE_PDQ = (
    "9c73e3980abdbd7ac3e17c1c81d8f2a50998f70e9ae10998766788f9760e16e4",
    "038d2d6d7c72f8f1db0c27762d637b0cf214b2f3a56b6b0c0bc4d0f0f4395550",
)
# Decode JPEGs at reduced DCT scale while both sides stay >= this; with the block-summed
# operator of pdq_algo the hash stays within a few bits of the full decode (bench/hashing).
FAST_DECODE_MIN_SIDE = 256


def example_image(seed: int = 7, size: tuple[int, int] = (160, 120)) -> bytes:
    """A small synthetic PNG (smooth gradients and blocks, no people) for examples and tests."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy = float(rng.uniform(0.01, 0.08)), float(rng.uniform(0.01, 0.08))
        ph = float(rng.uniform(0, 6.28))
        img[:, :, c] = 127 + 100 * np.sin(x * fx + ph) * np.cos(y * fy)
    for _ in range(12):
        bx, by = int(rng.integers(0, w - w // 6)), int(rng.integers(0, h - h // 6))
        img[by : by + h // 6, bx : bx + w // 6] = rng.integers(0, 255, 3)
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(out, "PNG")
    return out.getvalue()


@registry.register
class PDQ(SignalType):
    name = "pdq"
    kind = "hamming"
    indexed_by = "hamming"
    applies_to = "image"
    bits = 256
    default_threshold = 31
    max_threshold = 63
    description = "Meta's PDQ perceptual hash; quality < 50 is flagged and not matched"

    @classmethod
    def validate(cls, value: str, source: str) -> str:
        ones = bin(int(value, 16)).count("1")
        if ones < 32 or ones > 224:
            # All-zero and near-constant hashes match everything near them (HMA issue #1609).
            raise InvalidSignal(source, f"degenerate pdq hash ({ones} of 256 bits set)")
        return value

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        img = content.image(FAST_DECODE_MIN_SIDE)
        result = hash_rgb_or_l(img.pixels, (img.width, img.height), img.scale)
        usable = result.quality >= PDQ_MIN_QUALITY
        note = None if usable else f"quality {result.quality} < {PDQ_MIN_QUALITY}: not matched"
        variants = {}
        if content.variants and usable:
            variants = {k: v.hex() for k, v in result.dihedral().items() if k != "original"}
        return SignalValue(cls.name, result.hex, result.quality, usable, note, variants)

    @classmethod
    def examples(cls) -> list[SignalExample]:
        return [
            # Expected values computed by python-threatexchange's PdqSignal on the same pixels.
            SignalExample(
                example_image(7),
                "9c73e3980abdbd7ac3e17c1c81d8f2a50998f70e9ae10998766788f9760e16e4",
                tolerance=2,
            ),
            SignalExample(
                example_image(11, (300, 200)),
                "038d2d6d7c72f8f1db0c27762d637b0cf214b2f3a56b6b0c0bc4d0f0f4395550",
                tolerance=2,
            ),
        ]
