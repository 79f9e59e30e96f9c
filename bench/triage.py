"""Triage ingest (issue 19: 100,000 reports of 1-5 files each, hashes only, in under 10 minutes,
clusters exact against brute force on a sample). The files' hashes come from the shared photos
and two transforms of each (halved; JPEG quality 60), so reports share images exactly and as
near copies, as reports of one circulating image do. There is no peer to run beside it: none
of the anchors clusters reports this way in public code.

    python -m bench.triage [--reports 100000] [--photos 600] [--sample 300] [--no-record]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bench.common import git_rev, machine, need_shared, record, rss_mib
from vigil.hashing import hash_bytes
from vigil.store import Store
from vigil.triage import report_from_dict
from vigil.triage.cases import NEAR, Triage


def _variants(path: Path) -> list[dict[str, str]]:
    with Image.open(path) as im:
        im = im.convert("RGB")
        half, low = io.BytesIO(), io.BytesIO()
        im.resize((max(1, im.width // 2), max(1, im.height // 2))).save(half, "JPEG")
        im.save(low, "JPEG", quality=60)
    out = []
    for data in (path.read_bytes(), half.getvalue(), low.getvalue()):
        got = hash_bytes(data, path.name, ["md5", "sha1", "pdq"])
        out.append({t: s.value for t, s in got.signals.items()})
    return out


def _report(n: int, files: list[dict[str, str]]) -> Any:
    return report_from_dict({
        "incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z", "text": f"report {n}",
        "reporter": {"email": "safety@example.org"},
        "files": [{"name": f"{n}-{k}.jpg", "hashes": h} for k, h in enumerate(files)]},
        f"report {n}")  # fmt: skip


def _brute(files: list[tuple[dict[str, str], int]], pdqs: list[int], upto: int) -> int | None:
    """The cluster file ``upto`` must join, by the rule itself, looking at every earlier one:
    the cluster of a file with the same MD5 or SHA-1, else of the nearest cluster's first
    PDQ within 31 bits (ties: the older cluster), else None (a new one)."""
    mine = files[upto][0]
    for h, cluster in files[:upto]:
        if h["md5"] == mine["md5"] or h["sha1"] == mine["sha1"]:
            return cluster
    first: dict[int, int] = {}
    for (_, cluster), pdq in zip(files[:upto], pdqs, strict=False):
        first.setdefault(cluster, pdq)
    q = pdqs[upto]
    near = [(bin(q ^ p).count("1"), c) for c, p in first.items()]
    near = [x for x in near if x[0] <= NEAR]
    return min(near)[1] if near else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--photos", type=int, default=600)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    photos = sorted((need_shared() / "photos").rglob("*.jpg"))[: args.photos]
    t0 = time.perf_counter()
    pool = [h for p in photos for h in _variants(p)]
    hashed = time.perf_counter() - t0
    rng = random.Random(19)
    plans = [[rng.choice(pool) for _ in range(rng.randint(1, 5))] for _ in range(args.reports)]
    store = Store.open(Path(tempfile.mkdtemp(prefix="vigil-bench-triage-")))
    triage = Triage(store)
    t0 = time.perf_counter()
    placed: list[tuple[dict[str, str], int, str]] = []
    for n, files in enumerate(plans):
        done = triage.ingest(_report(n, files), f"report {n}")
        placed += [(h, c, how) for h, (c, how) in zip(files, done.clusters, strict=True)]
    took = time.perf_counter() - t0
    seq = [(h, c) for h, c, _ in placed]
    picks = rng.sample(range(len(placed)), min(args.sample, len(placed)))
    pdqs = [int(h["pdq"], 16) for h, _ in seq]
    agree = 0
    for i in picks:
        want, (_, cluster, how) = _brute(seq, pdqs, i), placed[i]
        agree += (how == "new") if want is None else (cluster == want and how != "new")
    clusters = len({c for _, c in seq})
    body = "\n".join([
        "## Triage ingest (issue 19)",
        "",
        f"`python -m bench.triage --reports {args.reports} --photos {args.photos}` (commit "
        f"{git_rev()}), {machine()}. Hashes only: {len(pool):,} distinct files (the shared "
        f"photos, halved and re-saved at quality 60; hashed in {hashed:.0f} s, not counted), "
        "drawn at random into reports of 1-5 files; embedded SQLite store, one transaction per "
        "report. Sample: files whose cluster is checked against the rule applied by brute force "
        "over every earlier file.",
        "",
        "| reports | files | clusters | ingest s | reports/s | RSS MiB | sample agreeing |",
        "|---|---|---|---|---|---|---|",
        f"| {args.reports:,} | {len(placed):,} | {clusters:,} | {took:.0f} | "
        f"{args.reports / took:,.0f} | {rss_mib():,.0f} | {agree}/{len(picks)} |",
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("triage", body)
    store.close()


if __name__ == "__main__":
    main()
