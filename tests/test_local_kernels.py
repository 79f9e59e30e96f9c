"""The local index's tally and the verification screen against plain reference computations."""

from __future__ import annotations

import numpy as np

from vigil.index.local_kernels import (
    PER_IMAGE,
    bucket_pairs,
    pairs_of,
    tally,
    unpack_pairs,
)
from vigil.robust import _consensus


def _random_pairs(rng: np.random.Generator, images: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    # a few images get many pairs (some repeating a keypoint), the rest get one or two
    hot = rng.integers(0, images, 20)
    slots = np.concatenate([np.repeat(hot, 12), rng.integers(0, images, n)])
    ranks = rng.integers(0, PER_IMAGE, len(slots))
    fids = (slots * PER_IMAGE + ranks).astype(np.uint32)
    queries = rng.integers(0, 900, len(fids)).astype(np.int32)
    return queries, fids


def test_tally_counts_distinct_keypoints_per_image_like_a_set_would() -> None:
    rng = np.random.default_rng(4)
    images = 50_000
    q, f = _random_pairs(rng, images, 20_000)
    packed, starts = bucket_pairs(q, f, images)
    slots, counts = tally(packed, starts, 3)
    distinct: dict[int, set[int]] = {}
    for fid in f.tolist():
        distinct.setdefault(fid // PER_IMAGE, set()).add(fid % PER_IMAGE)
    expected = {s: len(v) for s, v in distinct.items() if len(v) >= 3}
    assert dict(zip(slots.tolist(), counts.tolist(), strict=True)) == expected
    assert len(expected) >= 20  # the hot images are there
    # the pairs of chosen images come back whole, packed slot | rank | query keypoint
    chosen = slots[:5]
    slot, rank, query = unpack_pairs(pairs_of(packed, starts, chosen))
    got = sorted(zip(slot.tolist(), rank.tolist(), query.tolist(), strict=True))
    want = sorted(
        (fid // PER_IMAGE, fid % PER_IMAGE, int(qi))
        for qi, fid in zip(q.tolist(), f.tolist(), strict=True)
        if fid // PER_IMAGE in set(chosen.tolist())
    )
    assert got == want


def test_consensus_counts_keypoints_that_one_similarity_maps() -> None:
    rng = np.random.default_rng(5)
    src = rng.random((30, 2)).astype(np.float32) * 400
    angle, scale = np.radians(7.0), 0.8
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (src @ rot.T + [30, -12] + rng.normal(0, 1.0, src.shape)).astype(np.float32)
    dst[20:] = rng.random((10, 2)).astype(np.float32) * 400  # 10 pairs that are chance
    known = np.arange(30, dtype=np.int64)
    assert 20 <= _consensus(src, dst, known, 12.0) <= 22
    # a known keypoint paired with several query keypoints counts once: the 20 consistent
    # pairs here hold only 3 distinct known keypoints
    assert _consensus(src, dst, known % 3, 12.0) == 3
    # pairs that are all chance: a similarity through two of them explains few others
    noise = rng.random((30, 2)).astype(np.float32) * 400
    assert _consensus(src, noise, known, 12.0) < 6
