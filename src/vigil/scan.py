"""Scan a folder tree: hash every file on all cores (and read its evidence: how it was made),
match in this process, write a JSON-lines report as it goes. A file that cannot be read is a
row with its error. Re-running with the same report resumes: files already in it (same path,
size and modification time) are not redone.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import MediaError
from vigil.evidence import EvidenceConfig, Report, inspect_file
from vigil.hashing import HashResult, hash_bytes
from vigil.match import Matcher
from vigil.media.decode import Limits, read_media

__all__ = ["ScanSummary", "iter_files", "scan"]


@dataclass
class ScanSummary:
    root: str
    report: str
    files: int = 0
    skipped_done: int = 0
    matched: int = 0
    errors: int = 0
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
            "unmatched": self.files - self.matched - self.errors,
            "errors": self.errors,
            "matches_per_list": dict(self.per_list),
            "error_types": dict(self.error_types),
            "evidence_summaries": dict(self.origins),
        }


def iter_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` in a stable order; symbolic links are not followed."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def _done(report: Path) -> set[str]:
    done: set[str] = set()
    if report.exists():
        with report.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    done.add(json.loads(line)["stamp"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from an interrupted run
    return done


# a scan reads evidence on every file: the EXIF thumbnail is compared with the image only up to
# 4 MP (the comparison decodes the image again; `vigil inspect` always compares)
SCAN_EVIDENCE = EvidenceConfig(options={"thumbnail_max_pixels": 4_000_000})


def _hash_one(job: tuple[str, bool]) -> tuple[HashResult, Report | None]:
    """A file's signals and evidence, from one read of it."""
    path, evidence = job
    try:
        data = read_media(path, Limits())
    except MediaError as exc:
        failed = HashResult(path, error=exc.reason, error_type=type(exc).__name__)
        return failed, inspect_file(path, SCAN_EVIDENCE) if evidence else None
    result = hash_bytes(data, path, None, Limits(), True)
    return result, inspect_file(path, SCAN_EVIDENCE, data=data) if evidence else None


def scan(
    root: str | os.PathLike[str],
    matcher: Matcher,
    report: str | os.PathLike[str],
    workers: int | None = None,
    progress: Callable[[HashResult, list[dict[str, Any]]], None] | None = None,
    evidence: bool = True,
) -> ScanSummary:
    base, out = Path(root), Path(report)
    summary = ScanSummary(str(base), str(out))
    done = _done(out)
    todo: list[tuple[str, str]] = []
    for path in iter_files(base):
        stamp = _stamp(path)
        if stamp in done:
            summary.skipped_done += 1
        else:
            todo.append((str(path), stamp))
    stamps = dict(todo)
    workers = workers or os.cpu_count() or 1
    with out.open("a", encoding="utf-8") as fh, ProcessPoolExecutor(workers) as pool:
        jobs = [(p, evidence) for p, _ in todo]
        for result, evid in pool.map(_hash_one, jobs, chunksize=8):
            found = matcher.match_result(result)
            if evid is not None:  # listed models named by the file's generator metadata
                found += matcher.match_evidence(evid.items)
            matches = [m.as_dict(matcher.labels(m.list)) for m in found]
            row = result.as_dict() | {"stamp": stamps[result.source], "matches": matches}
            if evid is not None:
                row["evidence"] = {k: v for k, v in evid.as_dict().items() if k != "source"}
            row["status"] = "match" if matches else ("error" if result.error else "no_match")
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            _count(summary, result, matches)
            if evid is not None and evid.summary.label != "unknown":
                summary.origins[evid.summary.label] += 1
            if progress:
                progress(result, matches)
    return summary


def _count(summary: ScanSummary, result: HashResult, matches: list[dict[str, Any]]) -> None:
    summary.files += 1
    if matches:
        summary.matched += 1
        summary.per_list.update({m["list"] for m in matches})
    elif result.error:
        summary.errors += 1
        summary.error_types[result.error_type or "error"] += 1
