"""Lists (HMA calls them banks): entries of signals plus metadata, and the formats to move them."""

from vigil.lists.formats import ListFormat, WriteResult, detect, formats
from vigil.lists.model import Entry, ImportReport, Record, Removal, RowProblem

__all__ = [
    "Entry",
    "ImportReport",
    "ListFormat",
    "Record",
    "Removal",
    "RowProblem",
    "WriteResult",
    "detect",
    "formats",
]
