"""An immutable, persisted run of 256-bit hashes with its multi-index hash tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import IndexCorrupt
from vigil.index import kernels
from vigil.index.files import save_arrays

__all__ = ["MAX_KEY_BITS", "MAX_ROWS", "TABLES", "Segment", "table_bits"]

TABLES = 11  # substrings; radius r // 11 per table (2 for the PDQ threshold of 31)
MAX_KEY_BITS = 21  # 11 x 21 = 231 of the 256 bits are indexed; the rest only verified
BRUTE_FORCE_BELOW = 4096
MAX_ROWS = (1 << kernels.ROW_BITS) - 1  # a posting holds a 24-bit row number
SEGMENT_FORMAT = 2  # 2: postings pack row << 8 | filter byte


def table_bits(n: int) -> int:
    """Key bits per table for n hashes: about one hash per bucket, capped for memory."""
    return int(min(MAX_KEY_BITS, max(8, int(np.log2(max(n, 1))) - 1)))


@dataclass
class Segment:
    """``hashes`` (n, 32) uint8 and ``ids`` (n,) int64; tables absent for small segments."""

    hashes: npt.NDArray[np.uint8]
    ids: npt.NDArray[np.int64]
    bits: int = 0
    offsets: npt.NDArray[np.uint32] | None = None
    postings: npt.NDArray[np.uint32] | None = None
    name: str | None = None  # directory name once saved

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        extra = (
            0
            if self.offsets is None or self.postings is None
            else (self.offsets.nbytes + self.postings.nbytes)
        )
        return int(self.hashes.nbytes + self.ids.nbytes + extra)

    @classmethod
    def build(cls, ids: npt.NDArray[np.int64], hashes: npt.NDArray[np.uint8]) -> Segment:
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, 32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) > MAX_ROWS:
            raise ValueError(f"a segment holds at most {MAX_ROWS} hashes, not {len(ids)}")
        if len(ids) < BRUTE_FORCE_BELOW:
            return cls(hashes, ids)
        b = table_bits(len(ids))
        offsets, postings = kernels.bucket_tables(kernels.substring_keys(hashes, TABLES, b), b)
        return cls(hashes, ids, b, offsets, postings)

    def query(
        self,
        q8: npt.NDArray[np.uint8],
        qkeys: npt.NDArray[np.uint32],
        max_d: int,
        out: npt.NDArray[np.int64],
    ) -> tuple[int, npt.NDArray[np.int64]]:
        """Rows within ``max_d`` of the query, written to ``out`` as (row, distance) with repeats;
        ``qkeys`` are the query's 21-bit keys. Returns (count, buffer): a new, larger buffer when
        ``out`` was too small."""
        h64 = self.hashes.view(np.uint64)
        q64 = q8.view(np.uint64)
        while True:
            if self.offsets is None or self.postings is None or max_d // TABLES > 3:
                # small segments, and radii the tables do not cover (48+ bits), scan everything
                n = kernels.brute_force(q64, h64, max_d, out)
            else:
                n = kernels.mih_query(
                    qkeys, q64, h64, self.offsets, self.postings, self.bits, max_d, out
                )
            if n <= len(out):
                return n, out
            out = np.empty((2 * n, 2), dtype=np.int64)

    def save(self, directory: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {"hashes": self.hashes, "ids": self.ids}
        if self.offsets is not None and self.postings is not None:
            arrays |= {"offsets": self.offsets, "postings": self.postings}
        meta = {"format": SEGMENT_FORMAT, "count": len(self), "bits": self.bits, "tables": TABLES}
        save_arrays(directory, arrays, meta)
        self.name = directory.name

    @classmethod
    def load(cls, directory: Path) -> Segment:
        try:
            meta = json.loads((directory / "meta.json").read_text())
            if meta.get("format") != SEGMENT_FORMAT or meta.get("tables", TABLES) != TABLES:
                raise IndexCorrupt(f"{directory}: unsupported segment format {meta}")
            seg = cls(np.load(directory / "hashes.npy"), np.load(directory / "ids.npy"))
            seg.name = directory.name
            if meta["bits"]:
                seg.bits = int(meta["bits"])
                seg.offsets = np.load(directory / "offsets.npy")
                seg.postings = np.load(directory / "postings.npy")
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"{directory}: cannot load index segment: {exc}") from exc
        if len(seg) != meta["count"] or seg.hashes.shape != (meta["count"], 32):
            raise IndexCorrupt(f"{directory}: segment holds {len(seg)} hashes, meta says {meta}")
        return seg
