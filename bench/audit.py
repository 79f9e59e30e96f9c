"""Dataset audits (issue 22): planted images found, throughput against `vigil scan`'s code path
in the same run, Ray on one node against the local engine, scaling from one worker to two, and
the time each stage costs a core (for the cost plan in docs/audit.md).

Data: the split of ``../shared/data/splits/robustness.json``: ``--known`` of its known photos
are a list (every signal); webdataset tar shards of 400 px JPEGs hold each known photo as it
is, re-encoded (a PDQ copy) and under each of the 18 transforms of
``../shared/bench/transforms.py``, and ``--unrelated`` unrelated photos with two transforms each
(the hard negatives: other garments on the same beds). Recall: the right entry among a
sample's matches (``exact``/``near_duplicate``/``altered_copy``; ``shared_scene`` apart); a false
match: an unrelated sample matched so.

    python -m bench.audit [--known 200] [--unrelated 600] [--no-record]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bench.common import git_rev, machine, need_shared, record
from bench.robustness import STRONG, load_transforms
from vigil.audit import Run, shards_of
from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes
from vigil.matching.match import Matcher
from vigil.matching.scan import scan
from vigil.store import Store

PER_SHARD = 250


def _jpeg(img: Image.Image, quality: int = 95) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _samples(photos: Path, known: list[str], unrelated: list[str]) -> list[tuple[str, bytes, str]]:
    """(key, JPEG, truth: the known photo's entry key, or "") for every sample."""
    transforms = load_transforms()
    donors = [Image.open(photos / p).convert("RGB") for p in unrelated[:8]]
    out = []
    for n, rel in enumerate(known):
        img = Image.open(photos / rel).convert("RGB")
        out.append((f"k{n}-exact", (photos / rel).read_bytes(), f"k{n}"))
        out.append((f"k{n}-pdq", _jpeg(img, 60), f"k{n}"))
        for name, fn in transforms:
            rng = random.Random(f"{rel}|{name}")
            out.append((f"k{n}-{name}", _jpeg(fn(img, rng, donors)), f"k{n}"))
    for n, rel in enumerate(unrelated):
        img = Image.open(photos / rel).convert("RGB")
        out.append((f"u{n}", (photos / rel).read_bytes(), ""))
        for name, fn in transforms[:2]:
            out.append((f"u{n}-{name}", _jpeg(fn(img, random.Random(rel), donors)), ""))
    random.Random(22).shuffle(out)
    return out


def _write_shards(folder: Path, samples: list[tuple[str, bytes, str]]) -> None:
    folder.mkdir(parents=True)
    for s in range(0, len(samples), PER_SHARD):
        with tarfile.open(folder / f"{s // PER_SHARD:05d}.tar", "w") as tar:
            for key, data, _ in samples[s : s + PER_SHARD]:
                for name, body in (
                    (f"{key}.jpg", data),
                    (f"{key}.json", json.dumps({"url": f"https://x/{key}"}).encode()),
                ):
                    info = tarfile.TarInfo(name)
                    info.size = len(body)
                    tar.addfile(info, io.BytesIO(body))  # fmt: skip


def _store(home: Path, photos: Path, known: list[str]) -> Store:
    store = Store.open(home)
    store.create_list("known")
    entries = []
    for n, rel in enumerate(known):
        res = hash_bytes((photos / rel).read_bytes(), rel)
        entries.append(Entry(f"k{n}", [(t, s.value) for t, s in res.signals.items()]))
    store.apply("known", entries)
    return store


def _audit(store: Store, shards: Path, out: Path, workers: int, robust: bool = True,
           evidence: bool = True) -> tuple[float, dict[str, Any]]:  # fmt: skip
    t0 = time.perf_counter()
    Run(Matcher(store, ["known"]), out, workers=workers, robust=robust,
        evidence=evidence).shards(shards_of(shards))  # fmt: skip
    took = time.perf_counter() - t0
    import pyarrow.parquet as pq

    rows = {}
    for part in sorted((out / "shards").glob("*.parquet")):
        rows.update({r["key"]: r for r in pq.read_table(part).to_pylist()})
    return took, rows


def _score(rows: dict[str, Any], truth: dict[str, str]) -> dict[str, Any]:
    by_family: dict[str, list[bool]] = {}
    false, shared = 0, 0
    for key, want in truth.items():
        matches = json.loads(rows[key]["matches"] or "[]")
        kinds = {m["entry"]: m["kind"] for m in matches}
        family = key.split("-", 1)[1] if "-" in key and want else "unrelated"
        if want:
            by_family.setdefault(family, []).append(kinds.get(want) in STRONG)
        else:
            false += any(k in STRONG for k in kinds.values())
            shared += "shared_scene" in kinds.values()
    recall = {f: sum(v) / len(v) for f, v in by_family.items()}
    negatives = sum(1 for w in truth.values() if not w)
    return {"recall": recall, "false": false, "shared": shared, "negatives": negatives}


def _stages(samples: list[tuple[str, bytes, str]], store: Store, n: int = 200) -> dict[str, float]:
    """Milliseconds a core spends per sample in each stage, in this process."""
    from vigil.evidence import inspect_bytes
    from vigil.matching.scan import SCAN_EVIDENCE
    from vigil.media import Limits
    from vigil.media.decode import decode_image
    from vigil.signals.local import analyse
    from vigil.signals.pdq_algo import hash_rgb_or_l

    matcher, picked = Matcher(store, ["known"]), samples[:n]
    cost: dict[str, float] = dict.fromkeys(("md5", "decode", "pdq", "robust", "evidence",
                                            "match", "match MD5 + PDQ"), 0.0)  # fmt: skip
    for key, data, _ in picked:
        t = time.perf_counter()
        hashlib.md5(data).hexdigest()
        cost["md5"] += time.perf_counter() - t
        t = time.perf_counter()
        img = decode_image(data, key, Limits())
        cost["decode"] += time.perf_counter() - t
        t = time.perf_counter()
        hash_rgb_or_l(img.pixels)
        cost["pdq"] += time.perf_counter() - t
        t = time.perf_counter()
        analyse(img.gray, query=True)
        cost["robust"] += time.perf_counter() - t
        t = time.perf_counter()
        inspect_bytes(data, key, SCAN_EVIDENCE)
        cost["evidence"] += time.perf_counter() - t
        result = hash_bytes(data, key, ["md5", "pdq", "vlocal"], Limits(), True)
        t = time.perf_counter()
        matcher.match_result(result)
        cost["match"] += time.perf_counter() - t
        plain = hash_bytes(data, key, ["md5", "pdq"], Limits(), True)
        t = time.perf_counter()
        matcher.match_result(plain)
        cost["match MD5 + PDQ"] += time.perf_counter() - t
    return {k: 1000 * v / len(picked) for k, v in cost.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--known", type=int, default=200)
    ap.add_argument("--unrelated", type=int, default=600)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    shared = need_shared()
    split = json.loads((shared / "splits" / "robustness.json").read_text())
    photos = shared / "photos"
    known, unrelated = split["known"][: args.known], split["unrelated"][: args.unrelated]
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-audit-"))
    samples = _samples(photos, known, unrelated)
    truth = {k: t for k, _, t in samples}
    _write_shards(work / "shards", samples)
    folder = work / "files"
    folder.mkdir()
    for key, data, _ in samples:
        (folder / f"{key}.jpg").write_bytes(data)
    store = _store(work / "home", photos, known)
    runs: dict[str, float] = {}
    outs = {"local, 2 workers": "a2", "local, 1 worker": "a1",
            "local, 2 workers, no robust signal": "an", "local, 2 workers, MD5 + PDQ only": "a0",
            "Ray on this node (an actor, 2 workers)": "ray"}  # fmt: skip
    runs["local, 2 workers"], rows = _audit(store, work / "shards", work / "a2", 2)
    runs["local, 1 worker"], _ = _audit(store, work / "shards", work / "a1", 1)
    runs["local, 2 workers, no robust signal"], _ = _audit(
        store, work / "shards", work / "an", 2, robust=False
    )
    runs["local, 2 workers, MD5 + PDQ only"], _ = _audit(
        store, work / "shards", work / "a0", 2, robust=False, evidence=False
    )
    t0 = time.perf_counter()
    read = sum(1 for shard in shards_of(work / "shards") for _ in shard.samples())
    read_ms = 1000 * (time.perf_counter() - t0) / read
    t0 = time.perf_counter()
    scan(folder, Matcher(store, ["known"]), work / "scan.jsonl", workers=2)
    runs["vigil scan, 2 workers"] = time.perf_counter() - t0
    import ray

    from vigil.audit.ray_engine import audit_with_ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    audit_with_ray(shards_of(work / "shards"), str(store.home), None, ["known"], work / "ray")
    runs["Ray on this node (an actor, 2 workers)"] = time.perf_counter() - t0
    ray.shutdown()
    stages = {"read": read_ms, **_stages(samples, store)}
    score = _score(rows, truth)
    started = {k: _started(work / v) for k, v in outs.items()}
    body = _report(args, len(samples), runs, started, score, stages, ray_start)
    print(body)
    if not args.no_record:
        record("audit", body)


def _started(out: Path) -> float:
    """Seconds from the start of a run's first shard to the end of its last (progress.jsonl):
    the run's time without starting its workers or actors."""
    log = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    return float(log[-1]["at"] - (log[0]["at"] - log[0]["seconds"]))


def _report(args: Any, n: int, runs: dict[str, float], started: dict[str, float],
            score: dict[str, Any], stages: dict[str, float], ray_start: float) -> str:  # fmt: skip
    rate = {k: n / v for k, v in runs.items()}
    busy = {k: n / v for k, v in started.items()}
    local = rate["local, 2 workers"]
    recall = score["recall"]
    robust = [v for k, v in recall.items() if k not in ("exact", "pdq")]
    lines = [
        "## Dataset audits (issue 22)",
        "",
        f"`python -m bench.audit --known {args.known} --unrelated {args.unrelated}` (commit "
        f"{git_rev()}), {machine()}. {n:,} samples in webdataset tar shards of {PER_SHARD} "
        "(400 px JPEGs: each known photo as it is, re-encoded at quality 60, and under the 18 "
        "transforms of bench/robustness; unrelated photos with two transforms each), every "
        "signal and the evidence label, matched against the known photos' list. `vigil scan` "
        "hashes the same JPEGs as files in the same run. Ray: started beforehand "
        f"({ray_start:.1f} s, not counted), its actors and their workers counted (the last "
        "two columns leave out starting the workers, and for Ray its actor and Ray Data's plan).",
        "",
        "| engine | samples/s | per core | against the local engine | samples/s from the "
        "first shard's start | against the local engine so |",
        "|---|---|---|---|---|---|",
        *(f"| {k} | {v:.1f} | {v / (1 if '1 worker' in k else 2):.1f} | {v / local:.2f} | "
          + (f"{busy[k]:.1f} | {busy[k] / busy['local, 2 workers']:.2f} |" if k in busy
             else "- | - |") for k, v in rate.items()),
        "",
        f"Found: exact copies {recall.get('exact', 0):.3f}, re-encoded copies "
        f"{recall.get('pdq', 0):.3f}, the 18 transforms {sum(robust) / len(robust):.3f} on "
        f"average (lowest {min(robust):.3f}); false matches {score['false']} in "
        f"{score['negatives']:,} unrelated samples ({score['shared']} shared_scene, reported "
        "apart). Scaling from 1 worker to 2: "
        f"{rate['local, 2 workers'] / rate['local, 1 worker']:.2f}x.",
        "",
        "Milliseconds a core spends per sample in each stage (200 samples, one process): "
        + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) + ".",
    ]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
