"""Choose the ORB descriptor bits that ``vlocal`` uses as index keys (how KEY_A/KEY_B were made).

    python -m bench.train_local_keys [--pairs-images 200] [--bits 24]

Training data are shared photos from the *unrelated* half of the robustness split only (the
benchmark's known images are never used), so the benchmark does not grade its own training set:

- true pairs: each photo's known-side keypoints matched (mutual nearest neighbour, then a RANSAC
  similarity) to the keypoints of its 17 transforms; inlier descriptor pairs are kept;
- collisions: query-side descriptors of other unrelated photos.

A key is built greedily, one bit at a time: the bit that removes the most collisions per true
pair lost (log collision rate over log pair survival). The second key repeats the search over
the remaining bits. Prints both keys; paste them into ``vigil/signals/local_algo.py``.
"""

from __future__ import annotations

import argparse
import json
import random

import cv2
import numpy as np
from PIL import Image

from bench.common import need_shared
from bench.robustness import jpeg, load_transforms
from vigil.matching.hashing import hash_bytes
from vigil.signals.local_algo import unpack_record


def true_pairs(photos, paths: list[str], pool: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    known_side, query_side = [], []
    for path in paths:
        img = Image.open(photos / path).convert("RGB")
        feats, _ = unpack_record(bytes.fromhex(hash_bytes(jpeg(img), path).signals["vlocal"].value))
        for name, fn in load_transforms():
            if name in ("hflip", "resize_0.25"):
                continue  # ORB is not mirror-invariant; a quarter size has too few pixels
            q = fn(img, random.Random(f"{path}/{name}"), pool)
            sv = hash_bytes(jpeg(q), path, ["vlocal"], variants=True).signals["vlocal"]
            if sv.payload is None:
                continue
            qf = sv.payload.features  # type: ignore[attr-defined]
            m = matcher.match(feats.descriptors, qf.descriptors)
            if len(m) < 6:
                continue
            src = feats.points[[x.queryIdx for x in m]]
            dst = qf.points[[x.trainIdx for x in m]]
            _, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC)
            if inl is None:
                continue
            for x, ok in zip(m, inl.ravel(), strict=True):
                if ok:
                    known_side.append(feats.descriptors[x.queryIdx])
                    query_side.append(qf.descriptors[x.trainIdx])
    return np.unpackbits(np.array(known_side), 1), np.unpackbits(np.array(query_side), 1)


def collisions(keys: np.ndarray) -> float:
    _, c = np.unique(keys, return_counts=True)
    n = len(keys)
    return max(float((c * (c - 1)).sum()) / (n * (n - 1)), 1e-12)


def greedy(a: np.ndarray, b: np.ndarray, train: np.ndarray, exclude: set[int], nbits: int):
    differ = (a != b).any(1)
    a, b = a[differ], b[differ]  # pairs that are bit-identical survive any key
    key = np.zeros(len(train), np.int64)
    equal = np.ones(len(a), bool)
    chosen: list[int] = []
    for _ in range(nbits):
        c0, p0 = collisions(key), equal.mean()
        best = None
        for bit in range(256):
            if bit in chosen or bit in exclude:
                continue
            c = collisions(key * 2 + train[:, bit])
            p = (equal & (a[:, bit] == b[:, bit])).mean()
            gain = (np.log(c0) - np.log(c)) / max(np.log(p0) - np.log(max(p, 1e-9)), 1e-4)
            if best is None or gain > best[0]:
                best = (gain, bit)
        assert best is not None
        bit = best[1]
        chosen.append(bit)
        key = key * 2 + train[:, bit]
        equal &= a[:, bit] == b[:, bit]
    print(f"  collision rate {collisions(key):.2e}, non-identical pairs kept {equal.mean():.3f}")
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs-images", type=int, default=200)
    ap.add_argument("--bits", type=int, default=24)
    args = ap.parse_args()
    shared = need_shared()
    split = json.loads((shared / "splits" / "robustness.json").read_text())
    photos = shared / "photos"
    unrelated = split["unrelated"]
    pool = [Image.open(photos / p).convert("RGB") for p in unrelated[:100]]
    a, b = true_pairs(photos, unrelated[300 : 300 + args.pairs_images], pool)
    descs = []
    for p in unrelated[:300]:
        sv = hash_bytes((photos / p).read_bytes(), p, ["vlocal"], variants=True).signals["vlocal"]
        if sv.payload is not None:
            descs.append(sv.payload.features.descriptors[:200])  # type: ignore[attr-defined]
    train = np.unpackbits(np.concatenate(descs), 1)
    print(f"{len(a)} true pairs, {len(train)} descriptors for collisions")
    key_a = greedy(a, b, train, set(), args.bits)
    key_b = greedy(a, b, train, set(key_a), args.bits)
    print("KEY_A =", tuple(key_a))
    print("KEY_B =", tuple(key_b))


if __name__ == "__main__":
    main()
