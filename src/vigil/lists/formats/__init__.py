"""List formats, registered by name: vics, te-csv, te-lines, stopncii, ncmec, icse."""

from vigil.lists.formats import icse, ncmec, stopncii, threatexchange, vics
from vigil.lists.formats.base import ListFormat, WriteResult, formats

del icse, ncmec, stopncii, threatexchange, vics

__all__ = ["ListFormat", "WriteResult", "detect", "formats"]


def detect(head: bytes) -> str | None:
    """The name of the format whose ``sniff`` accepts these first bytes, if exactly one does."""
    hits = [f.name for f in formats if f.sniff(head)]
    return hits[0] if len(hits) == 1 else None
