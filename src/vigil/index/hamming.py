"""A persistent Hamming-radius index of 256-bit hashes that takes additions and deletions
without a full rebuild.

Layout (the logarithmic method, as in LSM trees): new hashes go to a small *tail* searched by
brute force; a full tail becomes an immutable :class:`Segment` with its own tables, and segments
of similar size are merged, so every hash is rebuilt O(log n) times over its life and a query
visits O(log n) segments. Deletions are tombstones (ids are never reused) until a merge drops them.

On disk: ``manifest.json`` names the segments and the current tail file; segments are written
first and the manifest replaced atomically, so a crash leaves the previous consistent state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import IndexCorrupt
from vigil.index import kernels
from vigil.index.files import next_name, read_manifest, synced, write_manifest
from vigil.index.segment import MAX_KEY_BITS, MAX_ROWS, TABLES, Segment

__all__ = ["HammingIndex"]

FORMAT = "vigil-hamming-index"
TAIL_LIMIT = 8192
MERGE_RATIO = 4


def _as_hashes(values: Iterable[bytes] | npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if isinstance(values, np.ndarray):
        return np.ascontiguousarray(values, dtype=np.uint8).reshape(-1, 32)
    buf = b"".join(values)
    return np.frombuffer(buf, dtype=np.uint8).reshape(-1, 32).copy()


class HammingIndex:
    """Hashes (32 bytes) keyed by int64 ids; ``query`` returns all within a distance, exactly.

    With ``group_bits`` > 0 an id is ``group << group_bits | member`` (a video's frames: the
    signal id and the frame number), and :meth:`remove` takes group numbers."""

    def __init__(self, group_bits: int = 0) -> None:
        self.group_bits = group_bits
        self.segments: list[Segment] = []
        self.tail_ids = np.empty(0, dtype=np.int64)
        self.tail_hashes = np.empty((0, 32), dtype=np.uint8)
        self.dead: set[int] = set()
        self.checkpoint = 0  # the last store change applied (see vigil.store)
        self._next_name = 1
        self._saved_in: Path | None = None  # the folder its segments were written to
        self._out = np.empty((4096, 2), dtype=np.int64)  # reused result buffer; grows as needed

    def __len__(self) -> int:
        rows = sum(len(s) for s in self.segments) + len(self.tail_ids)
        if not self.dead:
            return rows
        return rows - sum(int(self._dead_mask(s.ids).sum()) for s in self.segments)

    def _dead_mask(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return np.isin(ids >> self.group_bits, np.fromiter(self.dead, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments) + self.tail_hashes.nbytes + 8 * len(self.dead)

    # -- changes -------------------------------------------------------------------------
    def add(
        self,
        ids: Iterable[int],
        hashes: Iterable[bytes] | npt.NDArray[np.uint8],
        merge: bool = True,
    ) -> None:
        """Add hashes. With ``merge=False`` a full tail becomes a segment but segments are not
        merged: a caller serving queries meanwhile merges them with :meth:`next_merge`,
        :meth:`build_merge` and :meth:`swap_merge`, building outside its lock."""
        new_ids = np.fromiter(ids, dtype=np.int64)
        new_hashes = _as_hashes(hashes)
        if len(new_ids) != len(new_hashes):
            raise ValueError(f"{len(new_ids)} ids for {len(new_hashes)} hashes")
        self.tail_ids = np.concatenate([self.tail_ids, new_ids])
        self.tail_hashes = np.concatenate([self.tail_hashes, new_hashes])
        if len(self.tail_ids) >= TAIL_LIMIT:
            self._flush_tail(merge)

    def remove(self, ids: Iterable[int]) -> None:
        """Stop matching these ids (or, with ``group_bits``, every id of these groups)."""
        gone = set(ids)
        keep = ~np.isin(self.tail_ids >> self.group_bits, np.fromiter(gone, dtype=np.int64))
        in_tail = set((self.tail_ids[~keep] >> self.group_bits).tolist())
        self.tail_ids, self.tail_hashes = self.tail_ids[keep], self.tail_hashes[keep]
        # a group may also have rows in segments; a plain id lives in one place only
        self.dead |= gone if self.group_bits else gone - in_tail

    def _flush_tail(self, merge: bool = True) -> None:
        for start in range(0, len(self.tail_ids), MAX_ROWS):
            stop = start + MAX_ROWS
            self.segments.append(
                Segment.build(self.tail_ids[start:stop], self.tail_hashes[start:stop])
            )
        self.tail_ids = np.empty(0, dtype=np.int64)
        self.tail_hashes = np.empty((0, 32), dtype=np.uint8)
        while merge and self._mergeable(MERGE_RATIO):
            last, before = self.segments.pop(), self.segments.pop()
            self.segments.append(self._merge(before, last))

    def _mergeable(self, ratio: float) -> bool:
        """Whether the last two segments should merge: similar sizes (within ``ratio``) and the
        result fits one segment."""
        if len(self.segments) < 2:
            return False
        last, before = len(self.segments[-1]), len(self.segments[-2])
        return last * ratio >= before and last + before <= MAX_ROWS

    def _merge(self, a: Segment, b: Segment) -> Segment:
        merged, dropped = self.build_merge(a, b)
        self.dead -= dropped
        return merged

    def next_merge(self) -> tuple[Segment, Segment] | None:
        """Two neighbouring segments that the merge policy would merge now, newest first."""
        for i in range(len(self.segments) - 1, 0, -1):
            a, b = self.segments[i - 1], self.segments[i]
            if len(b) * MERGE_RATIO >= len(a) and len(a) + len(b) <= MAX_ROWS:
                return a, b
        return None

    def build_merge(self, a: Segment, b: Segment) -> tuple[Segment, set[int]]:
        """``a`` and ``b`` as one segment without their deleted rows, and the tombstones that
        this makes unnecessary. Changes nothing: safe beside queries."""
        ids = np.concatenate([a.ids, b.ids])
        hashes = np.concatenate([a.hashes, b.hashes])
        dropped: set[int] = set()
        if self.dead:
            dead = self._dead_mask(ids)
            if not self.group_bits:  # a plain id lives in one place only
                dropped = set(ids[dead].tolist())
            ids, hashes = ids[~dead], hashes[~dead]
        return Segment.build(ids, hashes), dropped

    def swap_merge(self, a: Segment, b: Segment, merged: Segment, dropped: set[int]) -> None:
        """Put a merge made by :meth:`build_merge` in place of its two segments."""
        i = next(i for i, s in enumerate(self.segments) if s is a)
        if self.segments[i + 1] is not b:
            raise ValueError("the merged segments are no longer neighbours")
        self.segments[i : i + 2] = [merged]
        self.dead -= dropped

    def compact(self) -> None:
        """Merge segments as far as they fit in one (2**24 - 1 hashes), dropping deletions."""
        if self.tail_ids.size:
            self._flush_tail()
        while self._mergeable(float("inf")):
            last, before = self.segments.pop(), self.segments.pop()
            self.segments.append(self._merge(before, last))
        if self.segments and self.dead:
            only = self.segments.pop()
            self.segments.append(self._merge(only, Segment.build(only.ids[:0], only.hashes[:0])))
            if len(self.segments) == 1:
                self.dead.clear()  # every row has been through a merge that dropped the dead

    # -- queries ---------------------------------------------------------------------------
    def query(self, value: bytes, max_distance: int) -> list[tuple[int, int]]:
        """(id, distance) of every hash within ``max_distance`` bits, nearest first."""
        q8 = np.frombuffer(value, dtype=np.uint8)
        if q8.shape != (32,):
            raise ValueError("a query hash is 32 bytes")
        found_ids: list[npt.NDArray[np.int64]] = []
        found_d: list[npt.NDArray[np.int64]] = []
        parts = list(self.segments)
        if self.tail_ids.size:
            parts.append(Segment(self.tail_hashes, self.tail_ids))
        qkeys = kernels.substring_keys(q8.reshape(1, 32), TABLES, MAX_KEY_BITS)[:, 0]
        for seg in parts:
            n, self._out = seg.query(q8, qkeys, max_distance, self._out)
            if n:
                ids, dists = kernels.compact(self._out, n, seg.ids)
                found_ids.append(ids)
                found_d.append(dists)
        if not found_ids:
            return []
        ids, dists = found_ids[0], found_d[0]
        if len(found_ids) > 1:
            ids, dists = np.concatenate(found_ids), np.concatenate(found_d)
            order = np.lexsort((ids, dists))
            ids, dists = ids[order], dists[order]
        if self.dead:
            alive = ~self._dead_mask(ids)
            ids, dists = ids[alive], dists[alive]
        return list(zip(ids.tolist(), dists.tolist(), strict=True))

    def query_many(self, values: Iterable[bytes], max_distance: int) -> list[list[tuple[int, int]]]:
        return [self.query(v, max_distance) for v in values]

    # -- persistence -----------------------------------------------------------------------
    def forget_saved(self, directory: str | os.PathLike[str]) -> None:
        """Treat every segment as unsaved, and new names as starting after the newest on disk:
        another process may have rewritten the folder since this index was loaded."""
        for seg in self.segments:
            seg.name = None
        self._next_name = max(self._next_name, next_name(Path(directory)))

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the index into ``directory``: the segments not yet there, then a manifest
        naming them (a loaded index saved into another folder writes all of its segments)."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        if self._saved_in != root.resolve():  # saved elsewhere: its segments are not here
            self.forget_saved(root)
        names = []
        for seg in self.segments:
            if seg.name is None:
                seg.save(root / f"seg-{self._next_name:06d}")
                self._next_name += 1
            assert seg.name is not None
            names.append(seg.name)
        tail = f"tail-{self._next_name:06d}.npz"
        self._next_name += 1
        with synced(root / tail) as fh:
            dead = np.fromiter(self.dead, dtype=np.int64)
            np.savez(fh, ids=self.tail_ids, hashes=self.tail_hashes, dead=dead)
        manifest = {
            "format": FORMAT,
            "version": 1,
            "segments": names,
            "tail": tail,
            "checkpoint": self.checkpoint,
            "next": self._next_name,
            "group_bits": self.group_bits,
        }
        write_manifest(root, manifest, set(names) | {tail})
        self._saved_in = root.resolve()

    @classmethod
    def load(cls, directory: str | os.PathLike[str], group_bits: int = 0) -> HammingIndex:
        """Load a saved index, or an empty one (with ``group_bits``) if there is none."""
        root = Path(directory)
        index = cls(group_bits)
        manifest = read_manifest(root, FORMAT, 1)
        if manifest is None:
            return index
        try:
            for name in manifest["segments"]:
                index.segments.append(Segment.load(root / name))
            with np.load(root / manifest["tail"]) as tail:
                index.tail_ids = tail["ids"].astype(np.int64)
                index.tail_hashes = tail["hashes"].astype(np.uint8).reshape(-1, 32)
                index.dead = set(tail["dead"].tolist())
            index.checkpoint = int(manifest["checkpoint"])
            index.group_bits = int(manifest.get("group_bits", 0))
            index._next_name = int(manifest["next"])
            index._saved_in = root.resolve()
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"{root}: cannot load index: {exc}") from exc
        return index
