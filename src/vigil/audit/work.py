"""One sample's work, in a sandboxed worker (issue 22): its signals hashed (MD5, SHA-256, PDQ,
and the robust signal where asked) and its evidence summary read, from one decode, as
`vigil scan` does a file. What goes back to the matching process is small: the hashes, the
robust signal's query (for matching only) and the evidence label."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.hashing import HashResult, hash_bytes
from vigil.media import Limits

__all__ = ["SampleResult", "hash_sample"]

TYPES = ("md5", "sha256", "pdq")


@dataclass
class SampleResult:
    result: HashResult | None  # for matching (the robust query rides in its payload)
    md5: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    quality: int | None = None
    evidence: str | None = None
    error: str | None = None


def hash_sample(data: bytes, key: str, robust: bool, evidence: bool) -> SampleResult:
    types = [*TYPES, "vlocal"] if robust else list(TYPES)
    result = hash_bytes(data, key, types, Limits(), robust)
    signals = result.signals
    pdq = signals.get("pdq")
    got = SampleResult(result, signals["md5"].value if "md5" in signals else None,
                       signals["sha256"].value if "sha256" in signals else None,
                       pdq.value if pdq is not None else None,
                       pdq.quality if pdq is not None else None, error=result.error)  # fmt: skip
    if evidence and not result.error:
        from vigil.evidence import inspect_bytes
        from vigil.scan import SCAN_EVIDENCE

        got.evidence = inspect_bytes(data, key, SCAN_EVIDENCE).summary.label
    return got
