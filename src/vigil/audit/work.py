"""One sample's work, in a sandboxed worker (issue 22): its signals hashed (MD5, SHA-256, PDQ,
and the robust signal where asked), its evidence label read, and it matched against the lists,
from one decode. Each worker opens the store and its indexes once (memory-mapped: the workers
of a machine share one copy), the first time it is asked, with CPU time granted for that apart
from the sample's budget. What goes back is small: the hashes, the label and the matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.matching.hashing import hash_bytes
from vigil.media import Limits

__all__ = ["SETUP_SECONDS", "SampleResult", "Where", "hash_sample"]

TYPES = ("md5", "sha256", "pdq")
SETUP_SECONDS = 120.0  # CPU a worker may spend opening the store and loading its indexes
Where = tuple[str, str | None, tuple[str, ...]]  # the store's home, database URL, lists
_matchers: dict[Where, Any] = {}  # in a worker: its matcher, per store and lists


@dataclass
class SampleResult:
    md5: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    quality: int | None = None
    evidence: str | None = None
    error: str | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)


def _matcher(where: Where) -> Any:
    if where not in _matchers:
        from vigil.matching.match import Matcher
        from vigil.sandbox import grant
        from vigil.store import Store

        grant(SETUP_SECONDS)  # once a worker, not charged to this sample
        home, url, lists = where
        _matchers[where] = Matcher(Store.open(home, url), list(lists))
    return _matchers[where]


def hash_sample(data: bytes, key: str, robust: bool, evidence: bool,
                where: Where) -> SampleResult:  # fmt: skip
    matcher = _matcher(where)
    types = [*TYPES, "vlocal"] if robust else list(TYPES)
    result = hash_bytes(data, key, types, Limits(), robust)
    signals = result.signals
    pdq = signals.get("pdq")
    got = SampleResult(signals["md5"].value if "md5" in signals else None,
                       signals["sha256"].value if "sha256" in signals else None,
                       pdq.value if pdq is not None else None,
                       pdq.quality if pdq is not None else None, error=result.error)  # fmt: skip
    if evidence and not result.error:
        from vigil.evidence import inspect_bytes
        from vigil.matching.scan import SCAN_EVIDENCE

        got.evidence = inspect_bytes(data, key, SCAN_EVIDENCE).summary.label
    if signals:
        got.matches = matcher.as_dicts(matcher.match_result(result))
    return got
