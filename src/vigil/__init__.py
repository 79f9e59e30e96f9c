"""Vigil: find known material and its altered copies by hash, and read how files were made.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

from vigil.errors import VigilError
from vigil.evidence import Evidence, EvidenceConfig, Report, inspect_bytes, inspect_file
from vigil.hashing import HashResult, hash_bytes, hash_file
from vigil.lists import Entry, ImportReport, Removal, RowProblem, formats
from vigil.match import Match, Matcher
from vigil.media import Limits
from vigil.scan import ScanSummary, scan
from vigil.signals import SignalType, SignalValue
from vigil.signals import registry as signal_types
from vigil.store import ListInfo, Store

__version__ = "0.1.0"

__all__ = [
    "Entry",
    "Evidence",
    "EvidenceConfig",
    "HashResult",
    "ImportReport",
    "Limits",
    "ListInfo",
    "Match",
    "Matcher",
    "Removal",
    "Report",
    "RowProblem",
    "ScanSummary",
    "SignalType",
    "SignalValue",
    "Store",
    "VigilError",
    "__version__",
    "formats",
    "hash_bytes",
    "hash_file",
    "inspect_bytes",
    "inspect_file",
    "scan",
    "signal_types",
]
