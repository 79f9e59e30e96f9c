"""Tell a file's real type from its first bytes, never from its name."""

from __future__ import annotations

__all__ = ["IMAGE_KINDS", "sniff"]

# The image kinds Vigil decodes; the value is the Pillow format name.
IMAGE_KINDS: dict[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "heif": "HEIF",
    "avif": "AVIF",
}

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5", b"dash"}


def _sniff_ftyp(head: bytes) -> str | None:
    """ISO base media files: HEIF, AVIF, or video (MP4/MOV)."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[0:4], "big")
    brands = {head[8:12]}
    end = min(len(head), size if size >= 16 else 16)
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heif"
    if brands & _VIDEO_BRANDS:
        return "mp4"
    return None


def sniff(head: bytes) -> str | None:
    """The kind of a file from its first bytes (at least 64 are best), or None if unknown.

    Returns an image kind of :data:`IMAGE_KINDS`, or a non-image kind Vigil recognises
    (``mp4``, ``webm``, ``avi``, ``pdf``, ``zip``) so that callers can say what it was.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return _sniff_ftyp(head)
