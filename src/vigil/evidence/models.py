"""Model files (``.safetensors``, ``.ckpt``, ``.pt``): hashes and what the header says, with no
code run. Safetensors headers are JSON (``__metadata__`` holds the trainer's keys: kohya-ss
``ss_*``, ModelSpec ``modelspec.*``); PyTorch checkpoints are pickles, which are never loaded:
their opcodes are read to list the globals they would import, and anything that could run code
is reported as ``unsafe_content``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pickletools
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import blake3

from vigil.errors import MediaError
from vigil.evidence.base import Evidence
from vigil.media.files import open_regular

__all__ = ["MODEL_SUFFIXES", "is_model", "model_evidence", "model_hashes"]

MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
MAX_HEADER = 100 * 2**20
MAX_PICKLE = 64 * 2**20
MAX_OPS = 2_000_000
MAX_DIMS = 64  # dimensions of one tensor (real ones have at most 8)
MAX_ELEMENTS = 2**63
CHUNK = 4 * 2**20
DANGEROUS = {
    "os", "posix", "nt", "subprocess", "sys", "socket", "shutil", "importlib", "runpy", "pty",
    "webbrowser", "requests", "urllib", "httpx", "pickle", "marshal", "types", "code", "ctypes",
    "commands", "platform", "signal", "multiprocessing", "asyncio",
}  # fmt: skip
DANGEROUS_BUILTINS = {
    "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "input", "breakpoint", "apply",
}  # fmt: skip
EXPECTED = ("torch.", "collections.", "numpy.", "_codecs.", "pytorch_lightning.", "builtins.set",
            "__builtin__.set", "torch._utils.", "typing.")  # fmt: skip
TIMESTAMPS = ("ss_training_started_at", "ss_training_finished_at")


def _item(claim: str, value: Any, source: str, strength: str) -> Evidence:
    return Evidence("model", claim, value, source, strength)


def is_model(path: Path, head: bytes) -> bool:
    """A model file by name, or a safetensors header by content."""
    if path.suffix.lower() in MODEL_SUFFIXES:
        return True
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack_from("<Q", head)[0] < 2**40


def model_hashes(path: Path, header_end: int | None) -> dict[str, Any]:
    """SHA-256, AutoV1 (8 hex of SHA-256 of 64 KiB at 1 MiB), AutoV2 (10 hex of SHA-256),
    AutoV3 / LoRA "addnet" (12 hex of SHA-256 of the bytes after a safetensors header), BLAKE3
    and CRC32, in one read of the file."""
    full, addnet, b3 = hashlib.sha256(), hashlib.sha256(), blake3.blake3()
    crc, pos = 0, 0
    with open_regular(path) as fh:
        while chunk := fh.read(CHUNK):
            full.update(chunk)
            b3.update(chunk)
            crc = zlib.crc32(chunk, crc)
            if header_end is not None and pos + len(chunk) > header_end:
                addnet.update(chunk[max(0, header_end - pos) :])
            pos += len(chunk)
        fh.seek(0x100000)
        legacy = hashlib.sha256(fh.read(0x10000)).hexdigest()[:8]
    sha = full.hexdigest()
    out = {"size": pos, "sha256": sha, "autov1": legacy, "autov2": sha[:10],
           "blake3": b3.hexdigest(), "crc32": f"{crc:08x}"}  # fmt: skip
    if header_end is not None:
        out["autov3"] = addnet.hexdigest()[:12]
    return out


def model_evidence(path: Path, head: bytes) -> list[Evidence]:
    """Every evidence item of a model file (``head``: its first 16 bytes); bad headers are
    error items, never exceptions."""
    if path.suffix.lower() == ".safetensors" or head[8:9] == b"{":
        return _safetensors(path, path.stat().st_size, head)
    return _pickled(path)


def _safetensors(path: Path, size: int, head: bytes) -> list[Evidence]:
    n = struct.unpack_from("<Q", head)[0] if len(head) >= 8 else None
    items: list[Evidence] = []
    if n is None or n > MAX_HEADER or n + 8 > size:
        claimed = "no" if n is None else f"{n:,}"
        msg = f"safetensors header claims {claimed} bytes (file {size:,}, limit {MAX_HEADER:,})"
        items.append(_item("error", msg, "safetensors header length", "none"))
        return [_item("model_file", model_hashes(path, None), "file bytes", "strong"), *items]
    with open_regular(path) as fh:
        fh.seek(8)
        raw = fh.read(n)
    items.append(_item("model_file", model_hashes(path, 8 + n), "file bytes", "strong"))
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return [*items, _item("error", f"header is not JSON: {exc}", "safetensors header", "none")]
    if not isinstance(header, dict):
        return [*items, _item("error", "header is not an object", "safetensors header", "none")]
    tensors = {k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    counts = [_count(v.get("shape")) for v in tensors.values()]
    params = sum(c for c in counts if c is not None)
    summary = {"format": "safetensors", "tensors": len(tensors), "parameters": params}
    items.append(_item("model_file", summary, "safetensors header", "strong"))
    bad = sum(c is None for c in counts)
    if bad:
        msg = (f"{bad:,} tensors have impossible shapes (over {MAX_DIMS} dimensions, "
               f"over 2**63 elements, or not integers): not counted")  # fmt: skip
        items.append(_item("error", msg, "safetensors header", "none"))
    meta = header.get("__metadata__")
    if isinstance(meta, dict):
        items.extend(_metadata({str(k): v for k, v in meta.items()}))
    return items


def _count(shape: Any) -> int | None:
    """The elements of a tensor of this shape, or None for a shape no real tensor has (not a
    list of at most MAX_DIMS non-negative integers, or over 2**63 elements): a hostile header
    must not cost a product of 150,000 big integers."""
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        return None
    total = 1
    for d in shape:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            return None
        total *= d
        if total > MAX_ELEMENTS:
            return None
    return total


def _metadata(meta: dict[str, Any]) -> list[Evidence]:
    src = "safetensors __metadata__"
    parsed: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, str) and value[:1] in "{[" and len(value) <= MAX_HEADER:
            with contextlib.suppress(ValueError, RecursionError):
                value = json.loads(value)
        parsed[key] = value
    for key in TIMESTAMPS:
        try:
            stamp = datetime.fromtimestamp(float(parsed[key]), UTC)
            parsed[key] = stamp.isoformat()
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            pass
    groups = {
        "base model": ("ss_sd_model_name", "ss_sd_model_hash", "ss_new_sd_model_hash",
                       "ss_base_model_version", "modelspec.architecture", "ss_v2"),
        "training data": ("ss_dataset_dirs", "ss_num_train_images", "ss_datasets",
                          "ss_training_started_at", "ss_training_finished_at", "ss_output_name",
                          "ss_training_comment"),
        "tag frequency": ("ss_tag_frequency",),
        "hashes": ("sshs_model_hash", "sshs_legacy_hash", "modelspec.hash_sha256"),
    }  # fmt: skip
    items = []
    for label, keys in groups.items():
        value = {k: parsed[k] for k in keys if k in parsed}
        if value:
            items.append(_item("model_file", {"section": label, **value}, f"{src} {label}", "weak"))
    spec = {k: v for k, v in parsed.items() if k.startswith("modelspec.")}
    if spec:
        items.append(_item("model_file", {"section": "modelspec", **spec}, f"{src} modelspec",
                           "weak"))  # fmt: skip
    return items


def _pickled(path: Path) -> list[Evidence]:
    items = [_item("model_file", model_hashes(path, None), "file bytes", "strong")]
    try:
        with open_regular(path) as fh:
            if not zipfile.is_zipfile(fh):
                fh.seek(0)
                return [*items, *_scan_pickle(fh.read(MAX_PICKLE), "pickle stream")]
            with zipfile.ZipFile(fh) as zf:
                names = [i for i in zf.infolist() if i.filename.endswith(".pkl")]
                for info in names[:8]:
                    if info.file_size > MAX_PICKLE:
                        raise ValueError(f"{info.filename}: {info.file_size:,} bytes of pickle")
                    items.extend(_scan_pickle(zf.read(info), f"PyTorch zip {info.filename}"))
    except (OSError, ValueError, zipfile.BadZipFile, MediaError) as exc:
        items.append(_item("error", f"checkpoint not readable: {exc}", "checkpoint", "none"))
    return items


def _scan_pickle(data: bytes, source: str) -> list[Evidence]:
    """The globals a pickle would import, read from its opcodes (nothing is executed)."""
    found: list[str] = []
    strings: list[str] = []  # strings pushed, most recent last (STACK_GLOBAL takes two)
    memo: dict[int, str | None] = {}
    last: str | None = None  # what the previous push was, if a string (for the memo)
    try:
        for n, (op, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(data))):
            if n > MAX_OPS:
                raise ValueError(f"more than {MAX_OPS:,} opcodes")
            name = op.name
            if name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            if name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                memo[len(memo) if name == "MEMOIZE" else int(str(arg))] = last
                continue
            got = memo.get(int(str(arg))) if name in ("BINGET", "LONG_BINGET", "GET") else None
            last = arg if isinstance(arg, str) and "UNICODE" in name else got
            if last is not None:
                strings.append(last)
            if name == "STOP":
                break
    except ValueError as exc:
        return [_item("error", f"pickle not readable: {exc}", source, "none")]
    unique = sorted(set(found))
    dangerous = [g for g in unique if _dangerous(g)]
    unexpected = [g for g in unique if not g.startswith(EXPECTED) and g not in dangerous]
    value = {"format": "pickle", "globals": unique[:200], "unexpected": unexpected[:200]}
    items = [_item("model_file", value, source, "strong")]
    if dangerous:
        items.append(_item("unsafe_content", {"globals": dangerous}, source, "strong"))
    return items


def _dangerous(name: str) -> bool:
    module, _, attr = name.rpartition(".")
    root = module.split(".")[0]
    if root in ("builtins", "__builtin__"):
        return attr in DANGEROUS_BUILTINS
    return root in DANGEROUS
