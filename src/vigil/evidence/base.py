"""Evidence items, the extractor base class and its registry.

An extractor reads one kind of evidence from a file (C2PA, XMP, generator metadata, watermarks,
camera EXIF, ...) and returns :class:`Evidence` items: a claim, its value, where in the file it
was found, and how far it can be trusted. Extractors never decide what a file is; the summary
(:mod:`vigil.evidence.summary`) weighs the items and shows where they conflict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vigil.errors import UsageError
from vigil.registry import Registry

__all__ = [
    "CLAIMS",
    "STRENGTHS",
    "Evidence",
    "EvidenceConfig",
    "Extractor",
    "UnknownExtractor",
    "registry",
]

# How far a claim can be trusted, strongest first:
#   verified  a signature that validates up to a trust anchor the operator configured
#   strong    a valid signature from an untrusted signer, or a watermark decoded almost exactly
#   moderate  structured metadata a tool writes by itself (generator parameters, camera EXIF)
#   weak      a free-text or single-field claim anyone can write or that tools copy along
#   none      an error item: the extractor could not read something (the claim says what)
STRENGTHS = ("verified", "strong", "moderate", "weak", "none")

# What an item claims. The first five are what the summary weighs; the rest describe the file.
CLAIMS = {
    "ai_generated": "made by an AI generator",
    "ai_edited": "a real image edited or composited with AI",
    "camera_capture": "captured by a camera",
    "edited": "edited with software",
    "synthetic_score": "a learned detector's calibrated probability of synthesis",
    "provenance": "provenance record (C2PA manifest, ingredient, signer)",
    "device": "camera or device (make, model, serial, lens)",
    "capture_time": "when it was captured",
    "location": "where it was captured (decimal degrees)",
    "software": "software that wrote or edited the file",
    "generator": "generator settings (prompt, seed, sampler, model)",
    "model_reference": "a model or LoRA named by its hash",
    "mismatch": "parts of the file disagree (e.g. EXIF thumbnail vs image)",
    "model_file": "a model file's own header (base model, training data)",
    "unsafe_content": "content that would run code if loaded (pickle globals)",
    "error": "something could not be read; the value says what",
}


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: ``kind`` is the extractor, ``source`` where in the file."""

    kind: str
    claim: str
    value: Any  # JSON-serialisable
    source: str
    strength: str

    def __post_init__(self) -> None:
        if self.claim not in CLAIMS:
            raise ValueError(f"unknown claim {self.claim!r}")
        if self.strength not in STRENGTHS:
            raise ValueError(f"unknown strength {self.strength!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "claim": self.claim,
            "value": self.value,
            "source": self.source,
            "strength": self.strength,
        }


@dataclass(frozen=True)
class EvidenceConfig:
    """Operator settings: C2PA trust anchors (PEM file), an optional synthetic-image detector
    (ONNX file plus its calibration JSON), and which extractors to run (default: all)."""

    trust_anchors: Path | None = None
    detector: Path | None = None
    detector_calibration: Path | None = None
    extractors: tuple[str, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)


class UnknownExtractor(UsageError):
    """An extractor name that is not registered."""


class Extractor(ABC):
    """Base class of the evidence extractors; built-ins register like plug-ins do."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, config: EvidenceConfig) -> None:
        self.config = config

    def applies(self, view: Any) -> bool:
        """Whether this extractor has anything to read in ``view`` (a FileView): cheap."""
        return bool(view.is_image)

    @abstractmethod
    def extract(self, view: Any) -> list[Evidence]:
        """The evidence items found; may raise (the caller turns it into an error item)."""

    def item(self, claim: str, value: Any, source: str, strength: str) -> Evidence:
        return Evidence(self.name, claim, value, source, strength)


registry: Registry[Extractor] = Registry("evidence extractor", "vigil.evidence", UnknownExtractor)
