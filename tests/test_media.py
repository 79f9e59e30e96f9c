"""Safe decoding: real type from bytes, bounds, orientation, and errors that name the input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pillow_avif  # noqa: F401  (lets Pillow write AVIF for the test)
import pillow_heif
import pytest
from PIL import Image

from tests.conftest import encode
from vigil.errors import CorruptMedia, EmptyFile, MediaTooLarge, UnsupportedMedia
from vigil.media import Limits, decode_image, read_media, sniff

pillow_heif.register_heif_opener()
FORMATS = [
    ("JPEG", "jpeg"),
    ("PNG", "png"),
    ("GIF", "gif"),
    ("WEBP", "webp"),
    ("BMP", "bmp"),
    ("TIFF", "tiff"),
    ("HEIF", "heif"),
    ("AVIF", "avif"),
]


@pytest.fixture
def photo(known_photos: list[Path]) -> Image.Image:
    return Image.open(known_photos[0]).convert("RGB")


@pytest.mark.parametrize(("pil_format", "kind"), FORMATS)
def test_every_supported_format_decodes_and_is_sniffed(
    photo: Image.Image, pil_format: str, kind: str
) -> None:
    data = encode(photo, pil_format)
    assert sniff(data[:64]) == kind
    img = decode_image(data, f"sample.{kind}")
    assert img.kind == kind
    assert (img.width, img.height) == photo.size
    assert img.image.mode in ("RGB", "L")


def test_type_comes_from_bytes_not_the_extension(tmp_path: Path, photo: Image.Image) -> None:
    wrong = tmp_path / "really-a-png.jpg"
    wrong.write_bytes(encode(photo, "PNG"))
    assert decode_image(read_media(wrong), str(wrong)).kind == "png"


def test_empty_file_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFile, match=r"empty\.jpg"):
        decode_image(read_media(empty), str(empty))


def test_text_file_is_unsupported() -> None:
    with pytest.raises(UnsupportedMedia, match=r"notes\.jpg: content is no known media type"):
        decode_image(b"just some text, not an image", "notes.jpg")


def test_video_is_recognised_but_not_decoded_as_image() -> None:
    mp4_head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 40
    with pytest.raises(UnsupportedMedia, match="a mp4 file"):
        decode_image(mp4_head, "clip.jpg")


def test_bomb_under_pillow_limit_is_caught_by_ours() -> None:
    with pytest.raises(MediaTooLarge, match="over the limit"):
        decode_image(_png_claiming(12_000, 12_000), "wide.png")


def test_truncated_jpeg_is_corrupt(photo: Image.Image) -> None:
    data = encode(photo, "JPEG")
    with pytest.raises(CorruptMedia, match=r"cut\.jpg"):
        decode_image(data[: len(data) // 3], "cut.jpg")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's first bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def test_pixel_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(MediaTooLarge, match=r"bomb\.png"):
        decode_image(_png_claiming(60_000, 60_000), "bomb.png")


def test_limits_are_configurable(photo: Image.Image) -> None:
    data = encode(photo, "PNG")
    with pytest.raises(MediaTooLarge, match="pixels"):
        decode_image(data, "x.png", Limits(max_pixels=1000))
    with pytest.raises(MediaTooLarge, match="bytes"):
        decode_image(data, "x.png", Limits(max_bytes=100))


def test_file_over_byte_limit_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\xff\xd8\xff" + b"\x00" * 5000)
    with pytest.raises(MediaTooLarge, match=r"big\.bin"):
        read_media(big, Limits(max_bytes=1000))


def test_exif_orientation_is_applied(photo: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(photo, "JPEG", exif=exif.tobytes())
    img = decode_image(data, "rotated.jpg")
    assert img.image.size == (photo.height, photo.width)
    assert (img.width, img.height) == (photo.height, photo.width)
    assert img.pixels.shape == (photo.width, photo.height, 3)  # the turned pixels


def test_pixels_and_gray_are_made_once_for_all_signals(photo: Image.Image) -> None:
    img = decode_image(encode(photo, "PNG"), "x.png")
    assert img.pixels is img.pixels
    assert img.gray is img.gray
    assert img.pixels.shape == (photo.height, photo.width, 3)
    assert np.array_equal(img.gray, np.asarray(photo.convert("L")))
    grey = decode_image(encode(photo.convert("L"), "PNG"), "g.png")
    assert grey.gray is grey.pixels


def test_corrupt_exif_does_not_stop_decoding(photo: Image.Image) -> None:
    # An IFD offset pointing far outside the block, then garbage.
    data = encode(photo, "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + b"\x01" * 30)
    img = decode_image(data, "bad-exif.jpg")
    assert img.image.size == photo.size
    assert any("EXIF" in w for w in img.warnings), img.warnings


def test_reduced_scale_jpeg_decode_keeps_full_size_known(photo: Image.Image) -> None:
    big = photo.resize((photo.width * 4, photo.height * 4))
    img = decode_image(encode(big, "JPEG"), "big.jpg", min_side=256)
    assert img.scale > 1
    assert (img.width, img.height) == big.size
    assert min(img.image.size) >= 256
