"""Hostile input: each case is bounded in time and memory and reported as an error item."""

from __future__ import annotations

import json
import os
import pickle
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

from tests.evidence_fixtures import base_image, encode, safetensors_bytes
from vigil.evidence import inspect_bytes, inspect_file
from vigil.evidence.container import MAX_TEXT_CHUNKS


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png_with_chunks(chunks: list[bytes]) -> bytes:
    png = encode(base_image((64, 64)), "PNG")
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + b"".join(chunks) + png[iend:]


def test_200_mb_xmp_packet_is_refused_unread() -> None:
    packet = b"<x:xmpmeta>" + b" " * (200 * 2**20) + b"</x:xmpmeta>"
    body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    data = _png_with_chunks([_chunk(b"iTXt", body)])
    tracemalloc.start()
    report = inspect_bytes(data, "big-xmp.png")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 32 * 2**20  # the packet (200 MB) is never copied
    assert any("bytes: not read" in e.value for e in report.errors)
    assert report.summary.label == "unknown"


def test_jpeg_extended_xmp_over_the_limit_is_refused() -> None:
    guid = b"0" * 32
    total = 6 * 2**20
    parts = []
    for off in range(0, total, 65000):
        body = b"http://ns.adobe.com/xmp/extension/\x00" + guid + struct.pack(">II", total, off)
        parts.append(b"\xff\xe1" + struct.pack(">H", len(body) + 65000 - 100 + 2) + body +
                     b"x" * (65000 - 100))  # fmt: skip
    jpeg = encode(base_image((64, 64)), "JPEG")
    report = inspect_bytes(jpeg[:2] + b"".join(parts) + jpeg[2:], "ext-xmp.jpg")
    assert any("extended XMP" in e.source for e in report.errors)


def test_png_with_100000_text_chunks() -> None:
    chunks = [_chunk(b"tEXt", b"k%d\x00v" % i) for i in range(100_000)]
    report = inspect_bytes(_png_with_chunks(chunks), "many.png")
    assert any(f"more than {MAX_TEXT_CHUNKS}" in e.value for e in report.errors)
    assert report.summary.label == "unknown"


def test_deeply_nested_and_cyclic_workflow_json() -> None:
    deep = "[" * 200_000 + "]" * 200_000
    chunks = [_chunk(b"tEXt", b"workflow\x00" + deep.encode())]
    report = inspect_bytes(_png_with_chunks(chunks), "deep.png")
    assert any("nested too deeply" in e.value for e in report.errors)
    # a graph whose nodes feed each other in a loop is read node by node, never followed
    cyclic = {str(i): {"class_type": "KSampler", "inputs": {"seed": i, "model": [str(i + 1), 0]}}
              for i in range(50)}  # fmt: skip
    cyclic["50"] = {"class_type": "KSampler", "inputs": {"model": ["0", 0]}}
    text = b"prompt\x00" + json.dumps(cyclic).encode()
    cyc = inspect_bytes(_png_with_chunks([_chunk(b"tEXt", text)]))
    assert cyc.summary.label == "ai_generated"
    assert next(e for e in cyc.items if e.claim == "ai_generated").value["seeds"][:3] == [0, 1, 2]


def test_bomb_text_chunk_is_bounded() -> None:
    bomb = b"parameters\x00\x00" + zlib.compress(b"A" * (64 * 2**20), 9)
    report = inspect_bytes(_png_with_chunks([_chunk(b"zTXt", bomb)]), "bomb.png")
    assert any("inflates to more than" in e.value for e in report.errors)


def test_safetensors_header_claiming_2_pow_60_bytes(tmp_path: Path) -> None:
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**60) + b'{"a": 1}')
    report = inspect_file(path)
    assert report.kind == "model"
    assert any("claims 1,152,921,504,606,846,976 bytes" in e.value for e in report.errors)
    hashes = next(e for e in report.items if e.claim == "model_file").value
    assert hashes["size"] == 16
    assert "autov3" not in hashes


class _Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo this must never run",))


def test_malicious_pickle_checkpoint_is_reported_not_run(tmp_path: Path) -> None:
    raw = tmp_path / "evil.ckpt"
    raw.write_bytes(pickle.dumps({"state_dict": {}, "x": _Payload()}, protocol=2))
    zipped = tmp_path / "evil.pt"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_Payload(), protocol=4))
    for path in (raw, zipped):
        report = inspect_file(path)
        unsafe = [e for e in report.items if e.claim == "unsafe_content"]
        assert unsafe, report.items
        assert unsafe[0].value["globals"] == [f"{os.system.__module__}.system"]
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x80\x04\x95" + os.urandom(64))
    assert inspect_file(garbage).errors


def test_garbage_and_empty_files_never_crash(tmp_path: Path) -> None:
    cases = {
        "a.png": b"\x89PNG\r\n\x1a\n" + os.urandom(500),
        "b.jpg": b"\xff\xd8\xff" + os.urandom(300),
        "c.webp": b"RIFF\x10\x00\x00\x00WEBPVP8X" + os.urandom(30),
        "d.bin": b"",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        report = inspect_file(path)
        assert report.summary.label == "unknown"
    broken = safetensors_bytes({"ss_dataset_dirs": "{not json"})
    path = tmp_path / "x.safetensors"
    path.write_bytes(broken)
    assert inspect_file(path).summary.label == "unknown"
