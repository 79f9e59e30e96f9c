"""What matching finds: a :class:`Match` (one list entry a signal matched) and its kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.lists.model import Entry
from vigil.matching.robust import Alignment
from vigil.matching.video_match import VideoMatch

__all__ = ["KINDS", "MODEL_HASHES", "Match", "acted_on"]

KINDS = ("exact", "near_duplicate", "altered_copy", "shared_scene")  # strongest first
MODEL_HASHES = ("autov1", "autov2", "autov3", "sha256")  # what model evidence can be matched by


@dataclass(frozen=True)
class Match:
    """One list entry that a signal matched."""

    list: str
    signal_type: str
    value: str  # the query's value that matched (after any rotation/flip)
    distance: int
    variant: str  # "original", or the rotation/flip of the query that matched
    entry: Entry
    via: tuple[str, ...] = ()  # every signal type of the query that matched this entry
    video: VideoMatch | None = None  # for video frames: shares matched and time ranges
    kind: str = "near_duplicate"  # one of KINDS
    region: Alignment | None = None  # vlocal: score, and where the match lies in each image

    def as_dict(self, labels: dict[str, str] | None = None) -> dict[str, Any]:
        e = self.entry
        out: dict[str, Any] = {
            "list": self.list,
            "entry": e.key,
            "kind": self.kind,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "variant": self.variant,
            "category": e.category,
            "via": list(self.via or (self.signal_type,)),
        }
        if labels and e.category is not None and str(e.category) in labels:
            out["category_label"] = labels[str(e.category)]
        for name in ("series", "victim_identified", "source", "comments"):
            if getattr(e, name) is not None:
                out[name] = getattr(e, name)
        if self.video is not None:
            out["video"] = self.video.as_dict()
        if self.region is not None:
            out["robust"] = self.region.as_dict()
        if e.tags:
            out["tags"] = e.tags
        if e.extra:
            out["extra"] = e.extra
        return out


def acted_on(answer: dict[str, Any]) -> bool:
    """Whether an answered match (:meth:`Matcher.as_dicts`) counts: not on a negative list, not
    suppressed by one, and not a quarantined flood (:mod:`vigil.exchanges.flood`)."""
    return not (answer.get("negative") or answer.get("suppressed_by") or answer.get("quarantined"))
