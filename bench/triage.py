"""Triage ingest (issue 19: 100,000 reports of 1-5 files each, hashes only, in under 10 minutes,
clusters exact against brute force on a sample) and the case view (milliseconds with 1M files
and 100k reports). The files' hashes come from the shared photos and two transforms of each
(halved; JPEG quality 60), so reports share images exactly and as near copies, as reports of
one circulating image do; each report names one of ``--users`` reported users (so their
reports gather into cases) with a public IP address (a geolocation hint). There is no peer to
run beside it: none of the anchors clusters reports this way in public code.

    python -m bench.triage [--reports 100000] [--files 1-5] [--users 20000] [--photos 600]
                           [--sample 300] [--views 300] [--no-record]
"""

from __future__ import annotations

import argparse
import gc
import io
import ipaddress
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bench.common import git_rev, machine, need_shared, record, rss_mib
from vigil.matching.hashing import hash_bytes
from vigil.store import Store
from vigil.triage import report_from_dict
from vigil.triage.cases import Triage
from vigil.triage.clusters import NEAR
from vigil.triage.views import case_view, queue, report_view


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


def _address(rng: random.Random) -> str:
    while True:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global:
            return str(ip)


def _report(n: int, files: list[dict[str, str]], user: int, ip: str) -> Any:
    return report_from_dict({
        "incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z", "text": f"report {n}",
        "reporter": {"email": "safety@example.org"}, "platform": "Example Photos",
        "users": [{"esp_id": f"user-{user}", "ip_events": [{"address": ip}]}],
        "files": [{"name": f"{n}-{k}.jpg", "hashes": h} for k, h in enumerate(files)]},
        f"report {n}")  # fmt: skip


def _ms(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f}"


def _views(store: Store, cases: list[int], reports: int, n: int, rng: random.Random) -> str:
    """p50 / p95 milliseconds of a case's view, a report's, and the queue's first page."""
    picked = rng.sample(cases, min(n, len(cases)))
    timed: dict[str, list[float]] = {"case": [], "report": [], "queue": []}
    for case in picked:
        t0 = time.perf_counter()
        case_view(store, case)
        t1 = time.perf_counter()
        report_view(store, rng.randrange(1, reports + 1))
        t2 = time.perf_counter()
        queue(store, 50, rng.randrange(0, 500))
        timed["case"].append(t1 - t0)
        timed["report"].append(t2 - t1)
        timed["queue"].append(time.perf_counter() - t2)
    return " | ".join(_ms(timed[k]) for k in ("case", "report", "queue"))


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
    ap.add_argument("--files", default="1-5", help="files a report, from-to")
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--photos", type=int, default=600)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--views", type=int, default=300)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    photos = sorted((need_shared() / "photos").rglob("*.jpg"))[: args.photos]
    t0 = time.perf_counter()
    pool = [h for p in photos for h in _variants(p)]
    hashed = time.perf_counter() - t0
    rng = random.Random(19)
    lo, hi = (int(x) for x in args.files.split("-"))
    plans = [tuple(rng.randrange(len(pool)) for _ in range(rng.randint(lo, hi)))
             for _ in range(args.reports)]  # fmt: skip
    ips = [_address(rng) for _ in range(args.users)]
    gc.collect()
    gc.freeze()  # the harness's own objects: Python's collector would rescan them all run long
    store = Store.open(Path(tempfile.mkdtemp(prefix="vigil-bench-triage-")))
    triage = Triage(store)
    t0 = time.perf_counter()
    placed: list[tuple[int, int, str]] = []  # (pool index, cluster, how): untracked by the GC
    cases = set()
    for n, files in enumerate(plans):
        user = rng.randrange(args.users)
        done = triage.ingest(_report(n, [pool[i] for i in files], user, ips[user]), f"report {n}")
        placed += [(i, c, how) for i, (c, how) in zip(files, done.clusters, strict=True)]
        cases.add(done.case or 0)
    took = time.perf_counter() - t0
    placed_h = [(pool[i], c, how) for i, c, how in placed]
    views = _views(store, sorted(cases), args.reports, args.views, rng)
    seq = [(h, c) for h, c, _ in placed_h]
    picks = rng.sample(range(len(placed)), min(args.sample, len(placed)))
    pdqs = [int(h["pdq"], 16) for h, _ in seq]
    agree = 0
    for i in picks:
        want, (_, cluster, how) = _brute(seq, pdqs, i), placed_h[i]
        agree += (how == "new") if want is None else (cluster == want and how != "new")
    clusters = len({c for _, c in seq})
    body = "\n".join([
        f"## Triage ingest and case views (issue 19): {args.files} files a report",
        "",
        f"`python -m bench.triage --reports {args.reports} --files {args.files} --users "
        f"{args.users} --photos {args.photos}` (commit {git_rev()}), {machine()}. Hashes only: "
        f"{len(pool):,} distinct files (the shared photos, halved and re-saved at quality 60; "
        f"hashed in {hashed:.0f} s, not counted), drawn at random into reports of {args.files} "
        f"files, each report naming one of {args.users:,} users with a public IP address "
        "(geolocation hints; cases by user); embedded SQLite store, one transaction per report. "
        "Sample: files whose cluster is checked against the rule applied by brute force over "
        f"every earlier file. Views: p50 / p95 ms over {args.views} random cases (the case "
        "whole, up to 200 files listed), reports, and queue pages of 50.",
        "",
        "| reports | files | cases | clusters | ingest s | reports/s | RSS MiB | sample agreeing "
        "| case view ms | report view ms | queue page ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {args.reports:,} | {len(placed):,} | {len(cases):,} | {clusters:,} | {took:.0f} | "
        f"{args.reports / took:,.0f} | {rss_mib():,.0f} | {agree}/{len(picks)} | {views} |",
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("triage" if args.files == "1-5" else f"triage-{args.files}", body)
    store.close()


if __name__ == "__main__":
    main()
