"""A report file's content where it is at hand (issue 19): hashed with the payloads robust
matching reads and inspected for evidence, in one pass over its bytes. The service runs
:func:`inspect_content` in a sandboxed worker (a hostile upload costs its budget, no more);
only hashes, matches and evidence are kept from it."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.evidence import inspect_bytes
from vigil.evidence.report import Report as Inspection
from vigil.matching.hashing import HashResult, hash_bytes
from vigil.media import Limits

__all__ = ["FileContent", "inspect_content"]


@dataclass(frozen=True)
class FileContent:
    """A report file's content as hashed (with payloads: the robust signal's keypoints) and
    inspected."""

    result: HashResult
    inspection: Inspection | None = None


def inspect_content(data: bytes, name: str) -> FileContent:
    """``data`` hashed (every signal that applies, with the query side of the robust one) and
    inspected."""
    return FileContent(hash_bytes(data, name, None, Limits(), True), inspect_bytes(data, name))
