"""Evidence: what a file says about how it was made (camera, editor, or AI generator).

One extractor per kind of evidence, registered like signal types (entry-point group
``vigil.evidence``); :func:`inspect_file` and :func:`inspect_bytes` run them and summarise.
"""

from vigil.evidence import camera, detector, generator, provenance, watermark, xmp  # noqa: F401
from vigil.evidence.base import (
    CLAIMS,
    STRENGTHS,
    Evidence,
    EvidenceConfig,
    Extractor,
    UnknownExtractor,
    registry,
)
from vigil.evidence.report import Report, extractors, inspect_bytes, inspect_file
from vigil.evidence.summary import SUMMARIES, Summary

__all__ = [
    "CLAIMS",
    "STRENGTHS",
    "SUMMARIES",
    "Evidence",
    "EvidenceConfig",
    "Extractor",
    "Report",
    "Summary",
    "UnknownExtractor",
    "extractors",
    "inspect_bytes",
    "inspect_file",
    "registry",
]
