"""One pass over a file's container (PNG chunks, JPEG segments, WebP chunks), with bounds.

:class:`FileView` collects what the extractors read: text chunks, XMP packets, the EXIF block,
whether a C2PA (JUMBF) store is present, and the decoded image on demand. Everything is bounded
so that a hostile file costs little: at most :data:`MAX_TEXT_CHUNKS` text chunks are kept,
compressed text is inflated to at most :data:`MAX_TEXT_BYTES`, an XMP packet over
:data:`MAX_XMP_BYTES` is not parsed; each refusal is recorded in :attr:`FileView.problems` with
the part of the file it concerns, and reading goes on.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from vigil.errors import MediaError
from vigil.media.decode import DecodedImage, Limits, costly_structure, decode_image
from vigil.media.sniff import sniff

__all__ = [
    "EXIF_IFD",
    "GPS_IFD",
    "MAX_TEXT_BYTES",
    "MAX_TEXT_CHUNKS",
    "MAX_XMP_BYTES",
    "FileView",
    "Text",
    "inflate",
]

MAX_TEXT_CHUNKS = 1024
MAX_TEXT_BYTES = 8 * 2**20
MAX_XMP_BYTES = 4 * 2**20
MAX_EXIF_BYTES = 2**20
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAX_SEGMENTS = 100_000  # container entries walked at all (a PNG of 100,000 chunks still ends)
XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_JPEG = b"http://ns.adobe.com/xmp/extension/\x00"


@dataclass(frozen=True)
class Text:
    """A keyed text chunk (PNG tEXt/zTXt/iTXt) or comment."""

    key: str
    text: str
    source: str


@dataclass
class FileView:
    """What a file's container holds. ``problems`` are (source, message) pairs."""

    name: str
    data: bytes
    kind: str | None = None
    texts: list[Text] = field(default_factory=list)
    xmp: list[tuple[bytes, str]] = field(default_factory=list)
    exif: tuple[bytes, str] | None = None
    jumbf: bool = False
    has_alpha: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def read(cls, data: bytes, name: str = "<bytes>", limits: Limits | None = None) -> FileView:
        view = cls(name, data, sniff(data[:64]), limits=limits or Limits())
        parse = {"png": _png, "jpeg": _jpeg, "webp": _webp}.get(view.kind or "")
        if parse is not None:
            try:
                parse(view)
            except (struct.error, IndexError, ValueError) as exc:
                view.problems.append((f"{view.kind} container", f"malformed: {exc}"))
        return view

    @property
    def is_image(self) -> bool:
        return self.kind in ("png", "jpeg", "webp", "gif", "tiff", "bmp", "heif", "avif")

    def text(self, key: str) -> Text | None:
        """The first text chunk named ``key`` (case-sensitive, as writers use them)."""
        return next((t for t in self.texts if t.key == key), None)

    @cached_property
    def exif_tags(self) -> Image.Exif | None:
        """The EXIF block parsed (None if absent, over 1 MiB, or unreadable: a problem then)."""
        if self.exif is None:
            return None
        raw, source = self.exif
        if len(raw) > MAX_EXIF_BYTES:
            self.problems.append((source, f"{len(raw):,} bytes of EXIF: not read"))
            return None
        tags = Image.Exif()
        try:
            tags.load(raw)
            tags.get_ifd(EXIF_IFD)  # parse the sub-IFDs now: errors surface here
        except (OSError, ValueError, KeyError, struct.error, SyntaxError) as exc:
            self.problems.append((source, f"EXIF not readable: {exc}"))
            return None
        return tags

    @cached_property
    def decoded(self) -> DecodedImage | None:
        """The decoded image (orientation applied), or None if it cannot be decoded."""
        if self.costly:
            return None
        try:
            return decode_image(self.data, self.name, self.limits)
        except MediaError as exc:
            self.problems.append(("image data", exc.reason))
            return None

    @cached_property
    def costly(self) -> bool:
        """Whether decoding would cost far more than the file's size suggests (a JPEG of
        thousands of scans): then no pixels are read at all, and a problem says why."""
        reason = costly_structure(self.data, self.kind)
        if reason:
            self.problems.append(("image data", reason))
        return reason is not None

    @cached_property
    def bgr(self) -> npt.NDArray[np.uint8] | None:
        """The pixels as stored (no orientation applied), 8-bit BGR: for pixel-level marks."""
        size = self.size
        if self.costly or size is None or size[0] * size[1] > self.limits.max_pixels:
            return None
        flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
        arr = cv2.imdecode(np.frombuffer(self.data, np.uint8), flags)
        if arr is None:  # a format OpenCV does not read (GIF, HEIF, AVIF)
            img = self.raw_image
            if img is None:
                return None
            arr = np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])
        return np.asarray(arr, dtype=np.uint8)

    @cached_property
    def size(self) -> tuple[int, int] | None:
        """Width and height from the header (no decode), or None if unreadable."""
        try:
            with Image.open(io.BytesIO(self.data)) as probe:
                return probe.size
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    def small_grey(self, side: int = 64) -> npt.NDArray[np.uint8] | None:
        """The image as stored, reduced to about ``side`` pixels (a JPEG is decoded at reduced
        DCT scale): cheap, for coarse comparisons."""
        if self.costly:
            return None
        if "bgr" in self.__dict__ and self.bgr is not None:  # already decoded: reuse it
            grey = cv2.cvtColor(self.bgr, cv2.COLOR_BGR2GRAY)
            return np.asarray(cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA))
        try:
            with Image.open(io.BytesIO(self.data)) as img:
                if img.width * img.height > self.limits.max_pixels:
                    return None
                img.draft("L", (side * 2, side * 2))
                small = img.convert("L").resize((side, side), Image.Resampling.BOX)
                return np.asarray(small, dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    @cached_property
    def raw_image(self) -> Image.Image | None:
        """The image as stored (no orientation, alpha kept): for pixel-level marks."""
        if self.costly:
            return None
        try:
            img = Image.open(io.BytesIO(self.data))
            if img.width * img.height > self.limits.max_pixels:
                return None
            img.load()
            return img
        except (OSError, ValueError, Image.DecompressionBombError):
            return None


def inflate(data: bytes, limit: int = MAX_TEXT_BYTES, wbits: int = zlib.MAX_WBITS) -> bytes:
    """zlib/gzip data inflated to at most ``limit`` bytes; ValueError past it or if corrupt."""
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit)
    except zlib.error as exc:
        raise ValueError(f"bad compressed data ({exc})") from exc
    if d.unconsumed_tail:
        raise ValueError(f"inflates to more than {limit:,} bytes")
    return out


