"""Numba kernels of the local-feature index: build a posting table, look keys up in it.

A table maps a 24-bit key to postings. Postings are sorted by key; ``dirs`` holds the offset of
each value of the key's top bits (16 to 24 of them: more for larger tables, so that a bucket
stays a handful of keys), and each posting packs the remaining low bits of the key with a 24-bit
check, so a posting costs 8 bytes (feature id + packed word) and a lookup reads one contiguous
run.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["build_table", "group_pairs", "lookup", "table_keys"]

U32 = npt.NDArray[np.uint32]
CHECK_MASK = 0xFFFFFF


def directory_bits(postings: int) -> int:
    """How many top bits of the key the directory of a table of ``postings`` resolves."""
    return int(min(24, max(16, postings.bit_length() - 3)))


def build_table(keys: U32, checks: U32, fids: U32) -> tuple[U32, U32, U32]:
    """(dirs, fids, packs) of a table holding ``keys`` (24-bit) for feature ids ``fids``."""
    bits = directory_bits(len(keys))
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    low = (k & ((1 << (24 - bits)) - 1)).astype(np.uint32)
    packs = (low << 24 | (checks[order] & CHECK_MASK)).astype(np.uint32)
    dirs = np.searchsorted(k >> (24 - bits), np.arange((1 << bits) + 1, dtype=np.uint32))
    return dirs.astype(np.uint32), np.ascontiguousarray(fids[order], dtype=np.uint32), packs


def table_keys(dirs: U32, packs: U32) -> U32:
    """The 24-bit keys of a table's postings, in posting order (to merge tables)."""
    shift = 24 - (len(dirs) - 1).bit_length() + 1
    runs = np.asarray(np.diff(dirs.astype(np.int64)), dtype=np.int64)
    hi = np.repeat(np.arange(len(dirs) - 1, dtype=np.uint32), runs)
    return (hi << shift | packs >> 24).astype(np.uint32)


@numba.njit(cache=True, nogil=True)
def _popcount32(x: int) -> int:  # pragma: no cover - compiled
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return ((x * 0x01010101) & 0xFFFFFFFF) >> 24


@numba.njit(cache=True, nogil=True)
def lookup(
    dirs: U32,
    fids: U32,
    packs: U32,
    qkeys: U32,
    qchecks: U32,
    max_check: int,
    max_run: int,
    alive: npt.NDArray[np.bool_],
    per_image: int,
    out_q: npt.NDArray[np.int32],
    out_f: npt.NDArray[np.uint32],
    n_out: int,
) -> int:  # pragma: no cover - compiled
    """Append (query feature, known feature) pairs whose keys are equal and checks within
    ``max_check`` bits; returns the new count (stops when the output is full). A key held by
    more than ``max_run`` postings is a near stop word (a generic patch that many images
    have): its postings must match the check exactly."""
    cap = out_q.shape[0]
    shift = 24
    size = dirs.shape[0] - 1
    while size > 1:
        size >>= 1
        shift -= 1
    low_mask = (1 << shift) - 1
    for qi in range(qkeys.shape[0]):
        key = qkeys[qi]
        lo = key & low_mask
        hi = key >> shift
        run = 0
        for p in range(dirs[hi], dirs[hi + 1]):
            run += (packs[p] >> 24) == lo
        limit = max_check if run <= max_run else 0
        want = qchecks[qi] & CHECK_MASK
        for p in range(dirs[hi], dirs[hi + 1]):
            word = packs[p]
            if (word >> 24) != lo:
                continue
            if _popcount32((word & CHECK_MASK) ^ want) > limit:
                continue
            fid = fids[p]
            if not alive[fid // per_image]:
                continue
            if n_out >= cap:
                return n_out
            out_q[n_out] = qi
            out_f[n_out] = fid
            n_out += 1
    return n_out


@numba.njit(cache=True, nogil=True)
def group_pairs(
    pairs: npt.NDArray[np.int64], per_image: int, min_distinct: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """Runs of sorted ``feature id << 16 | query kp`` pairs by image: (image slot, distinct
    known keypoints, start, end) for images with at least ``min_distinct`` of them."""
    n = pairs.shape[0]
    slots = np.empty(n, np.int64)
    counts = np.empty(n, np.int64)
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    m = 0
    i = 0
    while i < n:
        slot = (pairs[i] >> 16) // per_image
        j = i
        distinct = 0
        last = -1
        while j < n and (pairs[j] >> 16) // per_image == slot:
            fid = pairs[j] >> 16
            if fid != last:
                distinct += 1
                last = fid
            j += 1
        if distinct >= min_distinct:
            slots[m] = slot
            counts[m] = distinct
            starts[m] = i
            ends[m] = j
            m += 1
        i = j
    return slots[:m], counts[:m], starts[:m], ends[:m]
