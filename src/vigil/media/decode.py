"""Safe image decoding: real type from magic bytes, bounded bytes and pixels, EXIF orientation.

Every failure is a :class:`~vigil.errors.MediaError` that names the input and the reason. Only the
first frame of an animated or multi-page file is decoded, so frames are bounded by construction.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from vigil.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from vigil.media.files import read_regular
from vigil.media.sniff import IMAGE_KINDS, sniff

__all__ = ["DecodedImage", "Limits", "costly_structure", "decode_image", "read_media"]

MAX_JPEG_SCANS = 256  # a progressive JPEG has about 10; each scan decodes the whole image again

_plugins_loaded = False


def _load_plugins() -> None:
    """Register the HEIF and AVIF openers once (they live in separate packages)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    import pillow_heif

    pillow_heif.register_heif_opener()
    if "AVIF" not in Image.registered_extensions().values():
        with contextlib.suppress(ImportError):  # Pillow builds with AVIF need no plug-in
            import pillow_avif  # noqa: F401  (registers itself on import)
    _plugins_loaded = True


@dataclass(frozen=True)
class Limits:
    """Bounds applied to every decode. Defaults suit phone photos and scanned evidence."""

    max_bytes: int = 512 * 2**20
    max_pixels: int = 100_000_000
    max_side: int = 65_535


@dataclass
class DecodedImage:
    """A decoded first frame, in RGB or L mode, orientation applied."""

    image: Image.Image
    kind: str
    width: int  # full-resolution width after orientation
    height: int
    scale: int = 1  # >1 when a JPEG was decoded at reduced DCT scale
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def pixels(self) -> npt.NDArray[np.uint8]:
        """The pixels as an array (H x W x 3 for RGB, H x W for L), made once for all signals."""
        return np.asarray(self.image, dtype=np.uint8)

    @cached_property
    def gray(self) -> npt.NDArray[np.uint8]:
        """8-bit luma (Pillow's ``convert("L")``: ITU-R 601, rounded), made once."""
        return self.pixels if self.image.mode == "L" else np.asarray(self.image.convert("L"))


def read_media(path: str | os.PathLike[str], limits: Limits = Limits()) -> bytes:
    """Read a regular file's bytes, refusing it before reading if it is over ``limits.max_bytes``
    (FIFOs, sockets and devices are refused unread: :mod:`vigil.media.files`)."""
    return read_regular(path, limits.max_bytes)


def costly_structure(data: bytes, kind: str | None) -> str | None:
    """Why decoding ``data`` would cost far more than its size suggests, or None: a JPEG of
    thousands of scans takes minutes (libjpeg decodes the image once per scan). Checked before
    any decoder runs (an SOS marker cannot occur inside entropy-coded data)."""
    if kind == "jpeg" and _progressive(data):  # a baseline JPEG cannot repeat its scans
        scans = data.count(b"\xff\xda")
        if scans > MAX_JPEG_SCANS:
            return f"a JPEG of {scans:,} scans (over the limit of {MAX_JPEG_SCANS}): not decoded"
    return None


_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}  # SOF markers of progressive coding
_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # markers without a length


def _progressive(data: bytes) -> bool:
    """Whether a JPEG's frame is progressive, from its header segments alone (counting its
    scans reads the whole file: 4 ms for a 5 MB photo, paid only where scans can repeat).
    A header too odd to walk counts as progressive."""
    pos = 2
    for _ in range(4096):
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return True
        marker = data[pos + 1]
        if marker in _PROGRESSIVE:
            return True
        if marker == 0xDA or (0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)):
            return False  # the first scan, or a sequential frame
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        pos += 2 if marker in _STANDALONE else 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return True


def _open(data: bytes, source: str, kind: str) -> Image.Image:
    _load_plugins()
    try:
        return Image.open(io.BytesIO(data), formats=[IMAGE_KINDS[kind]])
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(source, f"decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise CorruptMedia(source, f"not a valid {kind} file (its header cannot be read)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptMedia(source, f"not a valid {kind} file: {exc}") from exc


def _check_size(im: Image.Image, source: str, limits: Limits) -> None:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise CorruptMedia(source, f"image has no pixels ({w}x{h})")
    if w > limits.max_side or h > limits.max_side or w * h > limits.max_pixels:
        raise MediaTooLarge(
            source, f"{w}x{h} is over the limit of {limits.max_pixels} pixels (decompression bomb?)"
        )


def _orient(im: Image.Image, source: str, notes: list[str]) -> Image.Image:
    """Apply EXIF orientation; a corrupt EXIF block is noted and the pixels used as stored."""
    try:
        ImageOps.exif_transpose(im, in_place=True)  # (not in place, it copies every image)
    except Exception as exc:  # Pillow raises many types on damaged EXIF
        notes.append(f"EXIF orientation ignored: {type(exc).__name__}: {exc}")
    return im


def _to_working_mode(im: Image.Image) -> Image.Image:
    """RGB or L; 16-bit greys are scaled to 8 bits, palettes expanded, alpha dropped."""
    if im.mode in ("RGB", "L"):
        return im
    if im.mode.startswith("I;16"):
        wide = np.asarray(im, dtype=np.float32) / 257.0
        return Image.fromarray(np.clip(wide + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode in ("I", "F", "1"):
        return im.convert("L")
    if im.mode == "P":
        im = im.convert("RGBA")
    return im.convert("RGB")


def _decode(
    data: bytes, source: str, kind: str, limits: Limits, min_side: int | None, notes: list[str]
) -> tuple[Image.Image, int, int, int]:
    im = _open(data, source, kind)
    _check_size(im, source, limits)
    full_w, full_h = im.size
    scale = 1
    if min_side and kind == "jpeg":
        im.draft("RGB", (min_side, min_side))
        scale = max(1, full_w // im.size[0])
    try:
        im.load()
        im = _orient(im, source, notes)
        im = _to_working_mode(im)
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(source, f"decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptMedia(source, f"cannot decode {kind} data: {exc}") from exc
    return im, full_w, full_h, scale


def decode_image(
    data: bytes, source: str, limits: Limits = Limits(), min_side: int | None = None
) -> DecodedImage:
    """Decode the first frame of ``data`` (named ``source`` in errors).

    ``min_side``: when set, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale so long as both sides
    stay at least ``min_side`` pixels (libjpeg's DCT scaling: several times faster on large photos).
    """
    if not data:
        raise EmptyFile(source, "file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(source, f"{len(data)} bytes is over the limit of {limits.max_bytes}")
    kind = sniff(data[:64])
    if kind is None or kind not in IMAGE_KINDS:
        what = f"a {kind} file" if kind else "no known media type"
        raise UnsupportedMedia(source, f"content is {what} (judged from its bytes, not its name)")
    costly = costly_structure(data, kind)
    if costly:
        raise MediaTooLarge(source, costly)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        im, full_w, full_h, scale = _decode(data, source, kind, limits, min_side, notes)
    notes.extend(
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, Image.DecompressionBombWarning)  # sized by our limits
    )
    if (im.size[0] > im.size[1]) != (full_w > full_h):
        full_w, full_h = full_h, full_w  # EXIF orientation swapped the sides
    return DecodedImage(im, kind, full_w, full_h, scale, notes)
