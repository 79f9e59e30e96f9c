"""The local index's tally and the verification screen against plain reference computations."""

from __future__ import annotations

import numpy as np

from vigil.index.local_kernels import (
    PER_IMAGE,
    bucket_pairs,
    build_table,
    in_place,
    lookup,
    pairs_of,
    tally,
    tally_placed,
    unpack_pairs,
)
from vigil.matching.robust import _consensus


def _random_pairs(rng: np.random.Generator, images: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    # a few images get many pairs (some repeating a keypoint), the rest get one or two
    hot = rng.integers(0, images, 20)
    slots = np.concatenate([np.repeat(hot, 12), rng.integers(0, images, n)])
    ranks = rng.integers(0, PER_IMAGE, len(slots))
    fids = (slots * PER_IMAGE + ranks).astype(np.uint32)
    queries = rng.integers(0, 900, len(fids)).astype(np.int32)
    return queries, fids


def _reference_lookup(keys, checks, qkeys, qchecks, max_check, max_run):  # type: ignore[no-untyped-def]
    out = set()
    for qi, (k, c) in enumerate(zip(qkeys.tolist(), qchecks.tolist(), strict=True)):
        run = np.flatnonzero(keys == k)
        limit = max_check
        if len(run) > max_run:  # a stop word: exact checks only, and none if too many
            run, limit = run[checks[run] == c], 0
            if len(run) > max_run:
                continue
        out |= {(qi, fid) for fid in run.tolist() if bin(int(checks[fid]) ^ c).count("1") <= limit}
    return out


def test_lookup_reads_keys_and_stop_words_as_a_plain_scan_would() -> None:
    rng = np.random.default_rng(5)
    for n, spread in ((3_000, 1 << 24), (200_000, 1 << 24), (5_000, 40)):
        # a few keys are stop words: hundreds of postings, some sharing one check
        keys = np.concatenate([rng.integers(0, spread, n), np.repeat([0, 7, (1 << 24) - 1], 300)])
        checks = rng.integers(0, 1 << 24, len(keys))
        checks[n : n + 120] = 99  # key 0: 120 postings with check 99
        checks[n + 300 : n + 310] = 5  # key 7: 10 with check 5
        keys, checks = keys.astype(np.uint32), checks.astype(np.uint32)
        fids = np.arange(len(keys), dtype=np.uint32)
        dirs, f, packs = build_table(keys, checks, fids)
        picks = rng.integers(0, len(keys), 300)
        qkeys = np.concatenate([keys[picks], np.array([0, 0, 7, (1 << 24) - 1], np.uint32)])
        qchecks = checks[picks] ^ (1 << rng.integers(0, 24, 300)).astype(np.uint32)
        qchecks = np.concatenate([qchecks, np.array([99, 98, 5, 1], np.uint32)])
        for max_run in (50, 200, 10**6):
            out_q, out_f = np.empty(10**6, np.int32), np.empty(10**6, np.uint32)
            alive = np.ones(1, np.bool_)
            m = lookup(dirs, f, packs, qkeys, qchecks, 3, max_run, alive, False, out_q, out_f, 0)
            got = set(zip(out_q[:m].tolist(), out_f[:m].tolist(), strict=True))
            want = _reference_lookup(keys, checks, qkeys, qchecks, 3, max_run)
            assert got == want, (n, max_run)
            by_query = np.bincount([q for q, _ in got], minlength=len(qkeys))
            assert by_query[302] == 10  # key 7 (a stop word below 300): its 10 exact checks
            assert by_query[300] == (0 if max_run < 120 else 120)  # key 0: 120 exact, or none
            if max_run > len(keys):  # no stop words: every query finds its posting
                assert (by_query[:300] >= 1).all()


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


def test_tally_placed_counts_only_keypoints_where_the_known_image_has_them() -> None:
    rng = np.random.default_rng(6)
    images = 50_000
    q, f = _random_pairs(rng, images, 20_000)
    pos = rng.integers(0, 65536, (images, PER_IMAGE, 2)).astype(np.uint16)
    qpos = rng.uniform(0, 1, (900, 2)).astype(np.float32)
    hot = f // PER_IMAGE == f[0] // PER_IMAGE  # one image's keypoints put in place
    qpos[q[hot]] = pos[f[hot] // PER_IMAGE, f[hot] % PER_IMAGE] / 65535 + 0.01
    packed, starts = bucket_pairs(q, f, images)
    slots, counts = tally_placed(packed, starts, pos, qpos, 0.05, 2)
    placed: dict[int, set[int]] = {}
    for qi, fid in zip(q.tolist(), f.tolist(), strict=True):
        slot, rank = divmod(fid, PER_IMAGE)
        if np.abs(pos[slot, rank] / 65535 - qpos[qi]).max() <= 0.05:
            placed.setdefault(slot, set()).add(rank)
    expected = {s: len(v) for s, v in placed.items() if len(v) >= 2}
    assert dict(zip(slots.tolist(), counts.tolist(), strict=True)) == expected
    assert expected[int(f[0]) // PER_IMAGE] >= 5  # the placed image, and few others
    assert len(expected) < 10
    # the same test, pair by pair, for the candidates' pairs
    slot, rank = (f // PER_IMAGE).astype(np.int64), (f % PER_IMAGE).astype(np.int64)
    got = in_place(pos, slot, rank, qpos, q.astype(np.int64), 0.05)
    want = np.abs(pos[slot, rank] / 65535 - qpos[q]).max(axis=1) <= 0.05
    assert got.sum() >= 5
    assert np.array_equal(got, want)


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
