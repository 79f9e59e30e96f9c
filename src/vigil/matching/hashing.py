"""Hash files and bytes with the registered signal types.

A file that cannot be decoded still gets its cryptographic hashes (a corrupt copy of a known file
is still that file); the decode error is recorded in the result, never raised, so bulk work
finishes. Only a file that cannot be read at all has no signals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from vigil.errors import MediaError, reason_of
from vigil.media import Limits, read_media, sniff
from vigil.media.video import VIDEO_KINDS
from vigil.signals import Content, SignalValue, registry

__all__ = ["HashResult", "applicable_types", "hash_bytes", "hash_file"]


@dataclass
class HashResult:
    """The signals of one input, and what went wrong with it (``error`` names the reason)."""

    source: str
    size: int = 0
    kind: str | None = None
    signals: dict[str, SignalValue] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def failed(cls, source: str, exc: BaseException) -> HashResult:
        """The result of an input that could not be read or hashed at all."""
        return cls(source, error=reason_of(exc), error_type=type(exc).__name__)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.source, "size": self.size, "kind": self.kind}
        out["signals"] = {
            name: {
                k: v
                for k, v in (
                    ("value", s.value),
                    ("quality", s.quality),
                    ("usable", s.usable),
                    ("note", s.note),
                )
                if v is not None
            }
            for name, s in self.signals.items()
        }
        if self.error:
            out["error"] = {"type": self.error_type, "reason": self.error}
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def applicable_types(data: bytes) -> list[str]:
    """The registered signal types that apply to this content (by its first bytes)."""
    media = "video" if sniff(data[:64]) in VIDEO_KINDS else "image"
    return [c.name for c in registry if c.applies_to in ("any", media)]


def hash_bytes(
    data: bytes,
    source: str = "<bytes>",
    signal_types: list[str] | None = None,
    limits: Limits = Limits(),
    variants: bool = False,
) -> HashResult:
    """Compute ``signal_types`` for ``data``; by default every registered type that applies to
    its kind of content (images: pdq; videos: video_md5, vpdq; any: the file digests). Content
    of no known kind is tried as an image, so that its row says why it could not be read."""
    kind = sniff(data[:64])
    classes = [registry.get(n) for n in signal_types or applicable_types(data)]
    result = HashResult(source, len(data), kind)
    content = Content(data, source, limits, variants)
    for cls in classes:
        try:
            result.signals[cls.name] = cls.compute(content)
        except MediaError as exc:
            if result.error is None:
                result.error, result.error_type = exc.reason, type(exc).__name__
    result.warnings = content.decode_warnings()
    return result


def hash_file(
    path: str | os.PathLike[str],
    signal_types: list[str] | None = None,
    limits: Limits = Limits(),
    variants: bool = False,
) -> HashResult:
    """Read and hash one file; a file that cannot be read is a result with ``error`` set."""
    source = os.fspath(path)
    try:
        data = read_media(source, limits)
    except MediaError as exc:
        return HashResult.failed(source, exc)
    return hash_bytes(data, source, signal_types, limits, variants)
