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

__all__ = ["build_table", "lookup", "pairs_of", "table_keys", "tally"]

U32 = npt.NDArray[np.uint32]
CHECK_MASK = 0xFFFFFF
I64 = int | np.int64


def directory_bits(postings: int) -> int:
    """How many top bits of the key the directory of a table of ``postings`` resolves."""
    return int(min(24, max(16, postings.bit_length() - 3)))


def build_table(keys: U32, checks: U32, fids: U32) -> tuple[U32, U32, U32]:
    """(dirs, fids, packs) of a table holding ``keys`` (24-bit) for feature ids ``fids``."""
    bits = directory_bits(len(keys))
    order = np.lexsort((checks & CHECK_MASK, keys))  # by key, then check: packs sort in a bucket
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
def _lower(packs: U32, lo: I64, hi: I64, value: I64) -> I64:  # pragma: no cover - compiled
    """First position in packs[lo:hi] (sorted) whose word is >= value."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if packs[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


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
    ``max_check`` bits; returns the new count (stops when the output is full).

    Within a bucket the packed words are sorted (key's low bits, then check), so a key's run
    and an exact (key, check) run are found by binary search. A key held by more than
    ``max_run`` postings is a near stop word (a generic patch that many images have): only its
    postings with the exact check count, and none if even those are more than ``max_run``."""
    cap = out_q.shape[0]
    shift = 24
    size = dirs.shape[0] - 1
    while size > 1:
        size >>= 1
        shift -= 1
    low_mask = (1 << shift) - 1
    for qi in range(qkeys.shape[0]):
        key = np.int64(qkeys[qi])
        hi = key >> shift
        base = (key & low_mask) << 24
        first, last = np.int64(dirs[hi]), np.int64(dirs[hi + 1])
        start = _lower(packs, first, last, base)
        end = _lower(packs, start, last, base + (1 << 24))
        want = np.int64(qchecks[qi]) & CHECK_MASK
        limit = max_check
        if end - start > max_run:
            start = _lower(packs, start, end, base | want)
            end = _lower(packs, start, end, (base | want) + 1)
            limit = 0
            if end - start > max_run:
                continue
        for p in range(start, end):
            if _popcount32((packs[p] & CHECK_MASK) ^ want) > limit:
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
def tally(
    out_f: U32,
    per_image: int,
    seen: npt.NDArray[np.uint8],
    votes: npt.NDArray[np.uint16],
    min_distinct: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """Images with at least ``min_distinct`` distinct known keypoints among the pairs, and how
    many: (slots, counts). ``seen`` (a bit per feature) and ``votes`` (per image) must be zero, and
    are zero again on return; no sort, so the cost is linear in the pairs."""
    n = out_f.shape[0]
    for i in range(n):
        f = out_f[i]
        bit = np.uint8(1 << (f & 7))
        if seen[f >> 3] & bit == 0:
            seen[f >> 3] |= bit
            votes[f // per_image] += 1
    slots = np.empty(n, np.int64)
    counts = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        slot = out_f[i] // per_image
        c = votes[slot]
        if c >= min_distinct:
            slots[m] = slot
            counts[m] = c
            m += 1
            votes[slot] = 0  # reported once
    for i in range(n):
        f = out_f[i]
        seen[f >> 3] = 0
        votes[f // per_image] = 0
    return slots[:m], counts[:m]


@numba.njit(cache=True, nogil=True)
def pairs_of(
    out_q: npt.NDArray[np.int32],
    out_f: U32,
    per_image: int,
    slots: npt.NDArray[np.int64],
    votes: npt.NDArray[np.uint16],
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled
    """The pairs whose known image is one of ``slots``, each packed as feature id << 16 | query
    keypoint. ``votes`` (per image, zero) marks the chosen images and is zero again on return."""
    for s in slots:
        votes[s] = 1
    n = 0
    for i in range(out_f.shape[0]):
        n += votes[out_f[i] // per_image]
    out = np.empty(n, np.int64)
    m = 0
    for i in range(out_f.shape[0]):
        f = out_f[i]
        if votes[f // per_image]:
            out[m] = np.int64(f) << 16 | np.int64(out_q[i])
            m += 1
    for s in slots:
        votes[s] = 0
    return out
