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

__all__ = ["Report", "extractors", "inspect_bytes", "inspect_file"]


@dataclass
class Report:
    """Everything one file says about how it was made."""

    source: str
    kind: str | None
    items: list[Evidence]
    summary: Summary
    timings: dict[str, float] = field(default_factory=dict)  # seconds per extractor

    @property
    def errors(self) -> list[Evidence]:
        return [e for e in self.items if e.claim == "error"]

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
    ``error`` item naming the part of the file it concerns."""
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
    items.extend(Evidence("container", "error", msg, where, "none") for where, msg in view.problems)
    return Report(source, view.kind, items, summarise(items), timings)


def inspect_file(
    path: str | os.PathLike[str],
    config: EvidenceConfig | None = None,
    limits: Limits | None = None,
    data: bytes | None = None,
) -> Report:
    """The evidence in a file: an image (or other media), or a model file (hashes, header).
    ``data``: the file's bytes when the caller has read them already (not read again)."""
    p = Path(path)
    if data is None:
        with p.open("rb") as fh:
            head = fh.read(16)
    else:
        head = data[:16]
    if is_model(p, head):
        t0 = time.perf_counter()
        items = model_evidence(p, head)
        return Report(str(p), "model", items, summarise(items), {"model": time.perf_counter() - t0})
    if data is None:
        try:
            data = read_media(p, limits or Limits())
        except MediaError as exc:
            item = Evidence("container", "error", exc.reason, str(p), "none")
            return Report(str(p), None, [item], summarise([item]))
    return inspect_bytes(data, str(p), config, limits)
