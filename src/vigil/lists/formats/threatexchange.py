"""python-threatexchange / HMA formats: the CLI's CSV export and the one-signal-per-line file.

CSV header: ``signal_type,signal_str,collab,category,tags`` (tags space-separated). Signal type
names are pytx's and keep their name: ``video_md5`` (MD5 of the file bytes) matches ``md5``
queries and the other way round, and is written back as ``video_md5``. Each row
is one entry keyed by ``<type>:<value>``; an entry with several signals writes one row per signal.
"""

from __future__ import annotations

import csv
import io
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
from vigil.lists.model import Entry, Record, RowProblem
from vigil.signals.pdq import EXAMPLE_PDQ

__all__ = ["ThreatExchangeCsv", "ThreatExchangeLines"]

CSV_HEADER = ["signal_type", "signal_str", "collab", "category", "tags"]
_ALIASES = {"photo_md5": "md5", "pdq_hash": "pdq"}  # video_md5 keeps its name (it matches md5)
_BY_LENGTH = {32: "md5", 40: "sha1"}  # 64 hex digits are PDQ or SHA-256: never guessed


def _signal_entry(type_name: str, value: str, where: str, source: str) -> Entry | RowProblem:
    got = signal_or_problem(_ALIASES.get(type_name, type_name), value, where, source)
    if isinstance(got, RowProblem):
        return got
    return Entry(key=f"{got[0]}:{got[1]}", signals=[got], source="threatexchange")


@formats.register
class ThreatExchangeCsv(ListFormat):
    name = "te-csv"
    description = "python-threatexchange / HMA CSV: signal_type,signal_str,collab,category,tags"
    carries = ("md5", "sha1", "sha256", "pdq", "video_md5", "video_sha256")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        with text_of(stream) as text:
            yield from cls._rows(csv.reader(text), source)

    @staticmethod
    def _rows(reader: Any, source: str) -> Iterator[Record]:
        for where, row in csv_rows(reader):
            if isinstance(row, RowProblem):
                yield row
                continue
            if not row or (reader.line_num == 1 and row[:2] == CSV_HEADER[:2]):
                continue
            if len(row) < 2:
                yield RowProblem(where, f"expected at least 2 columns, got {len(row)}")
                continue
            got = _signal_entry(row[0].strip(), row[1], where, source)
            if isinstance(got, Entry):
                collab, category, tags = [*row[2:], "", "", ""][:3]
                got.source = collab or got.source
                try:
                    got.category = parse_category(category)
                except ValueError:  # a named category (pytx writes names): kept as text
                    got.extra["category"] = category[:200]
                got.tags = tags.split()
            yield got

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        result = WriteResult()
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for e in entries:
            category = e.category if e.category is not None else e.extra.get("category", "")
            for type_name, value in e.signals:
                writer.writerow([type_name, value, e.source or "", category, " ".join(e.tags)])
            result.written += 1
        text.detach()
        return result

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf").startswith(b"signal_type,signal_str")

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
        "(bare values: --signal-type, else md5/sha1/pdq by length)"
    )
    carries = ("md5", "sha1", "sha256", "pdq", "video_md5", "video_sha256")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        default = options.get("signal_type")
        with text_of(stream) as text:
            yield from cls._lines(text, default, source)

    @staticmethod
    def _lines(text: IO[str], default: str | None, source: str) -> Iterator[Record]:
        for number, line in enumerate(text, start=1):
            where = f"line {number}"
            first, _, rest = line.strip().partition(" ")
            if not first or first.startswith("#"):
                continue
            if rest.strip():  # '<type> <signal>': a vPDQ value holds spaces of its own
                yield _signal_entry(first, rest.strip(), where, source)
                continue
            guess = default or _BY_LENGTH.get(len(first))
            if guess is None:
                why = ("64 hex digits may be PDQ or SHA-256: give --signal-type"
                       if len(first) == 64 else "give --signal-type")  # fmt: skip
                yield RowProblem(where, f"cannot tell the signal type of {first[:80]!r} ({why})")
            else:
                yield _signal_entry(guess, first, where, source)

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
        result = WriteResult()
        for e in entries:
            out.write("".join(f"{t} {v}\n" for t, v in e.signals).encode())
            result.written += 1
        return result

    @classmethod
    def example(cls) -> bytes:
        md5 = "900150983cd24fb0d6963f7d28e17f72"
        return f"# benign example\npdq {EXAMPLE_PDQ[0]}\n{md5}\n".encode()
