"""Compiled inner loops of the Hamming index (numba, cached on disk after the first run).

Multi-index hashing (Norouzi et al.): the 256 bits are split into ``M`` substrings of ``b`` bits
(substring ``t`` takes bits ``t, t+M, t+2M, ...``, which spreads the correlated neighbouring bits of
a PDQ hash over all tables). If two hashes differ in at most ``r`` bits, at least one substring
differs in at most ``r // M`` bits (pigeonhole), so probing every table's Hamming ball of radius
``r // M`` around the query's substring finds every hash within ``r``: exact recall.

Each posting packs a 24-bit row number with 8 bits of the *next* table's key. By the pigeonring
principle (Qin et al., 2018), a hash within ``r`` has some table ``i`` where ``d_i <= r // M`` and
``d_i + d_(i+1) <= 2r // M``; a candidate whose 8 bits alone already break the second bound is
dropped without reading its hash, which is where the time goes (a cache miss per candidate).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from vigil.index._prefetch import prefetch as _prefetch

__all__ = ["ROW_BITS", "brute_force", "bucket_tables", "mih_query", "substring_keys"]

ROW_BITS = 24  # rows per segment < 2**24; the low 8 bits of a posting are the filter byte

U64 = npt.NDArray[np.uint64]

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@nb.njit(inline="always", cache=True)
def _popcount(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@nb.njit(inline="always", cache=True)
def _distance(h: U64, c: int, q: U64) -> int:  # pragma: no cover - compiled
    return int(
        _popcount(h[c, 0] ^ q[0])
        + _popcount(h[c, 1] ^ q[1])
        + _popcount(h[c, 2] ^ q[2])
        + _popcount(h[c, 3] ^ q[3])
    )


@nb.njit(cache=True, nogil=True)
def substring_keys(hashes8: npt.NDArray[np.uint8], m: int, b: int) -> npt.NDArray[np.uint32]:
    """(m, n) keys: key t of a hash packs bits t, t+m, ... (MSB-first bit order) into b bits."""
    n = hashes8.shape[0]
    out = np.zeros((m, n), dtype=np.uint32)
    for i in range(n):
        for t in range(m):
            key = 0
            for s in range(b):
                k = t + s * m
                bit = (hashes8[i, k >> 3] >> (7 - (k & 7))) & 1
                key |= int(bit) << s
            out[t, i] = key
    return out


@nb.njit(cache=True)
def _probes(
    k0: int, b: int, radius: int, keys: npt.NDArray[np.int64], flips: npt.NDArray[np.int64]
) -> int:  # pragma: no cover - compiled
    """The keys within ``radius`` (0-3) bits of ``k0``, with their bit counts; returns count."""
    n = 0
    keys[n], flips[n] = k0, 0
    n += 1
    for i in range(b if radius >= 1 else 0):
        k1 = k0 ^ (1 << i)
        keys[n], flips[n] = k1, 1
        n += 1
        for j in range(i + 1, b if radius >= 2 else 0):
            k2 = k1 ^ (1 << j)
            keys[n], flips[n] = k2, 2
            n += 1
            for k in range(j + 1, b if radius >= 3 else 0):
                keys[n], flips[n] = k2 ^ (1 << k), 3
                n += 1
    return n


@nb.njit(cache=True, nogil=True)
def mih_query(
    keys: npt.NDArray[np.uint32],
    q: U64,
    h: U64,
    offsets: npt.NDArray[np.uint32],
    postings: npt.NDArray[np.uint32],
    b: int,
    max_d: int,
    out: npt.NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """Probe each table's ball of radius ``max_d // M`` (at most 3) around the query's keys;
    write (row, distance) to ``out`` (a row may repeat, once per table that finds it). Returns
    the number of rows found, which may exceed ``len(out)``: then call again with more room.

    Per table, in stages so that the cache misses overlap: probe keys (prefetching their
    offsets), bucket bounds (prefetching the postings), filtered candidates (prefetching their
    hashes), then the distances."""
    m = keys.shape[0]
    radius = min(3, max_d // m)
    chain = (2 * max_d) // m
    mask = (1 << b) - 1
    width = offsets.shape[1]
    n_rows = postings.shape[1]
    off_flat = offsets.reshape(-1)
    post_flat = postings.reshape(-1)
    h_flat = h.reshape(-1)
    cap = 1 + b + b * (b - 1) // 2 + b * (b - 1) * (b - 2) // 6
    pkeys = np.empty(cap, dtype=np.int64)
    pflips = np.empty(cap, dtype=np.int64)
    starts = np.empty(cap, dtype=np.int64)
    ends = np.empty(cap, dtype=np.int64)
    cands = np.empty(1024, dtype=np.int64)
    n = 0
    for t in range(m):
        qnext = int(keys[(t + 1) % m]) & 0xFF
        count = _probes(int(keys[t]) & mask, b, radius, pkeys, pflips)
        base = t * width
        for i in range(count):
            _prefetch(off_flat, base + pkeys[i])
        for i in range(count):
            starts[i] = off_flat[base + pkeys[i]] + t * n_rows
            ends[i] = off_flat[base + pkeys[i] + 1] + t * n_rows
            _prefetch(post_flat, starts[i])
        nc = 0
        for i in range(count):
            budget = chain - pflips[i]
            size = ends[i] - starts[i]
            if nc + size > cands.shape[0]:
                n = _verify(cands, nc, q, h, h_flat, max_d, out, n)
                nc = 0
                if size > cands.shape[0]:
                    cands = np.empty(2 * size, dtype=np.int64)
            for p in range(starts[i], ends[i]):
                # branch-free: the pigeonring test passes for about a third of the postings,
                # too unpredictably for the branch predictor
                packed = post_flat[p]
                cands[nc] = packed >> 8
                nc += _popcount(np.uint64((packed & 0xFF) ^ qnext)) <= budget
        n = _verify(cands, nc, q, h, h_flat, max_d, out, n)
    return n


@nb.njit(inline="always", cache=True)
def _emit(out: npt.NDArray[np.int64], n: int, row: int, d: int) -> int:  # pragma: no cover
    """Record (row, distance) as result ``n`` if there is room; the count goes on regardless,
    so the caller learns how much room it needed."""
    if n < out.shape[0]:
        out[n, 0] = row
        out[n, 1] = d
    return n + 1


@nb.njit(inline="always", cache=True)
def _verify(
    cands: npt.NDArray[np.int64],
    nc: int,
    q: U64,
    h: U64,
    h_flat: U64,
    max_d: int,
    out: npt.NDArray[np.int64],
    n: int,
) -> int:  # pragma: no cover - compiled
    """Prefetch every candidate's hash, then compare: the loads overlap instead of queueing."""
    for i in range(nc):
        _prefetch(h_flat, 4 * cands[i])
    for i in range(nc):
        c = cands[i]
        d = _distance(h, c, q)
        if d <= max_d:
            n = _emit(out, n, c, d)
    return n


