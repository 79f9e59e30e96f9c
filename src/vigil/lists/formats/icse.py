"""Interpol ICSE semicolon-separated CSV (import only). Header:
``MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;
Number of submissions;File Available;Media Type;Baseline``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

from vigil.lists.formats.base import (
    ListFormat,
    csv_rows,
    formats,
    parse_bool,
    signal_or_problem,
    text_of,
)
from vigil.lists.model import Entry, Record, RowProblem

__all__ = ["IcseCsv"]

HEADER = (
    "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
    "Series name;Number of submissions;File Available;Media Type;Baseline"
)
EXTRA = (
    "Image ID",
    "Is distributed",
    "Offender identified",
    "Number of submissions",
    "File Available",
    "Media Type",
    "Baseline",
    "PhotoDNA",
)


def _row(row: dict[str, Any], where: str, source: str) -> Record:
    sigs: list[tuple[str, str]] = []
    for column, type_name in (("MD5", "md5"), ("SHA1", "sha1")):
        value = (row.get(column) or "").strip()
        if value:
            got = signal_or_problem(type_name, value, where, source)
            if isinstance(got, RowProblem):
                return got
            sigs.append(got)
    image_id = (row.get("Image ID") or "").strip()
    if not sigs:
        return RowProblem(where, "row has neither MD5 nor SHA1")
    try:
        victim = parse_bool(row.get("Victim identified"))
    except ValueError as exc:
        return RowProblem(where, str(exc))
    key = f"{sigs[0][0]}:{sigs[0][1]}" if not image_id else f"icse:{image_id}"
    extra = {k: row[k].strip() for k in EXTRA if (row.get(k) or "").strip()}
    return Entry(
        key=key,
        signals=sigs,
        series=(row.get("Series name") or "").strip() or None,
        victim_identified=victim,
        source="icse",
        extra=extra,
    )


@formats.register
class IcseCsv(ListFormat):
    name = "icse"
    description = "Interpol ICSE semicolon CSV (import only)"
    can_write = False
    carries = ("md5", "sha1")

    @classmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        with text_of(stream) as text:
            reader = csv.DictReader(text, delimiter=";")
            # headers in any case and order, as the field's readers take them
            canonical = {h.lower(): h for h in HEADER.split(";")}
            reader.fieldnames = [canonical.get(h.strip().lower(), h.strip())
                                 for h in reader.fieldnames or []]  # fmt: skip
            if not {"MD5", "SHA1"} & set(reader.fieldnames or []):
                yield RowProblem("line 1", f"header lacks MD5 and SHA1: {reader.fieldnames}")
                return
            for where, row in csv_rows(reader):
                yield row if isinstance(row, RowProblem) else _row(row, where, source)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf").lower().startswith((b"md5;sha1;", b"sha1;md5;"))

    @classmethod
    def example(cls) -> bytes:
        return (
            HEADER + "\n"
            "900150983CD24FB0D6963F7D28E17F72;A9993E364706816ABA3E25717850C26C9CD0D89D;;"
            "1234;true;false;false;benign-series;3;no;Image;false\n"
            "D41D8CD98F00B204E9800998ECF8427E;;;1235;false;true;false;;1;no;Image;false\n"
        ).encode()
