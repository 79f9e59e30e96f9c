"""The change log replayed as index operations: runs of PDQ additions become one array, in
order with removals, and a malformed logged hash is an error, never a silently shifted row."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from vigil.errors import StoreError
from vigil.index import HammingIndex
from vigil.store.ops import apply_ops, to_ops


class Row(NamedTuple):
    seq: int
    signal_id: int
    value: str
    op: str


def _hex(seed: int) -> str:
    return np.random.default_rng(seed).integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def _no_apart(ids: list[int]) -> dict[int, str]:
    raise AssertionError("PDQ values are read from the log itself")


def test_runs_of_additions_and_removals_keep_their_order() -> None:
    rows = [Row(1, 1, _hex(1), "+"), Row(2, 2, _hex(2), "+"), Row(3, 1, "", "-"),
            Row(4, 3, _hex(3), "+"), Row(5, 4, _hex(4), "+")]  # fmt: skip
    ops = to_ops(rows, "pdq", _no_apart)
    assert [(op.add, op.ids) for op in ops] == [(True, [1, 2]), (False, [1]), (True, [3, 4])]
    assert np.asarray(ops[2].values).tobytes() == bytes.fromhex(_hex(3) + _hex(4))
    idx = HammingIndex()
    apply_ops(idx, ops)
    assert idx.query(bytes.fromhex(_hex(1)), 0) == []
    assert [i for i, _ in idx.query(bytes.fromhex(_hex(4)), 0)] == [4]
    assert len(idx) == 3


def test_a_bulk_run_of_additions_is_one_array() -> None:
    rows = [Row(i, i, _hex(i), "+") for i in range(1, 2001)]
    (op,) = to_ops(rows, "pdq", _no_apart)
    assert isinstance(op.values, np.ndarray)
    assert op.values.shape == (2000, 32)
    assert op.values[1999].tobytes().hex() == _hex(2000)


@pytest.mark.parametrize("values", [(_hex(1)[:62], _hex(2) + "ab"), ("zz" * 32, _hex(2))])
def test_a_malformed_logged_hash_is_an_error(values: tuple[str, str]) -> None:
    rows = [Row(i, i, v, "+") for i, v in enumerate(values, 1)]
    with pytest.raises(StoreError, match="64 hex digits"):
        to_ops(rows, "pdq", _no_apart)