@nb.njit(cache=True, nogil=True)
def brute_force(q: U64, h: U64, max_d: int, out: npt.NDArray[np.int64]) -> int:
    """Compare against every row; same contract as :func:`mih_query`."""
    n = 0
    for c in range(h.shape[0]):
        d = _distance(h, c, q)
        if d <= max_d:
            n = _emit(out, n, c, d)
    return n


@nb.njit(cache=True, nogil=True)
def bucket_tables(
    keys: npt.NDArray[np.uint32], b: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Counting sort of each table's keys: offsets (m, 2^b + 1) and postings (m, n), each
    posting ``row << 8 | low 8 bits of the next table's key``."""
    m, n = keys.shape
    offsets = np.zeros((m, (1 << b) + 1), dtype=np.uint32)
    postings = np.empty((m, n), dtype=np.uint32)
    for t in range(m):
        for i in range(n):
            offsets[t, keys[t, i] + 1] += 1
        for k in range(1 << b):
            offsets[t, k + 1] += offsets[t, k]
        fill = offsets[t, :-1].copy()
        nxt = (t + 1) % m
        for i in range(n):
            k = keys[t, i]
            postings[t, fill[k]] = (i << 8) | (keys[nxt, i] & 0xFF)
            fill[k] += 1
    return offsets, postings


@nb.njit(cache=True, nogil=True)
def compact(
    out: npt.NDArray[np.int64], n: int, ids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """(ids, distances) of the first ``n`` (row, distance) results: repeats (a row found by
    several tables) dropped through a small open-addressing set, then nearest first."""
    size = 16
    while size < 2 * n:
        size *= 2
    slots = np.full(size, -1, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        row = out[i, 0]
        slot = (row * 0x9E3779B1) & (size - 1)
        while slots[slot] != -1 and slots[slot] != row:
            slot = (slot + 1) & (size - 1)
        if slots[slot] == -1:
            slots[slot] = row
            keys[m] = (out[i, 1] << 40) | row
            m += 1
    unique = np.sort(keys[:m])
    found = np.empty(m, dtype=np.int64)
    dists = np.empty(m, dtype=np.int64)
    for i in range(m):
        found[i] = ids[unique[i] & 0xFFFFFFFFFF]
        dists[i] = unique[i] >> 40
    return found, dists
