"""The Hamming index: exact recall against brute force, changes without rebuild, persistence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vigil.errors import IndexCorrupt
from vigil.index import HammingIndex
from vigil.index import hamming as hamming_mod
from vigil.index.segment import BRUTE_FORCE_BELOW


def _flip(rng: np.random.Generator, h: np.ndarray, bits: int) -> np.ndarray:
    q = h.copy()
    for b in rng.choice(256, bits, replace=False):
        q[b // 8] ^= np.uint8(1 << (b % 8))
    return q


def _truth(hashes: np.ndarray, q: np.ndarray, r: int) -> set[int]:
    d = np.unpackbits(hashes ^ q, axis=1).sum(axis=1)
    return set(np.nonzero(d <= r)[0].tolist())


def _check_exact(
    index: HammingIndex, hashes: np.ndarray, ids: np.ndarray, queries: list[np.ndarray], r: int = 31
) -> None:
    for q in queries:
        got = index.query(q.tobytes(), r)
        assert {i for i, _ in got} == {int(ids[p]) for p in _truth(hashes, q, r)}
        assert all(d <= r for _, d in got)


@pytest.mark.parametrize("radius", [31, 20, 40, 50])
def test_random_hashes_exact_recall(radius: int) -> None:
    rng = np.random.default_rng(radius)
    hashes = rng.integers(0, 256, (30_000, 32), dtype=np.uint8)
    ids = np.arange(30_000, dtype=np.int64) * 3 + 7
    index = HammingIndex()
    index.add(ids, hashes)
    assert len(index.segments) >= 1
    assert index.segments[0].offsets is not None
    queries = [
        _flip(rng, hashes[int(rng.integers(len(hashes)))], int(rng.integers(0, radius + 8)))
        for _ in range(60)
    ]
    _check_exact(index, hashes, ids, queries, radius)


def test_clustered_hashes_exact_recall() -> None:
    """Real PDQ hashes are not uniform: near-duplicate families and skewed bits."""
    rng = np.random.default_rng(5)
    centres = rng.integers(0, 256, (200, 32), dtype=np.uint8)
    skew = rng.random((200, 256)) < 0.15
    family = [(_flip(rng, centres[i % 200], int(rng.integers(0, 40)))) for i in range(20_000)]
    hashes = np.array(family, dtype=np.uint8)
    hashes[:, :8] &= np.packbits(skew[:, :64], axis=1).repeat(100, axis=0)[:, :8]
    ids = np.arange(len(hashes), dtype=np.int64)
    index = HammingIndex()
    index.add(ids, hashes)
    queries = [
        _flip(rng, hashes[int(rng.integers(len(hashes)))], int(rng.integers(0, 35)))
        for _ in range(40)
    ]
    _check_exact(index, hashes, ids, queries)


def test_additions_and_deletions_without_rebuild(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 256, (3 * BRUTE_FORCE_BELOW, 32), dtype=np.uint8)
    index = HammingIndex()
    index.add(range(len(hashes) - 10), hashes[:-10])
    built = list(index.segments)
    index.add(range(len(hashes) - 10, len(hashes)), hashes[-10:])
    assert index.segments[: len(built)] == built  # the big segment was not rebuilt
    assert index.query(hashes[-1].tobytes(), 0) == [(len(hashes) - 1, 0)]
    index.remove([5, len(hashes) - 1])
    assert index.query(hashes[5].tobytes(), 0) == []
    assert index.query(hashes[-1].tobytes(), 0) == []
    assert index.query(hashes[6].tobytes(), 0) == [(6, 0)]
    index.save(tmp_path / "idx")
    again = HammingIndex.load(tmp_path / "idx")
    assert len(again) == len(hashes) - 2
    assert again.query(hashes[5].tobytes(), 0) == []
    assert again.query(hashes[7].tobytes(), 3) == [(7, 0)]
    again.save(tmp_path / "copy")  # a loaded index saved elsewhere takes its segments along
    shutil.rmtree(tmp_path / "idx")
    copy = HammingIndex.load(tmp_path / "copy")
    assert len(copy) == len(hashes) - 2
    assert copy.query(hashes[7].tobytes(), 3) == [(7, 0)]
    again.compact()
    assert len(again.segments) == 1
    assert not again.dead
    assert again.query(hashes[5].tobytes(), 0) == []


def test_segments_merge_logarithmically() -> None:
    rng = np.random.default_rng(2)
    index = HammingIndex()
    for start in range(0, 20 * hamming_mod.TAIL_LIMIT, hamming_mod.TAIL_LIMIT):
        index.add(
            range(start, start + hamming_mod.TAIL_LIMIT),
            rng.integers(0, 256, (hamming_mod.TAIL_LIMIT, 32), dtype=np.uint8),
        )
    sizes = [len(s) for s in index.segments]
    assert sum(sizes) == 20 * hamming_mod.TAIL_LIMIT
    assert len(sizes) <= 5, sizes


def test_a_crash_before_the_manifest_keeps_the_old_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 256, (100, 32), dtype=np.uint8)
    index = HammingIndex()
    index.add(range(100), hashes)
    index.checkpoint = 100
    index.save(tmp_path)
    manifest = (tmp_path / "manifest.json").read_text()
    index.add([1000], hashes[:1] ^ np.uint8(0xFF))
    index.checkpoint = 101
    # simulate a crash after the data files were written but before the manifest replace
    (tmp_path / "tail-999999.npz").write_bytes(b"half-written")
    (tmp_path / "manifest.json").write_text(manifest)
    again = HammingIndex.load(tmp_path)
    assert again.checkpoint == 100
    assert len(again) == 100


def test_damaged_manifest_is_reported(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(IndexCorrupt):
        HammingIndex.load(tmp_path)


@pytest.mark.shared
def test_real_pdq_hashes_exact_recall(shared: Path) -> None:
    """Hashes of real photos (and their rotations/flips) cluster and skew; recall stays exact."""
    import io

    from PIL import Image

    from vigil.matching.hashing import hash_bytes, hash_file

    photos = sorted((shared / "photos" / "clothing").glob("*.jpg"))[:400]
    values = []
    for path in photos:
        sv = hash_file(path, ["pdq"], variants=True).signals["pdq"]
        values += [sv.value, *sv.variants.values()]
    hashes = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(-1, 32)
    ids = np.arange(len(hashes), dtype=np.int64)
    index = HammingIndex()
    index.add(ids, hashes)
    queries = []
    for path in photos[::20]:  # re-encoded, smaller copies of indexed photos
        img = Image.open(path).convert("RGB")
        buf = io.BytesIO()
        img.resize((img.width // 2, img.height // 2)).save(buf, "JPEG", quality=40)
        q = hash_bytes(buf.getvalue(), path.name, ["pdq"]).signals["pdq"].value
        queries.append(np.frombuffer(bytes.fromhex(q), dtype=np.uint8))
    _check_exact(index, hashes, ids, queries)
    assert all(index.query(q.tobytes(), 31) for q in queries)  # every copy is found


def test_grouped_ids_remove_whole_groups(tmp_path: Path) -> None:
    """A video's frames share a group (its signal id); removing the group removes them all."""
    rng = np.random.default_rng(9)
    hashes = rng.integers(0, 256, (3 * BRUTE_FORCE_BELOW, 32), dtype=np.uint8)
    ids = (np.arange(len(hashes)) // 100 << 20) | (np.arange(len(hashes)) % 100)
    index = HammingIndex(group_bits=20)
    index.add(ids[:-50], hashes[:-50])
    index.add(ids[-50:], hashes[-50:])  # the last group spans a segment and the tail
    last_group = int(ids[-1] >> 20)
    assert index.query(hashes[-1].tobytes(), 0) == [(int(ids[-1]), 0)]
    index.remove([last_group, 0])
    assert index.query(hashes[-1].tobytes(), 0) == []
    assert index.query(hashes[-80].tobytes(), 0) == []  # same group, in a segment
    assert index.query(hashes[5].tobytes(), 0) == []  # group 0
    assert index.query(hashes[150].tobytes(), 0) == [(int(ids[150]), 0)]
    removed = len(hashes) % 100 + 100  # the last group is short; group 0 has 100
    assert len(index) == len(hashes) - removed
    index.save(tmp_path)
    again = HammingIndex.load(tmp_path)
    assert again.group_bits == 20
    assert again.query(hashes[-80].tobytes(), 0) == []
    again.compact()
    assert not again.dead
    assert len(again) == len(hashes) - removed
