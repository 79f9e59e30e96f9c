"""The local-feature index behind robust matching (the ``vlocal`` signal).

Each known image keeps up to 40 keypoints. Every keypoint is posted in two tables under a 24-bit
key with a 24-bit check (8 bytes a posting); per image the index also keeps the keypoints'
positions (4 bytes each), the image size and the 128-byte DoG grid used for verification: about
950 bytes per image. Images live in immutable segments (merged log-structured, like the Hamming
index); a removal clears the image's flag (saved with the index) until a merge drops it.
:meth:`candidates` returns, for each known image that shares keypoints with a query, the pairs
of keypoints to verify geometrically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import IndexCorrupt
from vigil.index.files import next_name, read_manifest, save_arrays, synced, write_manifest
from vigil.index.local_kernels import (
    bucket_pairs,
    build_table,
    in_place,
    lookup,
    pairs_of,
    table_keys,
    tally,
    tally_placed,
    unpack_pairs,
)
from vigil.signals.local_algo import KEYS, KNOWN_FEATURES, Features, feature_keys, unpack_record

__all__ = ["Candidate", "LocalIndex", "Pairs"]

K = KNOWN_FEATURES
FORMAT = "vigil-local-index"
SEGMENT_FORMAT = "vigil-local-segment"
MAX_CHECK = 3  # check bits that may differ between a query keypoint and a known one


def max_run(postings: int) -> int:
    """Longest run of postings under one key that a lookup reads: longer runs are stop words
    (about 1% of keys, holding a third of the postings of real ORB descriptors): there
    only postings whose check matches exactly are read."""
    return 32 + postings // (1 << 16)


_ARRAYS = ("ids", "sizes", "counts", "pos", "grid")


@dataclass(frozen=True)
class Candidate:
    """A known image sharing keypoints with the query: ``pairs`` are (query kp, known kp)."""

    id: int
    points: npt.NDArray[np.float32]  # the known image's keypoints, in its own pixels
    size: tuple[int, int]
    grid: npt.NDArray[np.uint8]  # packed DoG signs
    pairs: npt.NDArray[np.int64]  # (n, 2)


U32 = npt.NDArray[np.uint32]
Table = tuple[U32, U32, U32]


@dataclass(frozen=True)
class Pairs:
    """A query's (query keypoint, known feature id) pairs with each of the index's segments, as
    they were when looked up (:meth:`LocalIndex.lookup`)."""

    segments: tuple[Segment, ...]
    pairs: list[tuple[npt.NDArray[np.int32], U32]]
    _bucketed: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def bucketed(self, k: int, images: int) -> tuple[npt.NDArray[np.int64],
                                                      npt.NDArray[np.int64]]:  # fmt: skip
        """The pairs with segment ``k`` (of ``images`` images) grouped by image
        (:func:`bucket_pairs`), once: a query's pairs are grouped for its candidates and
        again for those in frame."""
        if k not in self._bucketed:
            self._bucketed[k] = bucket_pairs(*self.pairs[k], images)
        return self._bucketed[k]

    def of(self, segments: list[Segment]) -> bool:
        """Whether these are pairs with exactly these segments (not since merged or added to)."""
        return len(segments) == len(self.segments) and all(
            a is b for a, b in zip(segments, self.segments, strict=True)
        )

    def __add__(self, other: Pairs) -> Pairs:
        if not self.of(list(other.segments)):
            raise ValueError("pairs of different states of the index")
        joined = zip(self.pairs, other.pairs, strict=True)
        pairs = [(np.concatenate([a, c]), np.concatenate([b, d])) for (a, b), (c, d) in joined]
        return Pairs(self.segments, pairs)


class Segment:
    """Immutable: per-image arrays plus two posting tables."""

    def __init__(self, arrays: dict[str, npt.NDArray[np.generic]], tables: list[Table]) -> None:
        self.ids = np.asarray(arrays["ids"], dtype=np.int64)
        self.sizes = np.asarray(arrays["sizes"], dtype=np.uint16).reshape(-1, 2)
        self.counts = np.asarray(arrays["counts"], dtype=np.uint8)
        self.pos = np.asarray(arrays["pos"], dtype=np.uint16).reshape(-1, K, 2)
        self.grid = np.asarray(arrays["grid"], dtype=np.uint8).reshape(len(self.ids), -1)
        self.tables = tables
        self.alive = np.ones(len(self.ids), dtype=np.bool_)
        self.name: str | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        arrays = sum(int(getattr(self, a).nbytes) for a in _ARRAYS)
        return arrays + sum(d.nbytes + f.nbytes + p.nbytes for d, f, p in self.tables)

    @classmethod
    def build(
        cls, ids: list[int], records: list[tuple[Features, npt.NDArray[np.uint8]]]
    ) -> Segment:
        n = len(ids)
        counts = np.array([min(len(f.points), K) for f, _ in records], np.int64)
        sizes = np.array([f.size for f, _ in records], np.float64).reshape(-1, 2)
        descs = np.concatenate(
            [np.zeros((0, 32), np.uint8)] + [f.descriptors[:K] for f, _ in records]
        )
        points = np.concatenate([np.zeros((0, 2), np.float32)] + [f.points[:K] for f, _ in records])
        slots = np.repeat(np.arange(n), counts)
        rank = np.arange(len(slots)) - np.repeat(np.cumsum(counts) - counts, counts)
        pos = np.zeros((n, K, 2), np.uint16)
        pos[slots, rank] = np.round(points / sizes[slots] * 65535)
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "ids": np.array(ids, np.int64),
            "sizes": sizes.astype(np.uint16),
            "counts": counts.astype(np.uint8),
            "pos": pos,
            "grid": np.array([g for _, g in records], np.uint8).reshape(n, -1),
        }
        keys, checks = feature_keys(descs)
        fids = (slots * K + rank).astype(np.uint32)
        return cls(arrays, [build_table(k, checks, fids) for k in keys])

    @classmethod
    def merge(cls, parts: list[Segment]) -> Segment:
        """One segment holding the live images of ``parts``."""
        arrays = {a: np.concatenate([getattr(s, a)[s.alive] for s in parts]) for a in _ARRAYS}
        tables = []
        for t in range(len(KEYS)):
            keys, checks, fids = [], [], []
            base = 0
            for s in parts:
                dirs, f, p = s.tables[t]
                slot = f // K
                keep = s.alive[slot]
                new_slot = np.cumsum(s.alive) - 1 + base
                keys.append(table_keys(dirs, p)[keep])
                checks.append(p[keep] & 0xFFFFFF)
                fids.append((new_slot[slot[keep]] * K + f[keep] % K).astype(np.uint32))
                base += int(s.alive.sum())
            tables.append(build_table(*(np.concatenate(x) for x in (keys, checks, fids))))
        return cls(arrays, tables)

    def save(self, directory: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {a: getattr(self, a) for a in _ARRAYS}
        for t, table in enumerate(self.tables):
            arrays |= dict(zip((f"t{t}-dirs", f"t{t}-fids", f"t{t}-packs"), table, strict=True))
        save_arrays(directory, arrays, {"format": SEGMENT_FORMAT, "count": len(self)})
        self.name = directory.name

    @classmethod
    def load(cls, directory: Path) -> Segment:
        meta = json.loads((directory / "meta.json").read_text())
        if meta.get("format") != SEGMENT_FORMAT:
            raise ValueError(f"{directory.name}: not a {SEGMENT_FORMAT}")
        arrays = {a: np.load(directory / f"{a}.npy") for a in _ARRAYS}
        tables: list[Table] = []
        for t in range(len(KEYS)):
            dirs, fids, packs = (
                np.load(directory / f"t{t}-{p}.npy") for p in ("dirs", "fids", "packs")
            )
            tables.append((dirs, fids, packs))
        seg = cls(arrays, tables)
        if len(seg) != meta["count"]:
            raise ValueError(f"{directory.name}: {len(seg)} images, meta says {meta['count']}")
        seg.name = directory.name
        return seg


def _candidate(seg: Segment, slot: int, qi: npt.NDArray[np.int64],
               rank: npt.NDArray[np.int64]) -> Candidate:  # fmt: skip
    """The known image in ``slot`` of ``seg``, with pairs (query keypoints ``qi``, its own
    keypoints ``rank``)."""
    w, h = (int(v) for v in seg.sizes[slot])
    pts = (seg.pos[slot, : seg.counts[slot]] / 65535 * np.array([w, h])).astype(np.float32)
    return Candidate(int(seg.ids[slot]), pts, (w, h), seg.grid[slot], np.stack([qi, rank], 1))


class LocalIndex:
    """Known images' keypoints keyed by int64 ids (the store's signal ids)."""

    def __init__(self, group_bits: int = 0) -> None:
        # with group_bits, ids are group << group_bits | member (a video's frames): removing
        # a group removes all its members
        self.group_bits = group_bits
        self.segments: list[Segment] = []
        self.pending: list[tuple[int, tuple[Features, npt.NDArray[np.uint8]]]] = []
        self.checkpoint = 0
        self._next_name = 1
        self._saved_in: Path | None = None  # the folder its segments were written to
        self._buffers = (np.empty(1 << 16, np.int32), np.empty(1 << 16, np.uint32))

    def __len__(self) -> int:
        return sum(int(s.alive.sum()) for s in self.segments) + len(self.pending)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes + len(s.alive) for s in self.segments)

    def add(self, ids: Iterable[int], records: Iterable[bytes]) -> None:
        """Add known images by id; ``records`` are decoded ``vlocal`` values."""
        for i, raw in zip(ids, records, strict=True):
            self.pending.append((i, unpack_record(raw)))

    def remove(self, ids: Iterable[int]) -> None:
        """Stop matching these ids (or, with ``group_bits``, every id of these groups): a flag
        per image, kept on disk with each save."""
        gone = set(ids)
        g = self.group_bits
        self.pending = [(i, r) for i, r in self.pending if i >> g not in gone]
        for s in self.segments:
            s.alive &= ~np.isin(s.ids >> g, np.fromiter(gone, np.int64))

    def _seal(self) -> None:
        if self.pending:
            ids = [i for i, _ in self.pending]
            self.segments.append(Segment.build(ids, [r for _, r in self.pending]))
            self.pending = []
        while len(self.segments) >= 2 and 2 * len(self.segments[-1]) >= len(self.segments[-2]):
            b, a = self.segments.pop(), self.segments.pop()
            self.segments.append(Segment.merge([a, b]))  # drops their removed images

    def compact(self) -> None:
        """Merge every segment into one, dropping removed images: after a bulk import a query
        then looks each key up once instead of once per segment (1.5x faster at 1M images)."""
        self._seal()
        if len(self.segments) > 1 or any(not s.alive.all() for s in self.segments):
            self.segments = [Segment.merge(self.segments)]

    def candidates(self, feats: Features, min_pairs: int = 6, limit: int = 30,
                   pairs: Pairs | None = None) -> list[Candidate]:  # fmt: skip
        """Known images sharing at least ``min_pairs`` keypoints with the query, most first.
        ``pairs``: those of the query's keypoints, already looked up (:meth:`lookup`)."""
        self._seal()
        if pairs is None or not pairs.of(self.segments):
            pairs = self.lookup(feats)  # not looked up, or the index changed since
        found: list[tuple[int, Candidate]] = []
        for k, seg in enumerate(self.segments):
            packed, starts = pairs.bucketed(k, len(seg))
            found.extend(self._group(seg, packed, starts, min_pairs, limit))
        found.sort(key=lambda x: -x[0])
        return [c for _, c in found[:limit]]

    def in_frame(self, feats: Features, pairs: Pairs, tol: float, min_pairs: int = 2,
                 limit: int = 30) -> list[Candidate]:  # fmt: skip
        """Known images that at least ``min_pairs`` of the query's keypoints (``pairs``, from
        :meth:`lookup`) pair with where the known image has the paired keypoint: at the same
        fraction of each image's width and height, within ``tol``. Such a query may be the
        whole known image (stretched to another frame, taken off axis: too few of its
        keypoints pair to fit a transform), and chance pairs seldom agree so (a pair lands
        within 0.08 by chance 2.6% of the time). Each candidate holds those pairs only."""
        self._seal()
        if not pairs.of(self.segments):
            pairs = self.lookup(feats)
        qpos = np.ascontiguousarray(feats.points / np.array(feats.size, np.float32), np.float32)
        found: list[tuple[int, Candidate]] = []
        for k, seg in enumerate(self.segments):
            packed, starts = pairs.bucketed(k, len(seg))
            slots, counts = tally_placed(packed, starts, seg.pos, qpos, tol, max(1, min_pairs))
            top = np.argsort(-counts, kind="stable")[:limit]
            if not len(top):
                continue
            of_slot, rank, qi = unpack_pairs(np.unique(pairs_of(packed, starts, slots[top])))
            placed = in_place(seg.pos, of_slot, rank, qpos, qi, tol)
            for slot, count in zip(slots[top].tolist(), counts[top].tolist(), strict=True):
                mine = placed & (of_slot == slot)
                found.append((count, _candidate(seg, slot, qi[mine], rank[mine])))
        found.sort(key=lambda x: -x[0])
        return [c for _, c in found[:limit]]

    def lookup(self, feats: Features, first: int = 0) -> Pairs:
        """The pairs of ``feats``' keypoints (numbered from ``first``) with known keypoints, to
        pass to :meth:`candidates`, alone or joined with another lookup's: a query searched
        again with more keypoints need not look its first ones up twice."""
        self._seal()
        # copies: each segment's pairs are views of buffers that the next lookup reuses
        pairs = [(q + np.int32(first), f.copy()) for q, f in self._each_pairs(feats)]
        return Pairs(tuple(self.segments), pairs)

    def _each_pairs(self, feats: Features) -> Iterator[tuple[npt.NDArray[np.int32], U32]]:
        """Each segment's pairs in turn, in reused buffers: read them before the next."""
        qkeys, qc = feature_keys(feats.descriptors)
        for seg in self.segments:
            yield self._pairs(seg, qkeys, qc)

    def _pairs(self, seg: Segment, qkeys: list[npt.NDArray[np.uint32]], qc: npt.NDArray[np.uint32]
               ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint32]]:  # fmt: skip
        """Every (query keypoint, known feature id) pair of one segment (buffers grow to fit)."""
        while True:
            out_q, out_f = self._buffers
            n = 0
            some_removed = not seg.alive.all()
            for (dirs, fids, packs), qk in zip(seg.tables, qkeys, strict=True):
                run = max_run(len(fids))
                args = (MAX_CHECK, run, seg.alive, some_removed, out_q, out_f, n)
                n = lookup(dirs, fids, packs, qk, qc, *args)
            if n < len(out_q):
                return out_q[:n], out_f[:n]
            self._buffers = (np.empty(2 * n, np.int32), np.empty(2 * n, np.uint32))

    @staticmethod
    def _group(seg: Segment, packed: npt.NDArray[np.int64], starts: npt.NDArray[np.int64],
               min_pairs: int, limit: int) -> list[tuple[int, Candidate]]:  # fmt: skip
        """The ``limit`` images of a segment with the most distinct keypoints paired (its
        pairs grouped by :func:`bucket_pairs`)."""
        slots, counts = tally(packed, starts, max(1, min_pairs))
        if not len(slots):
            return []
        top = np.argsort(-counts, kind="stable")[:limit]
        slots, counts = slots[top], counts[top]
        pairs = np.unique(pairs_of(packed, starts, slots))
        of_slot, rank, qi = unpack_pairs(pairs)
        out = []
        for slot, count in zip(slots.tolist(), counts.tolist(), strict=True):
            lo, hi = np.searchsorted(of_slot, [slot, slot + 1])
            out.append((int(count), _candidate(seg, slot, qi[lo:hi], rank[lo:hi])))
        return out

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
        self._seal()
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        if self._saved_in != root.resolve():  # saved elsewhere: its segments are not here
            self.forget_saved(root)
        names, alive = [], []
        for seg in self.segments:
            if seg.name is None:
                seg.save(root / f"seg-{self._next_name:06d}")
                self._next_name += 1
            names.append(seg.name)
            # which images are removed changes after a segment is written: a new file each save
            alive.append(f"alive-{self._next_name:06d}.npy")
            self._next_name += 1
            with synced(root / alive[-1]) as fh:
                np.save(fh, seg.alive)
        manifest = {
            "format": FORMAT,
            "version": 2,
            "segments": names,
            "alive": alive,
            "checkpoint": self.checkpoint,
            "next": self._next_name,
        }
        write_manifest(root, manifest, {n for n in names if n} | set(alive))
        self._saved_in = root.resolve()

    @classmethod
    def load(cls, directory: str | os.PathLike[str], group_bits: int = 0) -> LocalIndex:
        root = Path(directory)
        index = cls(group_bits)
        manifest = read_manifest(root, FORMAT, 2)
        if manifest is None:
            return index
        try:
            index.segments = [Segment.load(root / n) for n in manifest["segments"]]
            for seg, name in zip(index.segments, manifest["alive"], strict=True):
                seg.alive = np.load(root / name).astype(np.bool_)
                if len(seg.alive) != len(seg):
                    raise ValueError(f"{name}: {len(seg.alive)} flags for {len(seg)} images")
            index.checkpoint = int(manifest["checkpoint"])
            index._next_name = int(manifest["next"])
            index._saved_in = root.resolve()
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"{root}: cannot load index: {exc}") from exc
        return index
