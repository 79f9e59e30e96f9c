"""Run the extractors over a file and gather a :class:`Report` (the API behind `vigil inspect`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import MediaError
from vigil.evidence.base import Evidence, EvidenceConfig, Extractor, registry
from vigil.evidence.container import FileView
from vigil.evidence.models import is_model, model_evidence
from vigil.evidence.summary import Summary, summarise
from vigil.media.decode import Limits, read_media
from vigil.media.files import open_regular

__all__ = ["Report", "extractors", "inspect_bytes", "inspect_file"]


@dataclass
class Report:
    """Everything one file says about how it was made."""

    source: str
    kind: str | None
    items: list[Evidence]
    summary: Summary
    timings: dict[str, float] = field(default_factory=dict)  # seconds per extractor

    @classmethod
    def failure(cls, source: str, reason: str) -> Report:
        """The report of a file that could not be inspected at all."""
        item = Evidence("container", "error", reason, "file", "none")
        return cls(source, None, [item], summarise([item]))

    @property
    def errors(self) -> list[Evidence]:
        return [e for e in self.items if e.claim == "error"]

    @property
    def unreadable(self) -> bool:
        """Whether the file could not be inspected at all (not read, or no image Vigil reads)."""
        return any(
            e.kind == "container" and e.source in ("file", "image data") for e in self.errors
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "summary": self.summary.label,
            "strength": self.summary.strength,
            "supporting": [e.as_dict() for e in self.summary.supporting],
            "conflicts": self.summary.conflicts,
            "evidence": [e.as_dict() for e in self.items],
        }


def extractors(config: EvidenceConfig) -> list[Extractor]:
    """The configured extractors, instantiated (UnknownExtractor for a bad name)."""
    names = config.extractors or tuple(registry.names())
    return [registry.get(n)(config) for n in names]


def inspect_bytes(
    data: bytes,
    source: str = "<bytes>",
    config: EvidenceConfig | None = None,
    limits: Limits | None = None,
    chosen: list[Extractor] | None = None,
) -> Report:
    """The evidence in an image's bytes. Never raises for bad content: every failure is an
    ``error`` item naming the part of the file it concerns (content that is no image Vigil
    reads, or whose image cannot be, is one too)."""
    config = config or EvidenceConfig()
    view = FileView.read(data, source, limits)
    items: list[Evidence] = []
    timings: dict[str, float] = {}
    for ex in chosen if chosen is not None else extractors(config):
        t0 = time.perf_counter()
        try:
            if ex.applies(view):
                items.extend(ex.extract(view))
        except Exception as exc:  # hostile files: one extractor fails, not all
            msg = f"{type(exc).__name__}: {exc}"[:500]
            items.append(Evidence(ex.name, "error", msg, f"{ex.name} extractor", "none"))
        timings[ex.name] = time.perf_counter() - t0
    unreadable = _unreadable(view)  # (may add a problem: a JPEG of too many scans)
    items.extend(Evidence("container", "error", msg, where, "none") for where, msg in view.problems)
    items.extend(unreadable)
    return Report(source, view.kind, items, summarise(items), timings)


def _unreadable(view: FileView) -> list[Evidence]:
    """An error item for content that is not an image Vigil reads, or whose header is not an
    image's, or whose size is a decompression bomb's (none when the extractors said so)."""
    said = {where for where, _ in view.problems}
    if not view.data:
        reason = "file is empty (0 bytes)"
    elif not view.is_image:
        what = f"a {view.kind} file" if view.kind else "no known media type"
        reason = f"not an image: content is {what} (judged from its bytes)"
    elif "image data" in said or view.costly:
        return []
    elif view.size is None:
        reason = f"not a valid {view.kind} file (its header cannot be read)"
    elif view.size[0] * view.size[1] > view.limits.max_pixels:
        w, h = view.size
        reason = (
            f"{w}x{h} is over the limit of {view.limits.max_pixels:,} pixels (decompression bomb?)"
        )
    else:
        return []
    return [Evidence("container", "error", reason, "file", "none")]


def inspect_file(
    path: str | os.PathLike[str],
    config: EvidenceConfig | None = None,
    limits: Limits | None = None,
    data: bytes | None = None,
) -> Report:
    """The evidence in a file: an image (or other media), or a model file (hashes, header).
    ``data``: the file's bytes when the caller has read them already (not read again). A file
    that cannot be read at all (not a regular file, no permission) is a report of one error."""
    p = Path(path)
    try:
        if data is None:
            with open_regular(p) as fh:
                head = fh.read(16)
        else:
            head = data[:16]
        if is_model(p, head):
            t0 = time.perf_counter()
            items = model_evidence(p, head)
            took = {"model": time.perf_counter() - t0}
            return Report(str(p), "model", items, summarise(items), took)
        if data is None:
            data = read_media(p, limits or Limits())
    except MediaError as exc:
        return Report.failure(str(p), exc.reason)
    except OSError as exc:
        return Report.failure(str(p), f"cannot read: {exc.strerror or exc}")
    return inspect_bytes(data, str(p), config, limits)