def _add_text(view: FileView, key: str, text: str, source: str) -> None:
    if len(view.texts) < MAX_TEXT_CHUNKS:
        view.texts.append(Text(key, text, source))
    elif len(view.texts) == MAX_TEXT_CHUNKS:
        view.problems.append((source, f"more than {MAX_TEXT_CHUNKS} text chunks: the rest skipped"))
        view.texts.append(Text("", "", ""))  # sentinel: reported once


def _png_text(view: FileView, ctype: bytes, body: bytes, source: str) -> None:
    key, _, rest = body.partition(b"\x00")
    name = key.decode("latin-1")
    source = f"PNG {ctype.decode()} {name!r}"
    try:
        if ctype == b"tEXt":
            text = rest.decode("latin-1")
        elif ctype == b"zTXt":
            text = inflate(rest[1:]).decode("latin-1")
        else:  # iTXt: flag, method, language\0, translated keyword\0, text
            flag = rest[0]
            _lang, _, rest2 = rest[2:].partition(b"\x00")
            _tkey, _, payload = rest2.partition(b"\x00")
            raw = inflate(payload) if flag else payload
            text = raw.decode("utf-8", errors="replace")
    except (ValueError, IndexError) as exc:
        view.problems.append((source, str(exc)))
        return
    if name == "XML:com.adobe.xmp":
        view.xmp.append((text.encode("utf-8"), source))
    else:
        _add_text(view, name, text, source)


