"""Compiled inner loops of the Hamming index (numba, cached on disk after the first run).

Multi-index hashing (Norouzi et al.): the 256 bits are split into ``M`` substrings of ``b`` bits
(substring ``t`` takes bits ``t, t+M, t+2M, ...``, which spreads the correlated neighbouring bits of
a PDQ hash over all tables). If two hashes differ in at most ``r`` bits, at least one substring
differs in at most ``r // M`` bits (pigeonhole), so probing every table's Hamming ball of radius
``r // M`` around the query's substring finds every hash within ``r``: exact recall.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

__all__ = ["brute_force", "mih_query", "substring_keys"]

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


@nb.njit(inline="always", cache=True)
def _scan(
    t: int,
    key: int,
    q: U64,
    h: U64,
    offsets: npt.NDArray[np.uint32],
    postings: npt.NDArray[np.uint32],
    max_d: int,
    out: npt.NDArray[np.int64],
    n: int,
) -> int:  # pragma: no cover - compiled
    for p in range(offsets[t, key], offsets[t, key + 1]):
        c = postings[t, p]
        d = _distance(h, c, q)
        if d <= max_d:
            if n < out.shape[0]:
                out[n, 0] = c
                out[n, 1] = d
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
    radius: int,
    max_d: int,
    out: npt.NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """Probe each table's ball of ``radius`` (0-3) around the query's keys; write (position,
    distance) rows to ``out`` (a position may repeat, once per table that finds it). Returns
    how many rows there were, which may exceed ``len(out)``: then call again with more room."""
    n = 0
    for t in range(keys.shape[0]):
        k0 = int(keys[t])
        n = _scan(t, k0, q, h, offsets, postings, max_d, out, n)
        if radius < 1:
            continue
        for i in range(b):
            k1 = k0 ^ (1 << i)
            n = _scan(t, k1, q, h, offsets, postings, max_d, out, n)
            if radius < 2:
                continue
            for j in range(i + 1, b):
                k2 = k1 ^ (1 << j)
                n = _scan(t, k2, q, h, offsets, postings, max_d, out, n)
                if radius < 3:
                    continue
                for k in range(j + 1, b):
                    n = _scan(t, k2 ^ (1 << k), q, h, offsets, postings, max_d, out, n)
    return n


@nb.njit(cache=True, nogil=True)
def brute_force(q: U64, h: U64, max_d: int, out: npt.NDArray[np.int64]) -> int:
    """Compare against every row; same contract as :func:`mih_query`."""
    n = 0
    for c in range(h.shape[0]):
        d = _distance(h, c, q)
        if d <= max_d:
            if n < out.shape[0]:
                out[n, 0] = c
                out[n, 1] = d
            n += 1
    return n


@nb.njit(cache=True, nogil=True)
def bucket_tables(
    keys: npt.NDArray[np.uint32], b: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Counting sort of each table's keys: (offsets (m, 2^b + 1), postings (m, n))."""
    m, n = keys.shape
    offsets = np.zeros((m, (1 << b) + 1), dtype=np.uint32)
    postings = np.empty((m, n), dtype=np.uint32)
    for t in range(m):
        for i in range(n):
            offsets[t, keys[t, i] + 1] += 1
        for k in range(1 << b):
            offsets[t, k + 1] += offsets[t, k]
        fill = offsets[t, :-1].copy()
        for i in range(n):
            k = keys[t, i]
            postings[t, fill[k]] = i
            fill[k] += 1
    return offsets, postings
