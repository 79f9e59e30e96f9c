"""The per-file summary: what the evidence, taken together, says about how a file was made.

``ai_generated``, ``ai_edited``, ``edited``, ``camera_original`` or ``unknown``, with the items
that support it and any conflicts. It is a summary of claims, never a verdict:

- AI evidence and camera evidence in one file give ``ai_edited`` and a conflict, not
  ``ai_generated``: a real capture may lie underneath, and a reviewer must not dismiss it;
- otherwise AI evidence gives ``ai_generated`` or ``ai_edited`` (the stronger; on a tie,
  ``ai_edited``), editing evidence gives ``edited``, camera evidence ``camera_original``;
- nothing readable (stripped, re-encoded, screenshot) gives ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.evidence.base import STRENGTHS, Evidence

__all__ = ["SUMMARIES", "Summary", "summarise"]

SUMMARIES = ("ai_generated", "ai_edited", "edited", "camera_original", "unknown")
_CLASS = {
    "ai_generated": "ai_generated",
    "ai_edited": "ai_edited",
    "edited": "edited",
    "camera_capture": "camera_original",
}


@dataclass(frozen=True)
class Summary:
    verdict_free: str  # one of SUMMARIES (named so, to be read as a summary of claims)
    strength: str  # the strongest supporting item's strength ("none" for unknown)
    supporting: list[Evidence] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.verdict_free


def _rank(strength: str) -> int:
    return STRENGTHS.index(strength)  # 0 is strongest


def _classes(items: list[Evidence]) -> dict[str, list[Evidence]]:
    out: dict[str, list[Evidence]] = {}
    for it in items:
        cls = _CLASS.get(it.claim)
        score = it.value if it.claim == "synthetic_score" and isinstance(it.value, dict) else {}
        if score and score.get("probability", 0.0) >= score.get("threshold", 1.0):
            cls = "ai_generated"
        if cls:
            out.setdefault(cls, []).append(it)
    for group in out.values():
        group.sort(key=lambda e: _rank(e.strength))
    return out


def _best(group: list[Evidence]) -> int:
    return _rank(group[0].strength)


def summarise(items: list[Evidence]) -> Summary:
    found = _classes(items)
    ai = [c for c in ("ai_generated", "ai_edited") if c in found]
    if ai:
        label: str = min(ai, key=lambda c: (_best(found[c]), c != "ai_edited"))
        support = [e for c in ai for e in found[c]]
        conflicts = []
        if "camera_original" in found:
            label = "ai_edited"
            cam = found["camera_original"][0]
            conflicts.append(
                f"camera evidence ({cam.source}) beside AI evidence ({support[0].source}): "
                "a real capture may have been edited with AI"
            )
        support.sort(key=lambda e: _rank(e.strength))
        return Summary(label, support[0].strength, support, conflicts)
    for label in ("edited", "camera_original"):
        if label in found:
            support = found[label] + (found.get("camera_original", []) if label == "edited" else [])
            return Summary(label, found[label][0].strength, support, [])
    return Summary("unknown", "none", [], [])
