"""StopNCII ``FetchHashes`` JSON: ``{"hashRecords": [{signalType, hashValue, hashStatus,
caseNumbers: {uuid: status}, lastModtimestamp, CSPFeedbacks}, ...]}``.

A later record for the same (signalType, hash) replaces the earlier; a record whose hash status,
or every case, is Withdrawn or Deleted removes the entry. Also accepts a bare list of records or
one record per line (JSON lines), as a sync job may store pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from vigil.lists.formats.base import ListFormat, WriteResult, formats, signal_or_problem
from vigil.lists.model import Entry, Record, Removal, RowProblem
from vigil.signals.pdq import EXAMPLE_PDQ

__all__ = ["StopNciiJson"]

TYPES = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
WRITE_TYPES = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
GONE = {"Withdrawn", "Deleted"}


def _records(raw: str) -> Iterator[tuple[str, Any]]:
    """(where, record) for a FetchHashes document, a JSON array, or JSON lines; a line that is
    not JSON is a RowProblem and the next line is read."""
    stripped = raw.strip()
    if stripped.startswith("{") and '"hashRecords"' in stripped[:4096]:
        doc = json.loads(stripped)
        records = doc.get("hashRecords") if isinstance(doc, dict) else None
        yield from ((f"record {n}", r) for n, r in enumerate(records or []))
        return
    if stripped.startswith("["):
        yield from ((f"record {n}", r) for n, r in enumerate(json.loads(stripped)))
        return
    for n, line in enumerate(stripped.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"line {n}", json.loads(line)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:300]
            yield f"line {n}", RowProblem(f"line {n}", f"not JSON: {reason}")


def _record(rec: Any, where: str, source: str) -> Record:
    if not isinstance(rec, dict):
        return RowProblem(where, "record is not an object")
    kind = rec.get("signalType")
    if kind not in TYPES:
        return RowProblem(where, f"unsupported signalType {kind!r} (supported: {sorted(TYPES)})")
    got = signal_or_problem(TYPES[kind], str(rec.get("hashValue", "")), where, source)
    if isinstance(got, RowProblem):
        return got
    key = f"{got[0]}:{got[1]}"
    cases = rec.get("caseNumbers") or {}
    statuses = set(cases.values()) if isinstance(cases, dict) else set()
    if rec.get("hashStatus") in GONE:
        return Removal(key, f"StopNCII hash status {rec['hashStatus']}")
    if statuses and statuses <= GONE:
        return Removal(key, f"every StopNCII case is {'/'.join(sorted(statuses))}")
    extra = {k: rec[k] for k in ("caseNumbers", "lastModtimestamp", "CSPFeedbacks") if k in rec}
    return Entry(key=key, signals=[got], source="stopncii", extra=extra)


@formats.register
class StopNciiJson(ListFormat):
    name = "stopncii"
    description = "StopNCII FetchHashes JSON (hashRecords); Withdrawn/Deleted remove entries"
    carries = ("pdq", "md5")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        try:
            for where, rec in _records(stream.read().decode("utf-8-sig")):
                yield rec if isinstance(rec, RowProblem) else _record(rec, where, source)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:300]
            yield RowProblem("file", f"not StopNCII JSON: {reason}")

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        result = WriteResult()
        out.write(b'{"hashRecords":[')
        first = True
        for e in entries:
            rows = [
                {
                    "signalType": WRITE_TYPES[t],
                    "hashValue": v,
                    "hashStatus": "Active",
                    "caseNumbers": e.extra.get("caseNumbers", {}),
                    "lastModtimestamp": e.extra.get("lastModtimestamp", 0),
                }
                for t, v in e.signals
                if t in WRITE_TYPES
            ]
            if not rows:
                result.skipped.append((e.key, "StopNCII carries only PDQ and MD5"))
                continue
            for row in rows:
                out.write((b"" if first else b",") + b"\n" + json.dumps(row).encode())
                first = False
            result.written += 1
        out.write(b"\n]}\n")
        return result

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return b'"hashRecords"' in head

    @classmethod
    def example(cls) -> bytes:
        return json.dumps(
            {
                "count": 3,
                "hasMoreRecords": False,
                "hashRecords": [
                    {
                        "lastModtimestamp": 1700000000,
                        "signalType": "ImagePDQ",
                        "hashValue": EXAMPLE_PDQ[0],
                        "hashStatus": "Active",
                        "caseNumbers": {"case-1": "Active"},
                    },
                    {
                        "lastModtimestamp": 1700000001,
                        "signalType": "VideoMD5",
                        "hashValue": "900150983cd24fb0d6963f7d28e17f72",
                        "hashStatus": "Active",
                        "caseNumbers": {"case-2": "Received"},
                    },
                    {
                        "lastModtimestamp": 1700000002,
                        "signalType": "ImagePDQ",
                        "hashValue": EXAMPLE_PDQ[1],
                        "hashStatus": "Active",
                        "caseNumbers": {"case-3": "Withdrawn"},
                    },
                ],
            },
            indent=1,
        ).encode()
