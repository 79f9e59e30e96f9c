"""python-threatexchange / HMA formats: the CLI's CSV export and the one-signal-per-line file.

CSV header: ``signal_type,signal_str,collab,category,tags`` (tags space-separated), as
``threatexchange dataset --csv`` writes it, then Vigil's ``entry`` and ``vigil`` columns (a
``csv.DictReader`` reads past them). Rows hold only the signal types pytx knows (``pdq``,
``vpdq``, ``video_md5``, ``video_sha256``), one row a signal; the rows of one entry are adjacent,
share its key in ``entry``, and the first holds, in ``vigil``, what the pytx columns cannot: the
other signals and all metadata (:mod:`vigil.lists.formats.carry`). A row without an entry key
(pytx's own files) is an entry of its own, keyed ``<type>:<value>``. Signal type names are pytx's
and keep their name: ``video_md5`` (MD5 of the file bytes) matches ``md5`` queries and the other
way round, and is written back as ``video_md5``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from vigil.lists.formats.base import (
    ListFormat,
    WriteResult,
    csv_rows,
    formats,
    parse_category,
    signal_or_problem,
    text_of,
)
from vigil.lists.formats.carry import annotation, annotation_json, restore
from vigil.lists.model import Entry, Record, RowProblem
from vigil.signals.pdq import EXAMPLE_PDQ

__all__ = ["PYTX_TYPES", "ThreatExchangeCsv", "ThreatExchangeLines"]

CSV_HEADER = ["signal_type", "signal_str", "collab", "category", "tags"]
HEADER = [*CSV_HEADER, "entry", "vigil"]
PYTX_TYPES = ("pdq", "vpdq", "video_md5", "video_sha256")  # the types pytx's CLI knows
_ALIASES = {"photo_md5": "md5", "pdq_hash": "pdq"}  # video_md5 keeps its name (it matches md5)
_BY_LENGTH = {32: "md5", 40: "sha1"}  # 64 hex digits are PDQ or SHA-256: never guessed
NO_PYTX_SIGNAL = "no signal type pytx knows (pdq, vpdq, video_md5, video_sha256): write vics"


def _signal_entry(type_name: str, value: str, where: str, source: str) -> Entry | RowProblem:
    got = signal_or_problem(_ALIASES.get(type_name, type_name), value, where, source)
    if isinstance(got, RowProblem):
        return got
    return Entry(key=f"{got[0]}:{got[1]}", signals=[got], source="threatexchange")


def _pytx_fields(e: Entry, collab: str, category: str, tags: str) -> Entry:
    e.source = collab or e.source
    try:
        e.category = parse_category(category)
    except ValueError:  # a named category (pytx writes names): kept as text
        e.extra["category"] = category[:200]
    e.tags = tags.split()
    return e


class _Rows:
    """The rows of one entry (adjacent, one key), gathered into that entry."""

    def __init__(self, key: str, first: list[str], where: str, source: str) -> None:
        self.key, self.first, self.where, self.source = key, first, where, source
        self.signals: list[tuple[str, str]] = []

    def entry(self) -> Entry | RowProblem:
        if self.first[6]:
            return restore(self.first[6], self.signals, self.where, self.source)
        if not self.signals:
            return RowProblem(self.where, f"entry {self.key[:80]!r} has no readable signal")
        e = Entry(self.key, self.signals, source="threatexchange")
        return _pytx_fields(e, *self.first[2:5])


@formats.register
class ThreatExchangeCsv(ListFormat):
    name = "te-csv"
    description = "python-threatexchange / HMA CSV: signal_type,signal_str,collab,category,tags"
    carries = PYTX_TYPES

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        with text_of(stream) as text:
            yield from cls._rows(csv.reader(text), source)

    @staticmethod
    def _rows(reader: Any, source: str) -> Iterator[Record]:
        columns = list(range(len(HEADER)))  # where each of HEADER's columns is
        group: _Rows | None = None
        for where, row in csv_rows(reader):
            if isinstance(row, RowProblem) or not row:
                yield from [row] if row else []
                continue
            names = [c.strip().lower() for c in row]
            if reader.line_num == 1 and {"signal_type", "signal_str"} <= set(names):
                columns = [names.index(n) if n in names else -1 for n in HEADER]
                continue
            if len(row) < 2:
                yield RowProblem(where, f"expected at least 2 columns, got {len(row)}")
                continue
            cells = [row[i].strip() if 0 <= i < len(row) else "" for i in columns]
            if group is not None and cells[5] != group.key:
                yield group.entry()
                group = None
            got = _signal_entry(cells[0], cells[1], where, source)
            if isinstance(got, RowProblem):
                yield got
            elif not cells[5]:
                yield _pytx_fields(got, *cells[2:5])
                continue
            if cells[5]:
                group = group or _Rows(cells[5], cells, where, source)
                group.signals.extend(got.signals if isinstance(got, Entry) else [])
        if group is not None:
            yield group.entry()

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        result = WriteResult()
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(HEADER)
        for e in entries:
            rows = [(t, v) for t, v in e.signals if t in PYTX_TYPES]
            if not rows:
                result.skipped.append((e.key, NO_PYTX_SIGNAL))
                continue
            named = e.extra.get("category")  # a pytx category name, as it came
            category = named if isinstance(named, str) else e.category
            for n, (type_name, value) in enumerate(rows):
                note = annotation_json(e, rows) if n == 0 else ""
                writer.writerow([type_name, value, e.source or "", category, " ".join(e.tags),
                                 e.key, note])  # fmt: skip
            result.written += 1
        text.detach()
        return result

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A header naming pytx's two columns, in any order."""
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
        names = {c.strip().strip('"').lower() for c in first.split(",")}
        return {"signal_type", "signal_str"} <= names

    @classmethod
    def example(cls) -> bytes:
        return (
            "signal_type,signal_str,collab,category,tags\n"
            f"pdq,{EXAMPLE_PDQ[0]},demo,1,a b\n"
            "video_md5,D41D8CD98F00B204E9800998ECF8427E,demo,,\n"
        ).encode()


