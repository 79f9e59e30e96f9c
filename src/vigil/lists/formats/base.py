"""The list-format extension point: one base class, one registry.

A format reads a byte stream into :data:`~vigil.lists.model.Record` items (entries, removals
and per-row problems, never an exception for one bad row) and, where it can, writes entries.
Each format ships an example file that the registry-wide contract test reads and round-trips.
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, ClassVar, TextIO

from vigil.errors import InputError, UnknownFormat
from vigil.lists.model import MAX_CATEGORY, Entry, Record, RowProblem, normalized_signal
from vigil.registry import Registry

__all__ = [
    "MAX_FIELD",
    "ListFormat",
    "WriteResult",
    "csv_rows",
    "formats",
    "parse_bool",
    "parse_category",
    "signal_or_problem",
    "text_of",
]

MAX_FIELD = 64 * 2**20  # characters of one CSV field (a long video's vPDQ runs to megabytes)


class WriteResult:
    """How many entries a writer wrote, and which it could not express in its format."""

    def __init__(self) -> None:
        self.written = 0
        self.skipped: list[tuple[str, str]] = []  # (entry key, reason)


class ListFormat(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    can_write: ClassVar[bool] = True
    # Signal types that the format can carry; used by writers and documented in --help.
    carries: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def read(cls, stream: IO[bytes], source: str, **options: str) -> Iterator[Record]:
        """Yield records; a row that cannot be read becomes a :class:`RowProblem`."""

    @classmethod
    def write(cls, entries: Iterable[Entry], out: IO[bytes]) -> WriteResult:
        raise NotImplementedError(f"{cls.name} is import-only")

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """Whether the first bytes of a file look like this format (for auto-detection)."""
        return False

    @classmethod
    @abstractmethod
    def example(cls) -> bytes:
        """A small valid file with at least two entries (benign placeholder hashes)."""


@contextmanager
def text_of(stream: IO[bytes]) -> Iterator[TextIO]:
    """The stream as UTF-8 text (BOM dropped, bad bytes replaced), leaving the stream open."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()


def parse_bool(value: object) -> bool | None:
    """JSON booleans and the strings "true"/"false"/"1"/"0"/"yes"/"no" (any case)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_category(value: object) -> int | None:
    """A category: an integer 0-2**31-1, as a JSON number or ASCII digits; None when empty.
    Anything else (``²``, 20 digits, infinity, ``1.5``) is a ValueError naming the value."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10:
        value = int(text)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CATEGORY:
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ValueError(f"category must be an integer from 0 to {MAX_CATEGORY}, got {shown}")


def csv_rows(reader: Any) -> Iterator[tuple[str, Any]]:
    """``(where, row)`` for each row of a ``csv.reader``/``DictReader``; a row the CSV module
    refuses (a field over :data:`MAX_FIELD`, a stray quote) is a RowProblem, and reading goes
    on at the next line."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (
                f"line {reader.line_num}",
                RowProblem(f"line {reader.line_num}", f"bad CSV: {exc}"),
            )
            continue
        yield f"line {reader.line_num}", row


def signal_or_problem(
    type_name: str, value: str, where: str, source: str
) -> tuple[str, str] | RowProblem:
    try:
        return normalized_signal(type_name, value, f"{source} {where}")
    except InputError as exc:
        return RowProblem(where, exc.reason)


formats: Registry[ListFormat] = Registry("list format", "vigil.list_formats", UnknownFormat)