def _png(view: FileView) -> None:
    data, pos, n = view.data, 8, 0
    while pos + 8 <= len(data) and n < MAX_SEGMENTS:
        length, ctype = struct.unpack_from(">I4s", data, pos)
        start, end = pos + 8, pos + 8 + length
        n += 1
        if end + 4 > len(data):
            view.problems.append((f"PNG {ctype!r} chunk", "truncated: the file ends inside it"))
            return
        if ctype == b"IHDR" and length >= 13:
            view.has_alpha = data[start + 9] in (4, 6)
        elif ctype in (b"tEXt", b"zTXt", b"iTXt"):
            if length > MAX_TEXT_BYTES:
                view.problems.append((f"PNG {ctype.decode()}", f"{length:,} bytes: not read"))
            else:
                _png_text(view, ctype, data[start:end], ctype.decode())
        elif ctype == b"eXIf":
            view.exif = (data[start:end], "PNG eXIf")
        elif ctype == b"caBX":
            view.jumbf = True
        elif ctype == b"IEND":
            return
        pos = end + 4
    if n >= MAX_SEGMENTS:
        view.problems.append(("PNG container", f"more than {MAX_SEGMENTS:,} chunks: rest skipped"))
    else:
        view.problems.append(("PNG container", f"truncated: ends at byte {len(data):,}, no IEND"))


def _jpeg(view: FileView) -> None:
    data, pos, n = view.data, 2, 0
    extended: list[bytes] = []
    while pos + 4 <= len(data) and n < MAX_SEGMENTS:
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no metadata past here
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        body = data[pos + 4 : pos + 2 + length]
        n += 1
        if pos + 2 + length > len(data):
            view.problems.append((f"JPEG APP{marker - 0xE0} segment", "truncated"))
            return
        _jpeg_segment(view, marker, body, extended)
        pos += 2 + length
    if extended:
        _extended_xmp(view, extended)


def _jpeg_segment(view: FileView, marker: int, body: bytes, extended: list[bytes]) -> None:
    if marker == 0xE1 and body.startswith(b"Exif\x00\x00") and view.exif is None:
        view.exif = (body[6:], "JPEG APP1 Exif")
    elif marker == 0xE1 and body.startswith(XMP_JPEG):
        view.xmp.append((body[len(XMP_JPEG) :], "JPEG APP1 XMP"))
    elif marker == 0xE1 and body.startswith(XMP_EXT_JPEG):
        extended.append(body[len(XMP_EXT_JPEG) :])
    elif marker == 0xEB and (b"jumb" in body[:32] or b"c2pa" in body[:64]):
        view.jumbf = True
    elif marker == 0xFE:
        _add_text(view, "comment", body.decode("utf-8", errors="replace"), "JPEG COM")


def _extended_xmp(view: FileView, parts: list[bytes]) -> None:
    """Extended XMP: 32-byte GUID, full length, offset, then a slice of the packet."""
    total = sum(len(p) - 40 for p in parts)
    if total > MAX_XMP_BYTES:
        view.problems.append(("JPEG extended XMP", f"{total:,} bytes: over the limit, not read"))
        return
    slices = sorted((struct.unpack_from(">I", p, 36)[0], p[40:]) for p in parts if len(p) > 40)
    view.xmp.append((b"".join(s for _, s in slices), "JPEG APP1 extended XMP"))


def _webp(view: FileView) -> None:
    data, pos, n = view.data, 12, 0
    while pos + 8 <= len(data) and n < MAX_SEGMENTS:
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        n += 1
        if pos + 8 + size > len(data):
            view.problems.append((f"WebP {fourcc.decode('latin-1')} chunk", "truncated"))
            return
        if fourcc == b"EXIF":
            view.exif = (body[6:] if body.startswith(b"Exif\x00\x00") else body, "WebP EXIF")
        elif fourcc == b"XMP ":
            view.xmp.append((body, "WebP XMP"))
        elif fourcc == b"C2PA":
            view.jumbf = True
        elif fourcc == b"VP8X" and size >= 1:
            view.has_alpha = bool(body[0] & 0x10)
        pos += 8 + size + (size & 1)