@formats.register
class ThreatExchangeLines(ListFormat):
    name = "te-lines"
    description = (
        "python-threatexchange local file: '<signal_type> <signal>' or a bare signal per line "
        "(bare values: --signal-type, else md5/sha1 by length)"
    )
    carries = ("md5", "sha1", "sha256", "pdq", "video_md5", "video_sha256")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        default = options.get("signal_type")
        with text_of(stream) as text:
            yield from cls._lines(text, default, source)

    @staticmethod
    def _lines(text: IO[str], default: str | None, source: str) -> Iterator[Record]:
        group: _Lines | None = None
        for number, line in enumerate(text, start=1):
            where = f"line {number}"
            first, _, rest = line.strip().partition(" ")
            if first == ANNOTATION:
                yield from group.entry() if group else ()
                group = _Lines(rest, where, source)
                continue
            if not first or first.startswith("#"):
                continue
            got = _line(first, rest.strip(), default, where, source)
            if group is not None and isinstance(got, Entry):
                group.signals.extend(got.signals)
            else:
                yield got
            if group is not None and group.done(where):
                yield from group.entry()
                group = None
        yield from group.entry() if group else ()

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """python-threatexchange's local files: every first line is '<signal type> <value>'."""
        from vigil.signals import registry

        lines = [ln for ln in head.decode("utf-8", "replace").splitlines()[:20] if ln.strip()]
        complete = lines[:-1] if len(lines) > 1 else lines  # the last may be cut at 4 KiB
        names = set(registry.names())
        return bool(complete) and all(ln.split(" ", 1)[0] in names and " " in ln.strip()
                                      for ln in complete)  # fmt: skip

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        """A line a signal; before an entry that is more than one bare signal, a comment line
        with Vigil's annotation (pytx's reader skips it: ``#`` names no signal type)."""
        result = WriteResult()
        for e in entries:
            note = annotation(e, e.signals)
            if note != {"key": f"{e.signals[0][0]}:{e.signals[0][1]}", "source": "threatexchange"}:
                note["lines"] = len(e.signals)
                out.write(f"{ANNOTATION} {json.dumps(note, separators=(',', ':'))}\n".encode())
            out.write("".join(f"{t} {v}\n" for t, v in e.signals).encode())
            result.written += 1
        return result

    @classmethod
    def example(cls) -> bytes:
        md5 = "900150983cd24fb0d6963f7d28e17f72"
        return f"# benign example\npdq {EXAMPLE_PDQ[0]}\n{md5}\n".encode()


ANNOTATION = "#vigil.entry"


def _line(first: str, rest: str, default: str | None, where: str, source: str) -> Record:
    if rest:  # '<type> <signal>': a vPDQ value holds spaces of its own
        return _signal_entry(first, rest, where, source)
    guess = default or _BY_LENGTH.get(len(first))
    if guess is None:
        why = ("64 hex digits may be PDQ or SHA-256: give --signal-type"
               if len(first) == 64 else "give --signal-type")  # fmt: skip
        return RowProblem(where, f"cannot tell the signal type of {first[:80]!r} ({why})")
    return _signal_entry(guess, first, where, source)


class _Lines:
    """An annotation line and the signal lines it says are its entry's."""

    def __init__(self, note: str, where: str, source: str) -> None:
        self.note, self.where, self.source = note, where, source
        self.signals: list[tuple[str, str]] = []
        try:
            self.lines = int(json.loads(note).get("lines", 0))
        except (ValueError, TypeError, AttributeError, RecursionError):
            self.lines = 0
        self.seen = 0

    def done(self, where: str) -> bool:
        self.seen += 1
        return self.seen >= self.lines

    def entry(self) -> Iterator[Record]:
        yield restore(self.note, self.signals, self.where, self.source)
