"""Vigil: find known material and its altered copies by hash, and read how files were made.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from vigil.errors import VigilError
    from vigil.evidence import Evidence, EvidenceConfig, Report, inspect_bytes, inspect_file
    from vigil.lists import Entry, ImportReport, Removal, RowProblem, formats
    from vigil.matching.hashing import HashResult, hash_bytes, hash_file
    from vigil.matching.match import Match, Matcher
    from vigil.matching.scan import ScanSummary, scan
    from vigil.media import Limits
    from vigil.signals import SignalType, SignalValue
    from vigil.signals import registry as signal_types
    from vigil.store import ListInfo, Store

# Where each public name lives: imported when first used, so that `import vigil.cli` (and
# `vigil --help`) does not load the store, numba and OpenCV.
_WHERE = {
    "VigilError": "vigil.errors",
    "Evidence": "vigil.evidence", "EvidenceConfig": "vigil.evidence", "Report": "vigil.evidence",
    "inspect_bytes": "vigil.evidence", "inspect_file": "vigil.evidence",
    "HashResult": "vigil.matching.hashing", "hash_bytes": "vigil.matching.hashing",
    "hash_file": "vigil.matching.hashing",
    "Entry": "vigil.lists", "ImportReport": "vigil.lists", "Removal": "vigil.lists",
    "RowProblem": "vigil.lists", "formats": "vigil.lists",
    "Match": "vigil.matching.match", "Matcher": "vigil.matching.match",
    "Limits": "vigil.media",
    "ScanSummary": "vigil.matching.scan", "scan": "vigil.matching.scan",
    "SignalType": "vigil.signals", "SignalValue": "vigil.signals",
    "signal_types": "vigil.signals:registry",
    "ListInfo": "vigil.store", "Store": "vigil.store",
}  # fmt: skip


def __getattr__(name: str) -> _typing.Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'vigil' has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = getattr(_importlib.import_module(module), attr or name)
    globals()[name] = value
    return value


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


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
