"""Scan a folder tree: hash every file (and read its evidence: how it was made) in sandboxed
worker processes on all cores, match in this process, write a JSON-lines report as it goes.

Every path met is a row: a file that cannot be read, is over its budget (CPU, memory, time)
or is not a regular file (a FIFO, a device, a link not followed) is a row with its reason. The
tree is walked as the work goes, a few files ahead of the results, so memory does not grow
with the number of files. Re-running with the same report resumes: files already in it (same
path, size and modification time) are not redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vigil.errors import MediaError, VigilError
from vigil.evidence import EvidenceConfig, Report, inspect_file
from vigil.matching.hashing import HashResult, hash_bytes
from vigil.matching.match import Matcher, acted_on
from vigil.media.decode import Limits, read_media
from vigil.media.files import Found, walk
from vigil.sandbox import Budget, Sandbox

__all__ = ["ScanSummary", "scan"]


@dataclass
class ScanSummary:
    root: str
    report: str
    files: int = 0
    skipped_done: int = 0
    matched: int = 0
    errors: int = 0
    skipped: int = 0  # links not followed, FIFOs, devices: rows, never read
    per_list: Counter[str] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)
    origins: Counter[str] = field(default_factory=Counter)  # evidence summaries, but unknown

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "report": self.report,
            "files": self.files,
            "resumed_past": self.skipped_done,
            "matched": self.matched,
            "unmatched": self.files - self.matched - self.errors - self.skipped,
            "errors": self.errors,
            "skipped": self.skipped,
            "matches_per_list": dict(self.per_list),
            "error_types": dict(self.error_types),
            "evidence_summaries": dict(self.origins),
        }


def _stamp(path: Path) -> str:
    st = path.lstat()
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def _key(stamp: str) -> int:
    return int.from_bytes(hashlib.blake2b(stamp.encode(), digest_size=8).digest(), "big")


def _done(report: Path) -> set[int]:
    """The rows of an earlier run, as 8-byte digests of their stamps (small for millions)."""
    done: set[int] = set()
    if report.exists():
        with report.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    done.add(_key(json.loads(line)["stamp"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from an interrupted run
    return done


# a scan reads evidence on every file: the EXIF thumbnail is compared with the image only up to
# 4 MP (the comparison decodes the image again; `vigil inspect` always compares)
SCAN_EVIDENCE = EvidenceConfig(options={"thumbnail_max_pixels": 4_000_000})


def hash_and_inspect(path: str, evidence: bool) -> tuple[HashResult, Report | None]:
    """A file's signals and evidence, from one read of it (runs in a sandboxed worker)."""
    try:
        data = read_media(path, Limits())
    except MediaError as exc:
        return HashResult.failed(path, exc), inspect_file(path, SCAN_EVIDENCE) if evidence else None
    result = hash_bytes(data, path, None, Limits(), True)
    return result, inspect_file(path, SCAN_EVIDENCE, data=data) if evidence else None


@dataclass
class _Run:
    matcher: Matcher
    out: IO[str]
    summary: ScanSummary
    progress: Callable[[HashResult, list[dict[str, Any]]], None] | None

    def write(self, result: HashResult, evid: Report | None, stamp: str, status: str) -> None:
        matches: list[dict[str, Any]] = []
        row: dict[str, Any]
        try:
            found = self.matcher.match_result(result) if status != "skipped" else []
            if evid is not None:  # listed models named by the file's generator metadata
                found += self.matcher.match_evidence(evid.items)
            matches = self.matcher.as_dicts(found)
            row = result.as_dict() | {"stamp": stamp, "matches": matches}
            if evid is not None:
                row["evidence"] = {k: v for k, v in evid.as_dict().items() if k != "source"}
            row["status"] = "match" if any(map(acted_on, matches)) else status
            line = json.dumps(row, default=str)
        except (ValueError, TypeError, VigilError) as exc:  # a value JSON cannot hold
            result = HashResult(result.source, result.size, result.kind, error=f"{exc}"[:500],
                                error_type=type(exc).__name__)  # fmt: skip
            row = result.as_dict() | {"stamp": stamp, "matches": [], "status": "error"}
            line, matches = json.dumps(row, default=str), []
        self.out.write(line + "\n")
        self.out.flush()
        self.count(result, matches, row["status"], evid)

    def count(self, result: HashResult, matches: list[dict[str, Any]], status: str,
              evid: Report | None) -> None:  # fmt: skip
        s = self.summary
        s.files += 1
        if matches:
            s.matched += 1
            s.per_list.update({m["list"] for m in matches})
        elif status in ("error", "skipped"):
            s.errors += status == "error"
            s.skipped += status == "skipped"
            s.error_types[result.error_type or "error"] += 1
        if evid is not None and evid.summary.label != "unknown":
            s.origins[evid.summary.label] += 1
        if self.progress:
            self.progress(result, matches)


def scan(
    root: str | os.PathLike[str],
    matcher: Matcher,
    report: str | os.PathLike[str],
    workers: int | None = None,
    progress: Callable[[HashResult, list[dict[str, Any]]], None] | None = None,
    evidence: bool = True,
    budget: Budget = Budget(),
    follow_links: bool = False,
) -> ScanSummary:
    base, out = Path(root), Path(report)
    summary = ScanSummary(str(base), str(out))
    done = _done(out)
    with out.open("a", encoding="utf-8") as fh, Sandbox(workers, budget) as sandbox:
        run = _Run(matcher, fh, summary, progress)

        def todo() -> Iterator[tuple[Found, str]]:
            for found in walk(base, follow_links):
                try:
                    stamp = _stamp(found.path)
                except OSError:
                    stamp = f"{found.path}|?|?"
                if _key(stamp) in done:
                    summary.skipped_done += 1
                elif found.skip is not None:  # never read: its row now, in this thread
                    kind, reason = found.skip
                    skipped = HashResult(str(found.path), error=reason, error_type=kind)
                    run.write(skipped, None, stamp, "skipped")
                else:
                    yield found, stamp

        outcomes = sandbox.imap(hash_and_inspect, todo(), lambda j: str(j[0].path),
                                lambda j: (str(j[0].path), evidence))  # fmt: skip
        for (found, stamp), outcome in outcomes:
            if isinstance(outcome, BaseException):
                run.write(HashResult.failed(str(found.path), outcome), None, stamp, "error")
            else:
                result, evid = outcome
                run.write(result, evid, stamp, "error" if result.error else "no_match")
    return summary
