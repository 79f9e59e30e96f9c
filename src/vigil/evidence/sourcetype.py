"""IPTC digital source types (the vocabulary C2PA and XMP use) and what each one claims."""

from __future__ import annotations

__all__ = ["BASE", "claim_for"]

BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"

_CLAIMS = {
    "trainedAlgorithmicMedia": "ai_generated",
    "compositeWithTrainedAlgorithmicMedia": "ai_edited",
    "digitalCapture": "camera_capture",
    "computationalCapture": "camera_capture",
    "negativeFilm": "camera_capture",
    "positiveFilm": "camera_capture",
    "print": "camera_capture",
    # made or changed with software, without a generative model
    "humanEdits": "edited",
    "minorHumanEdits": "edited",
    "algorithmicallyEnhanced": "edited",
    "composite": "edited",
    "compositeCapture": "edited",
    "compositeSynthetic": "edited",
    "screenCapture": "edited",
    "softwareImage": "edited",
    "digitalCreation": "edited",
    "digitalArt": "edited",
    "algorithmicMedia": "edited",
    "dataDrivenMedia": "edited",
    "virtualRecording": "edited",
}


def claim_for(uri: str) -> tuple[str, str] | None:
    """(claim, short name) for a digital source type URI or bare term; None if unknown."""
    term = uri.strip().rstrip("/").rsplit("/", 1)[-1]
    claim = _CLAIMS.get(term)
    return (claim, term) if claim else None
