"""Logged changes as index operations, and applying them to an index.

The change log (``changes``) holds one row per index-served signal added or removed. Replaying
it is what keeps every process's indexes current, so it is on the hot path of a bulk import:
for plain Hamming signals (PDQ and the like, whose values are hex strings) a run of additions
becomes one array with a single ``bytes.fromhex``, not one Python object per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import StoreError
from vigil.index import HammingIndex, LocalIndex
from vigil.signals import registry
from vigil.signals.base import SignalType

__all__ = ["AnyIndex", "Op", "apply_ops", "to_ops"]

AnyIndex = HammingIndex | LocalIndex
Values = list[bytes] | npt.NDArray[np.uint8]


@dataclass
class Op:
    """Add ``values`` under ``ids`` (``add``), or remove ``ids`` (values unused)."""

    add: bool
    ids: list[int]
    values: Values


def to_ops(
    rows: Sequence[Any], signal_type: str, stored: Callable[[list[int]], dict[int, str]]
) -> list[Op]:
    """Logged changes (rows of seq, signal_id, value, op, oldest first) as index operations, in
    order. ``stored`` reads the values kept apart from the log (the type's values are
    ``large``: video frames, vlocal records); the type says what rows a value indexes."""
    cls = registry.get(signal_type)
    if not cls.large and _plain_hex(cls):
        return _hamming_ops(rows)
    apart = stored([r.signal_id for r in rows if r.op == "+"]) if cls.large else {}
    ops: list[Op] = []
    for r in rows:
        if r.op == "-":
            _push(ops, False, [(r.signal_id, b"")])
        elif not cls.large:
            _push(ops, True, cls.index_rows(r.signal_id, r.value))
        elif r.signal_id in apart:  # else removed since: a later "-" follows
            _push(ops, True, cls.index_rows(r.signal_id, apart[r.signal_id]))
    return ops


def _push(ops: list[Op], add: bool, items: list[tuple[int, bytes]]) -> None:
    """Append to the last operation if it is of the same kind (runs go together)."""
    if not items:
        return
    if not ops or ops[-1].add != add:
        ops.append(Op(add, [], []))
    last = ops[-1]
    assert isinstance(last.values, list)
    last.ids.extend(i for i, _ in items)
    last.values.extend(v for _, v in items)


def _plain_hex(cls: type[SignalType]) -> bool:
    """Whether a type's index bytes are its value read as hex (the default), 32 bytes."""
    own = cls.value_bytes.__func__  # type: ignore[attr-defined]
    default = SignalType.value_bytes.__func__  # type: ignore[attr-defined]
    return cls.indexed_by == "hamming" and cls.bits == 256 and own is default


def _hamming_ops(rows: Sequence[Any]) -> list[Op]:
    if not rows:
        return []
    _, ids, values, kinds = zip(*rows, strict=True)
    if "-" not in kinds:  # a bulk import: one run of additions
        return [Op(True, list(ids), _hashes(values))]
    ops: list[Op] = []
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or kinds[end] != kinds[start]:
            add = kinds[start] == "+"
            run = values[start:end] if add else ()
            ops.append(Op(add, list(ids[start:end]), _hashes(run)))
            start = end
    return ops


def _hashes(values: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Hex values of 64 digits as an (n, 32) array, converted at once."""
    try:
        if values and set(map(len, values)) != {64}:
            raise ValueError("not 64 digits")
        raw = bytes.fromhex("".join(values))
    except ValueError as exc:
        raise StoreError(f"the change log holds a hash that is not 64 hex digits: {exc}") from exc
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32)


def apply_ops(idx: AnyIndex, ops: list[Op], merge: bool = True) -> None:
    """Apply :func:`to_ops`'s operations to an index (see HammingIndex.add for ``merge``)."""
    for op in ops:
        if not op.add:
            idx.remove(op.ids)
        elif isinstance(idx, HammingIndex):
            idx.add(op.ids, op.values, merge)
        else:
            assert isinstance(op.values, list)
            idx.add(op.ids, op.values)
