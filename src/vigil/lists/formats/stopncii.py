"""StopNCII ``FetchHashes`` JSON: ``{"hashRecords": [{signalType, hashValue, hashStatus,
caseNumbers: {uuid: status}, lastModtimestamp, CSPFeedbacks}, ...]}``.

A later record for the same (signalType, hash) replaces the earlier; a record whose hash status,
or every case, is Withdrawn or Deleted removes the entry. Also accepts a bare list of records or
one record per line (JSON lines), as a sync job may store pages.

Vigil writes an entry's records next to each other, each with a ``vigil.entry`` field (pytx's
client and the service's readers skip fields they do not know): the first holds the entry's
key, all its signals (a record renames an MD5: ``VideoMD5`` reads back as ``md5``) and its
metadata (:mod:`vigil.lists.formats.carry`), the rest its key.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from vigil.lists.formats.base import ListFormat, WriteResult, formats, signal_or_problem
from vigil.lists.formats.carry import annotation, restore
from vigil.lists.model import Entry, Record, Removal, RowProblem
from vigil.signals.pdq import EXAMPLE_PDQ

__all__ = ["StopNciiJson", "record_of"]

TYPES = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
WRITE_TYPES = {"pdq": "ImagePDQ", "md5": "VideoMD5", "video_md5": "VideoMD5"}
GONE = {"Withdrawn", "Deleted"}
KEPT = ("caseNumbers", "lastModtimestamp", "CSPFeedbacks", "hashStatus", "hashRegions")
ANNOTATION = "vigil.entry"
VIDEO_SIGNALS = {"vpdq", "vpdq_borderless", "vlocal_video", "video_md5"}


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
    extra = {k: rec[k] for k in KEPT if k in rec}
    extra["signalType"] = kind  # so that a video's MD5 goes back out as VideoMD5
    return Entry(key=key, signals=[got], source="stopncii", extra=extra)


def record_of(rec: Any, where: str, source: str) -> Record:
    """One ``hashRecords`` item as a record (an exchange's pages use this too)."""
    return _record(rec, where, source)


@formats.register
class StopNciiJson(ListFormat):
    name = "stopncii"
    description = "StopNCII FetchHashes JSON (hashRecords); Withdrawn/Deleted remove entries"
    carries = ("pdq", "md5", "video_md5")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        group: _Group | None = None
        try:
            for where, rec in _records(stream.read().decode("utf-8-sig")):
                got = rec if isinstance(rec, RowProblem) else _record(rec, where, source)
                note = rec.get(ANNOTATION) if isinstance(rec, dict) else None
                if isinstance(got, Entry) and isinstance(note, dict):
                    if group is not None and group.key == note.get("key"):
                        continue
                    yield from group.entry() if group else ()
                    group = _Group(note, where, source)
                    continue
                yield from group.entry() if group else ()
                group = None
                yield got
            yield from group.entry() if group else ()
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:300]
            yield RowProblem("file", f"not StopNCII JSON: {reason}")

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        """A FetchHashes response: every record, then ``count``, ``nextPageToken``,
        ``nextSetTimestamp`` and ``hasMoreRecords`` (after the records: JSON keys have no
        order), each record's status, cases, feedback and regions as they were imported."""
        result = WriteResult()
        out.write(b'{"hashRecords":[')
        count, latest = 0, 0
        for e in entries:
            carried = list(dict.fromkeys((t, v) for t, v in e.signals if _carried(e, t)))
            rows = list({(WRITE_TYPES[t], v): _row(e, t, v) for t, v in carried}.values())
            if not rows:
                result.skipped.append((e.key, "StopNCII carries image PDQ and video MD5 only"))
                continue
            rows[0][ANNOTATION] = annotation(e, ())  # every signal: records rename MD5s
            for row in rows[1:]:
                row[ANNOTATION] = {"key": e.key}
            for row in rows:
                out.write((b"," if count else b"") + b"\n" + json.dumps(row).encode())
                count += 1
                with contextlib.suppress(TypeError, ValueError):
                    latest = max(latest, int(row["lastModtimestamp"]))
            result.written += 1
        tail = {"count": count, "nextPageToken": None, "nextSetTimestamp": latest,
                "hasMoreRecords": False}  # fmt: skip
        out.write(b"\n]," + json.dumps(tail).encode()[1:] + b"\n")
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


def _carried(e: Entry, signal_type: str) -> bool:
    """PDQ always; an MD5 only where it is a video's (StopNCII has no image MD5)."""
    if signal_type in ("pdq", "video_md5"):
        return True
    if signal_type != "md5":
        return False
    video = e.extra.get("signalType") == "VideoMD5" or e.extra.get("media_type") == "video"
    return video or any(t in VIDEO_SIGNALS for t, _ in e.signals)


def _row(e: Entry, signal_type: str, value: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "signalType": WRITE_TYPES[signal_type],
        "hashValue": value,
        "hashStatus": e.extra.get("hashStatus", "Active"),
        "caseNumbers": e.extra.get("caseNumbers", {}),
        "lastModtimestamp": e.extra.get("lastModtimestamp", 0),
    }
    row.update({k: e.extra[k] for k in ("CSPFeedbacks", "hashRegions") if k in e.extra})
    return row


class _Group:
    """The adjacent records of one entry, read as the first one's annotation."""

    def __init__(self, note: dict[str, Any], where: str, source: str) -> None:
        self.note, self.where, self.source = note, where, source
        self.key = note.get("key")

    def entry(self) -> Iterator[Record]:
        yield restore(self.note, [], self.where, self.source)  # the note lists every signal
