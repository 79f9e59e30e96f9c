"""Robust matching at scale: query time and bytes per image with a million known images.

    python -m bench.robust_scale [--size 1000000] [--queries 300] [--phone 40]

The index holds ``--size`` known images: the split's real known images plus synthetic ones.
Each synthetic image has 40 keypoints drawn at random from the real ORB descriptors of 500
unrelated shared photos and of their half-size and rotated copies (about 3% of the bits flipped),
at random positions, with a random DoG grid: the descriptors keep the skew of real ones (which
is what makes postings lists long) but no synthetic image is a copy of a real one. Negative
queries are other unrelated photos than those 500.
A PDQ index of the same size stands beside it (the known images' PDQ hashes, the rest derived
from the same 500 photos'), because a match looks PDQ up first and a small image that PDQ
already found is not searched enlarged.
Queries are transforms of real known images (recall) and unrelated images (false matches), each
run on one core twice: as a match runs it (every image signal hashed, PDQ looked up, the robust
search and parts) and as the robust query alone (decode, vlocal, search and parts). The store's
SQL lookups are left out (they are the same as for any signal). ``--phone`` more queries are
12-megapixel JPEGs, timed the same way.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import git_rev, machine, need_shared, record, rss_mib  # noqa: E402
from bench.robustness import jpeg, load_transforms  # noqa: E402
from vigil.index import HammingIndex, LocalIndex  # noqa: E402
from vigil.matching.hashing import hash_bytes  # noqa: E402
from vigil.matching.robust_search import search, search_part  # noqa: E402
from vigil.signals import PDQ_MIN_QUALITY  # noqa: E402
from vigil.signals.local import SMALL_QUERY, LocalQuery, enlarged_keypoints  # noqa: E402
from vigil.signals.local_algo import (  # noqa: E402
    Features,
    extract,
    normalized_gray,
    unpack_record,
)
from vigil.signals.parts import Part, match_parts, part_hashes  # noqa: E402

CHUNK = 100_000
PDQ_RADIUS = 31


def real_records(photos: Path, paths: list[str]) -> list[tuple[Features, np.ndarray]]:
    out = []
    for p in paths:
        sv = hash_bytes((photos / p).read_bytes(), p, ["vlocal"]).signals["vlocal"]
        out.append(unpack_record(bytes.fromhex(sv.value)))
    return out


def descriptor_pool(photos: Path, paths: list[str]) -> np.ndarray:
    """Real ORB descriptors: the query-side keypoints of ``paths`` and of their half-size and
    rotated copies, each image searched at its own size and enlarged (whatever size the query
    side would search it at, with FAST threshold 8: the pool does not change with the query
    side's policy, so records stay comparable)."""
    pool = []
    for p in paths:
        img = Image.open(photos / p).convert("RGB")
        for variant in (img, img.resize((img.width // 2, img.height // 2)), img.rotate(7)):
            grey = Image.open(io.BytesIO(jpeg(variant))).convert("L")
            norm = normalized_gray(np.asarray(grey, dtype=np.uint8))
            pool.append((extract(norm, 500, fast=8) + enlarged_keypoints(norm)).descriptors)
    return np.concatenate(pool)


def synthetic(pool: np.ndarray, n: int, rng: np.random.Generator):
    """``n`` records of 40 keypoints drawn from ``pool`` (about 3% of bits flipped), at random
    positions, with a random DoG grid."""
    picks = pool[rng.integers(len(pool), size=(n, 40))]
    noise = rng.integers(0, 256, size=(5, n, 40, 32), dtype=np.uint8)
    descs = picks ^ (noise[0] & noise[1] & noise[2] & noise[3] & noise[4])
    points = (rng.random((n, 40, 2)) * np.array([400, 533])).astype(np.float32)
    grids = rng.integers(0, 256, size=(n, 128), dtype=np.uint8)
    for i in range(n):
        yield Features(points[i], descs[i], (400, 533)), grids[i]


def build(index: LocalIndex, pool: np.ndarray, size: int, first_id: int) -> float:
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    done = 0
    while done < size:
        n = min(CHUNK, size - done)
        ids = range(first_id + done, first_id + done + n)
        index.pending.extend(zip(ids, synthetic(pool, n, rng), strict=True))
        index._seal()
        done += n
        print(f"  {done:,} synthetic images", flush=True)
    return time.perf_counter() - t0


def _ms(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"mean {1000 * statistics.fmean(times):.1f} ms, p99 {1000 * p99:.1f} ms"


def pdq_index(photos: Path, known: list[str], donors: list[str], size: int) -> HammingIndex:
    """``size`` PDQ hashes: the known images' own, then hashes of ``donors`` and of their 8
    rotations and flips, each with about 32 bits flipped (clustered like a real list, as
    ``bench.index``'s derived set; no donor is a query)."""

    def hashes(path: str) -> list[str]:
        sv = hash_bytes((photos / path).read_bytes(), path, ["pdq"], variants=True).signals["pdq"]
        return [sv.value, *sv.variants.values()]

    def rows(values: list[str]) -> np.ndarray:
        return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, 32)

    real = rows([hashes(p)[0] for p in known])
    base = rows([h for p in donors for h in hashes(p)])
    rng = np.random.default_rng(5)
    n = max(0, size - len(real))
    noise = [rng.integers(0, 256, (n, 32), dtype=np.uint8) for _ in range(3)]
    derived = base[rng.integers(len(base), size=n)] ^ (noise[0] & noise[1] & noise[2])
    index = HammingIndex()
    index.add(range(size), np.concatenate([real, derived]))
    index.compact()
    return index


def _full_match(data: bytes, index: LocalIndex, pdq: HammingIndex) -> tuple[set[int], bool, bool]:
    """What a match does with an image: every image signal hashed (file digests, PDQ with its
    8 rotations and flips, vlocal), PDQ's 8 values looked up, then the robust search (told
    whether PDQ matched). Returns the ids found (PDQ or altered_copy), whether PDQ matched and
    whether the search ran its enlarged pass."""
    result = hash_bytes(data, "q", variants=True)
    sv = result.signals["pdq"]
    ids = set()
    if sv.usable:
        for value in [sv.value, *sv.variants.values()]:
            ids |= {i for i, _ in pdq.query(bytes.fromhex(value), PDQ_RADIUS)}
    by_pdq = bool(ids)
    q = result.signals["vlocal"].payload
    if isinstance(q, LocalQuery):
        ids |= _local(q, index, pdq, by_pdq)
    return ids, by_pdq, isinstance(q, LocalQuery) and "enlarged" in vars(q)


def _local(q: LocalQuery, index: LocalIndex, pdq: HammingIndex, matched: bool) -> set[int]:
    """Robust matching as a match runs it (:meth:`vigil.matching.match.Matcher._match_local`):
    the search, then, unless the query matched as a whole, its parts (cells of a composite,
    insets), by their PDQ or robustly within them."""
    found = search(index, q, matched)
    ids = {a.id for a in found if a.kind == "altered_copy"}
    if matched or any(a.whole for a in found):
        return ids

    def whole(part: Part) -> list[int]:
        if part.pdq.quality < PDQ_MIN_QUALITY:
            return []
        for _, value in part_hashes(part):  # its own, then its mirror's
            if found := [i for i, _ in pdq.query(bytes.fromhex(value), PDQ_RADIUS)]:
                return found
        return []

    def within(box: tuple[float, float, float, float]) -> list[int]:
        return [a.id for a in search_part(index, q, box) if a.kind == "altered_copy"]

    return ids | set(match_parts(q.parts, whole, within))


def _robust(data: bytes, index: LocalIndex, pdq: HammingIndex) -> tuple[set[int], float]:
    """The robust query alone: decode, vlocal, robust matching (:func:`_local`, its parts'
    PDQ looked up); the ids and the matching's share of time."""
    q = hash_bytes(data, "q", ["vlocal"], variants=True).signals["vlocal"].payload
    t1 = time.perf_counter()
    found = _local(q, index, pdq, False) if isinstance(q, LocalQuery) else set()
    return found, time.perf_counter() - t1


def run_queries(index: LocalIndex, pdq: HammingIndex, jobs: list[tuple[bytes, int, bool]]
                ) -> dict[str, Any]:  # fmt: skip
    """Each query twice on one core: as a match runs it (:func:`_full_match`), and the robust
    query alone (:func:`_robust`)."""
    hits = {"all": 0, "robust": 0}
    false = {"all": 0, "robust": 0}
    times: dict[str, list[float]] = {k: [] for k in ("all", "robust", "index", "small", "work")}
    second = by_pdq = 0
    for data, truth, small in jobs:
        t0 = time.perf_counter()
        ids, pdq_hit, wide = _full_match(data, index, pdq)
        t1 = time.perf_counter()
        robust_ids, search_s = _robust(data, index, pdq)
        t2 = time.perf_counter()
        for key, found in (("all", ids), ("robust", robust_ids)):
            hits[key] += truth >= 0 and truth in found
            false[key] += truth < 0 and bool(found)
        second += wide
        by_pdq += small and pdq_hit
        times["all"].append(t1 - t0)
        times["robust"].append(t2 - t1)
        times["index"].append(search_s)
        times["small" if small else "work"].append(t1 - t0)
    pos = sum(t >= 0 for _, t, _ in jobs)
    return {
        "recall": {k: v / max(pos, 1) for k, v in hits.items()},
        "false": false,
        "neg": len(jobs) - pos,
        "n_small": len(times["small"]),
        "second": second,
        "small_by_pdq": by_pdq,
        **{k: _ms(v) for k, v in times.items() if v},
    }


def query_jobs(photos: Path, split: dict[str, list[str]], count: int
               ) -> list[tuple[bytes, int, bool]]:  # fmt: skip
    """``count`` random transforms of known images and ``count`` unrelated photos, as JPEG
    files: (bytes, the known image's id or -1, whether it is small)."""
    known = split["known"]
    transforms = load_transforms()
    rng = random.Random(3)
    donors = [Image.open(photos / p).convert("RGB") for p in split["unrelated"][:100]]
    images = []
    for _ in range(count):
        i = rng.randrange(len(known))
        name, fn = transforms[rng.randrange(len(transforms))]
        img = Image.open(photos / known[i]).convert("RGB")
        images.append((fn(img, random.Random(f"{known[i]}/{name}"), donors), i))
    for p in rng.sample(split["unrelated"][500:], count):
        images.append((Image.open(photos / p).convert("RGB"), -1))
    return [(jpeg(img), i, min(img.size) < SMALL_QUERY) for img, i in images]


PHONE = (4032, 3024)  # a 12-megapixel phone photo


def phone_jobs(photos: Path, split: dict[str, list[str]], count: int
               ) -> list[tuple[bytes, int, bool]]:  # fmt: skip
    """``count`` 12-megapixel JPEGs (quality 90, as a phone writes them): half of them known
    photos cropped by 10% and enlarged to PHONE (a photo of a known picture, framed a little
    differently), half unrelated photos enlarged. Enlarging adds no detail; what is measured
    is the cost of a file of that size, decoding first."""
    known, rng = split["known"], random.Random(12)
    picks = [(known[i], i) for i in rng.sample(range(len(known)), count // 2)]
    picks += [(p, -1) for p in rng.sample(split["unrelated"][500:], count - count // 2)]
    out = []
    for path, truth in picks:
        img = Image.open(photos / path).convert("RGB")
        w, h = img.size
        if truth >= 0:
            img = img.crop((w // 20, h // 20, w - w // 20, h - h // 20))
        size = PHONE if img.width >= img.height else PHONE[::-1]
        buf = io.BytesIO()
        img.resize(size, Image.Resampling.BILINEAR).save(buf, "JPEG", quality=90)
        out.append((buf.getvalue(), truth, False))
    return out


def build_index(photos: Path, split: dict[str, list[str]], size: int) -> dict[str, Any]:
    """The local index of ``size`` images, built, compacted, saved and loaded back."""
    rss0 = rss_mib()
    index = LocalIndex()
    index.pending.extend(enumerate(real_records(photos, split["known"])))
    pool = descriptor_pool(photos, split["unrelated"][:500])
    out: dict[str, Any] = {"build_s": build(index, pool, max(0, size - len(index)), len(index))}
    index._seal()
    t0 = time.perf_counter()
    index.compact()  # as the store does after a bulk import
    out["compact_s"] = time.perf_counter() - t0
    out["bytes_per"] = index.nbytes / len(index)
    out["rss"] = rss_mib() - rss0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index.save(tmp)
        out["save_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out["index"] = LocalIndex.load(tmp)
        out["load_s"] = time.perf_counter() - t0
    return out


def report(args: argparse.Namespace, built: dict[str, Any], res: dict[str, Any], n_known: int
           ) -> str:  # fmt: skip
    bytes_per = built["bytes_per"]
    recall, false = res["recall"], res["false"]
    return "\n".join(
        [
            "## Robust matching at scale (issue 3)",
            "",
            f"`python -m bench.robust_scale --size {args.size} --queries {args.queries} "
            f"--phone {args.phone}` "
            f"(commit {git_rev()}), {machine()}.",
            "",
            f"- Index: {len(built['index']):,} known images ({n_known} real; the rest synthetic, "
            "each 40 keypoints drawn from the real descriptors of 500 unrelated photos and their "
            "resized and rotated copies, 3% of bits flipped, random positions); built in "
            f"{built['build_s']:.0f} s and compacted into one segment in "
            f"{built['compact_s']:.0f} s, as the store does after a bulk import.",
            f"- Index bytes per known image: {bytes_per:.0f} (resident growth "
            f"{built['rss'] / 1024:.2f} GiB); at 10 million images: "
            f"{bytes_per * 1e7 / 2**30:.1f} GiB. Saved in {built['save_s']:.1f} s, loaded in "
            f"{built['load_s']:.1f} s (queries below run on the loaded copy).",
            f"- PDQ index beside it: {args.size:,} hashes ({n_known} of the known images, the "
            "rest derived from the PDQ hashes of the same 500 unrelated photos and their 8 "
            "rotations and flips, about 32 bits flipped).",
            f"- Queries, one core: {args.queries} random transforms of known images and "
            f"{res['neg']} unrelated photos, each JPEG-encoded beforehand.",
            f"- **Robust query** (decode, vlocal, index lookup, verification, mirrored pass, "
            f"and a query not matched as a whole looked at for parts: cells, insets): "
            f"{res['robust']}; of which matching (all but decode and vlocal) {res['index']}. "
            f"Recall {recall['robust']:.3f} "
            f"(altered_copy of the right image), {false['robust']} false matches.",
            "- **Whole match** (file digests, PDQ of the image's 8 rotations and flips and "
            f"their 8 lookups at {args.size:,}, vlocal, robust matching as above): "
            f"{res['all']}. Of queries of working size (short side {SMALL_QUERY} px or more): "
            f"{res['work']}; of "
            f"the {res['n_small']} smaller ones: {res.get('small', '-')} ({res['small_by_pdq']} "
            f"already matched by PDQ; {res['second']} searched enlarged too). Recall "
            f"{recall['all']:.3f} (the right image found by PDQ or as an altered_copy), "
            f"{false['all']} unrelated photos matched.",
        ]
    )


def phone_report(args: argparse.Namespace, res: dict[str, Any]) -> str:
    recall, false = res["recall"], res["false"]
    return (
        f"- **12-megapixel phone photos** ({args.phone} JPEGs of {PHONE[0]} x {PHONE[1]}, "
        f"quality 90: half known photos cropped 10% and enlarged, half unrelated; "
        f"`--phone {args.phone}`): robust query {res['robust']}, whole match {res['all']}. "
        f"Recall {recall['all']:.3f}, {false['all']} unrelated photos matched."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--phone", type=int, default=40, help="12-megapixel queries")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    shared = need_shared()
    split = json.loads((shared / "splits" / "robustness.json").read_text())
    photos = shared / "photos"
    built = build_index(photos, split, args.size)
    pdq = pdq_index(photos, split["known"], split["unrelated"][:500], args.size)
    res = run_queries(built["index"], pdq, query_jobs(photos, split, args.queries))
    phone = run_queries(built["index"], pdq, phone_jobs(photos, split, args.phone))
    body = report(args, built, res, len(split["known"])) + "\n" + phone_report(args, phone)
    print(body)
    if not args.no_record:
        record("robust-scale", body)


if __name__ == "__main__":
    main()
