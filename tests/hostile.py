"""Hostile files, made by the tests: benign content (flat colour, the example photos) in a
malicious structure. Nothing here is committed as a binary."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

from PIL import Image


def many_scan_jpeg(side: int, scans: int) -> bytes:
    """A progressive JPEG of a flat ``side`` x ``side`` image whose last scan is repeated until
    it has ``scans`` scans: a few bytes each, and each one decodes the whole image again."""
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    last, end = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    have = data.count(b"\xff\xda")
    return data[:end] + data[last:end] * max(0, scans - have) + b"\xff\xd9"


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (an IDAT of a few compressed rows)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def gif_bomb() -> bytes:
    """A GIF whose logical screen and image claim 65,535 x 65,535 pixels."""
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen
    at = data.index(b"\x2c")  # image descriptor
    data[at + 5 : at + 9] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def tiff_bomb() -> bytes:
    """A TIFF whose first IFD claims 100,000 x 100,000 pixels."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for n in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * n
        tag, kind = struct.unpack_from("<HH", data, at)
        if tag in (256, 257):  # ImageWidth, ImageLength
            if kind == 3:
                struct.pack_into("<HHIH", data, at, tag, 4, 1, 0)
            struct.pack_into("<I", data, at + 8, 100_000)
    return bytes(data)


def bmp_bomb() -> bytes:
    """A BMP whose header claims 60,000 x 60,000 pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    struct.pack_into("<ii", data, 18, 60_000, 60_000)
    return bytes(data)


def webp_bomb() -> bytes:
    """A lossless WebP whose header claims 16,384 x 16,384 pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"VP8L") + 9  # after the chunk size and the 0x2f signature
    bits = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at, (bits & ~0x0FFFFFFF) | 16383 | 16383 << 14)
    return bytes(data)


def arithmetic_jpeg(photo: bytes) -> bytes:
    """A baseline JPEG whose frame marker says arithmetic coding (SOF9): its Huffman-coded
    data is then read as arithmetic-coded."""
    return photo.replace(b"\xff\xc0", b"\xff\xc9", 1)


def safetensors(shapes: list[list[int]], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file whose header lists tensors of these shapes (no data behind them)."""
    header: dict[str, object] = {
        f"t{i}": {"dtype": "F16", "shape": s, "data_offsets": [0, 0]} for i, s in enumerate(shapes)
    }
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
