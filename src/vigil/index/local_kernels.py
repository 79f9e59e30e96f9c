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

from vigil.index._prefetch import prefetch
from vigil.signals.local_algo import KNOWN_FEATURES

__all__ = [
    "bucket_pairs",
    "build_table",
    "in_place",
    "lookup",
    "pairs_of",
    "popcount64",
    "table_keys",
    "tally",
    "tally_placed",
    "unpack_pairs",
]

U32 = npt.NDArray[np.uint32]
CHECK_MASK = 0xFFFFFF
I64 = int | np.int64
PER_IMAGE = KNOWN_FEATURES  # feature id = image slot * PER_IMAGE + rank (a constant: divisions
# by it compile to a multiplication, where a runtime divisor costs ~40 cycles a pair)
assert PER_IMAGE <= 64  # tally keeps an image's keypoints as the bits of one word


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
    check_alive: bool,
    out_q: npt.NDArray[np.int32],
    out_f: npt.NDArray[np.uint32],
    n_out: int,
) -> int:  # pragma: no cover - compiled
    """Append (query feature, known feature) pairs whose keys are equal and checks within
    ``max_check`` bits, of live images (``check_alive``: some are removed); returns the new
    count (stops when the output is full).

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
        # the lowest key of a bucket starts it and the highest ends it: no search needed
        start = first if base == 0 else _lower(packs, first, last, base)
        end = last if key & low_mask == low_mask else _lower(packs, start, last, base + (1 << 24))
        want = np.int64(qchecks[qi]) & CHECK_MASK
        if end - start > max_run:
            start = _lower(packs, start, end, base | want)
            stop = min(end, start + max_run + 1)
            end = start  # an exact (key, check) run is short unless a stop word: walk it
            while end < stop and np.int64(packs[end]) == base | want:
                end += 1
            if end - start > max_run:
                continue
        for p in range(start, end):
            x = (np.uint32(packs[p]) ^ np.uint32(want)) & np.uint32(CHECK_MASK)
            for _ in range(max_check):  # clear the lowest set bit: at most max_check differ?
                x &= x - np.uint32(1)
            if x:
                continue
            fid = fids[p]
            if check_alive and not alive[np.uint64(fid) // np.uint64(PER_IMAGE)]:
                continue
            if n_out >= cap:
                return n_out
            out_q[n_out] = qi
            out_f[n_out] = fid
            n_out += 1
    return n_out


BUCKET_SHIFT = 12  # pairs are grouped by image slot >> this: a group's masks stay in cache
SLOT_SHIFT = 22  # a packed pair: slot << 22 | rank << 16 | query keypoint


@numba.njit(cache=True, nogil=True)
def bucket_pairs(
    out_q: npt.NDArray[np.int32], out_f: U32, images: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """The pairs packed as image slot << 22 | keypoint rank << 16 | query keypoint, grouped by
    ``slot >> BUCKET_SHIFT`` (a counting sort: two sequential passes), and where each group
    starts. Tallying a group then touches a few KiB of per-image state, where tallying the
    pairs in lookup order would touch a random word of megabytes per pair. (Unsigned
    arithmetic throughout: Numba's signed // and % cost several times more.)"""
    n = out_f.shape[0]
    per = np.uint64(PER_IMAGE)
    groups = (images >> BUCKET_SHIFT) + 1
    starts = np.zeros(groups + 1, np.int64)
    slots = np.empty(n, np.uint64)
    for i in range(n):
        slot = np.uint64(out_f[i]) // per
        slots[i] = slot
        starts[(slot >> np.uint64(BUCKET_SHIFT)) + np.uint64(1)] += 1
    for g in range(groups):
        starts[g + 1] += starts[g]
    fill = starts[:-1].copy()
    packed = np.empty(n, np.int64)
    for i in range(n):
        slot = slots[i]
        rank = np.uint64(out_f[i]) - slot * per
        g = slot >> np.uint64(BUCKET_SHIFT)
        word = slot << np.uint64(SLOT_SHIFT) | rank << np.uint64(16) | np.uint64(out_q[i])
        packed[fill[g]] = np.int64(word)
        fill[g] += 1
    return packed, starts


@numba.njit(cache=True, nogil=True)
def popcount64(x: np.uint64) -> int:  # pragma: no cover - compiled
    """Set bits of a 64-bit word."""
    count = 0
    while x:
        x &= x - np.uint64(1)
        count += 1
    return count


def unpack_pairs(
    packed: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(image slot, known keypoint rank, query keypoint) of pairs packed by
    :func:`bucket_pairs`."""
    return packed >> SLOT_SHIFT, (packed >> 16) & 63, packed & 0xFFFF


@numba.njit(cache=True, nogil=True)
def tally(
    packed: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], min_distinct: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """Images with at least ``min_distinct`` (>= 1) distinct known keypoints among the packed
    pairs of :func:`bucket_pairs`, and how many: (slots, counts). A group's images keep their
    keypoints as the bits of a word each, in 32 KiB that stay in the L1 cache: no per-image
    state of the index is touched, and the cost is linear in the pairs."""
    masks = np.zeros(1 << BUCKET_SHIFT, np.uint64)
    out_slots = np.empty(packed.shape[0], np.int64)
    counts = np.empty(packed.shape[0], np.int64)
    m = 0
    for g in range(starts.shape[0] - 1):
        lo, hi = starts[g], starts[g + 1]
        _mark(packed, lo, hi, masks)
        m = _emit(packed, lo, hi, masks, masks, min_distinct, out_slots, counts, m)
    return out_slots[:m], counts[:m]


@numba.njit(cache=True, nogil=True)
def _mark(packed: npt.NDArray[np.int64], lo: I64, hi: I64,
          masks: npt.NDArray[np.uint64]) -> None:  # fmt: skip # pragma: no cover - compiled
    """Set each pair's known keypoint in its image's word of ``masks``."""
    low = np.uint64((1 << BUCKET_SHIFT) - 1)
    for i in range(lo, hi):
        word = np.uint64(packed[i])
        rank = (word >> np.uint64(16)) & np.uint64(63)
        masks[(word >> np.uint64(SLOT_SHIFT)) & low] |= np.uint64(1) << rank


@numba.njit(cache=True, nogil=True)
def _emit(
    packed: npt.NDArray[np.int64],
    lo: I64,
    hi: I64,
    counted: npt.NDArray[np.uint64],
    cleared: npt.NDArray[np.uint64],
    min_distinct: int,
    out_slots: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    m: int,
) -> int:  # pragma: no cover - compiled
    """Append each image of the pairs whose word of ``counted`` has ``min_distinct`` bits, once
    (at its first pair: both its words, ``counted``'s and ``cleared``'s, are cleared); the new
    length of the output."""
    low = np.uint64((1 << BUCKET_SHIFT) - 1)
    for i in range(lo, hi):
        slot = np.uint64(packed[i]) >> np.uint64(SLOT_SHIFT)
        bits = counted[slot & low]
        cleared[slot & low] = 0
        if bits:
            counted[slot & low] = 0
            c = popcount64(bits)
            if c >= min_distinct:
                out_slots[m] = slot
                counts[m] = c
                m += 1
    return m


@numba.njit(cache=True, nogil=True)
def tally_placed(
    packed: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    pos: npt.NDArray[np.uint16],
    qpos: npt.NDArray[np.float32],
    tol: float,
    min_distinct: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """As :func:`tally`, counting only the pairs whose known keypoint (``pos``: an image's
    keypoints at fractions of its width and height, times 65535) lies within ``tol`` of where
    the query has its own (``qpos``, fractions of the query's). Positions are read only for
    the pairs of images with ``min_distinct`` pairs or more, a few thousand a query."""
    masks = np.zeros(1 << BUCKET_SHIFT, np.uint64)
    placed = np.zeros(1 << BUCKET_SHIFT, np.uint64)
    low = np.uint64((1 << BUCKET_SHIFT) - 1)
    out_slots = np.empty(packed.shape[0], np.int64)
    counts = np.empty(packed.shape[0], np.int64)
    todo = np.empty(packed.shape[0], np.int64)
    flat = pos.reshape(-1)
    per = np.uint64(pos.shape[1])
    limit = tol * 65535.0
    m = 0
    for g in range(starts.shape[0] - 1):
        lo, hi = starts[g], starts[g + 1]
        _mark(packed, lo, hi, masks)
        n = 0
        for i in range(lo, hi):  # pairs to place: their positions prefetched
            word = np.uint64(packed[i])
            slot = word >> np.uint64(SLOT_SHIFT)
            if popcount64(masks[slot & low]) >= min_distinct:
                rank = (word >> np.uint64(16)) & np.uint64(63)
                prefetch(flat, int((slot * per + rank) * np.uint64(2)))
                todo[n] = i
                n += 1
        for j in range(n):
            word = np.uint64(packed[todo[j]])
            slot = word >> np.uint64(SLOT_SHIFT)
            rank = (word >> np.uint64(16)) & np.uint64(63)
            if _in_place(flat, slot * per + rank, qpos, word & np.uint64(0xFFFF), limit):
                placed[slot & low] |= np.uint64(1) << rank
        m = _emit(packed, lo, hi, placed, masks, min_distinct, out_slots, counts, m)
    return out_slots[:m], counts[:m]


@numba.njit(cache=True, nogil=True)
def _in_place(flat: npt.NDArray[np.uint16], feature: np.uint64, qpos: npt.NDArray[np.float32],
              q: np.uint64, limit: float) -> bool:  # fmt: skip # pragma: no cover - compiled
    """Whether known keypoint ``feature`` (its position at ``flat[2 * feature]``, fractions
    times 65535) lies within ``limit`` (in those units) of query keypoint ``q``'s."""
    at = np.int64(feature * np.uint64(2))
    dx = abs(float(flat[at]) - qpos[q, 0] * 65535.0)
    dy = abs(float(flat[at + 1]) - qpos[q, 1] * 65535.0)
    return bool(dx <= limit and dy <= limit)


@numba.njit(cache=True, nogil=True)
def in_place(
    pos: npt.NDArray[np.uint16],
    slots: npt.NDArray[np.int64],
    ranks: npt.NDArray[np.int64],
    qpos: npt.NDArray[np.float32],
    qs: npt.NDArray[np.int64],
    tol: float,
) -> npt.NDArray[np.bool_]:  # pragma: no cover - compiled
    """Which pairs (image slot, keypoint rank, query keypoint) :func:`tally_placed` counts."""
    flat = pos.reshape(-1)
    per = np.uint64(pos.shape[1])
    out = np.empty(slots.shape[0], np.bool_)
    for i in range(slots.shape[0]):
        feature = np.uint64(slots[i]) * per + np.uint64(ranks[i])
        out[i] = _in_place(flat, feature, qpos, np.uint64(qs[i]), tol * 65535.0)
    return out


@numba.njit(cache=True, nogil=True)
def pairs_of(
    packed: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    slots: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled
    """The packed pairs whose known image is one of ``slots``: only their groups are read."""
    n = 0
    for s in slots:
        g = s >> BUCKET_SHIFT
        for i in range(starts[g], starts[g + 1]):
            n += packed[i] >> SLOT_SHIFT == s
    out = np.empty(n, np.int64)
    m = 0
    for s in slots:
        g = s >> BUCKET_SHIFT
        for i in range(starts[g], starts[g + 1]):
            if packed[i] >> SLOT_SHIFT == s:
                out[m] = packed[i]
                m += 1
    return out
