"""A 1M-sample audit (issue 22): MD5 + PDQ against a 1M-entry list on this machine, its time,
and the memory of the auditing process as the samples go by (it must not grow with them).

    python -m bench.audit_scale [--samples 1000000] [--entries 1000000] [--workers 2]
                                [--no-record]

Samples: small JPEGs (a 96 x 96 crop, at a different place for each, of one of 200 shared
photos reduced to 256 x 192), 10,000 to a webdataset tar shard with a JSON (the URL) each.
The list: ``--entries`` synthetic entries (MD5 + PDQ, bench.import_list's) of which one in
10,000 is replaced by a planted sample's own hashes. Memory: resident MiB of the auditing
process and of it with its workers, read from /proc at marks.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.common import git_rev, machine, need_shared, record, rss_mib
from bench.import_list import _entries
from vigil.audit import Run, shards_of
from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes
from vigil.matching.match import Matcher
from vigil.store import Store

PER_SHARD = 10_000
PLANT_EVERY = 10_000
MARKS = (10_000, 20_000, 50_000, 100_000, 250_000, 500_000, 750_000, 1_000_000)


def _bases(shared: Path) -> list[Image.Image]:
    photos = sorted((shared / "photos").rglob("*.jpg"))[:200]
    return [Image.open(p).convert("RGB").resize((256, 192)) for p in photos]


def _sample(bases: list[Image.Image], n: int) -> bytes:
    base = bases[n % len(bases)]
    k = n // len(bases)
    x, y = k % 160, (k // 160) % 96
    out = io.BytesIO()
    base.crop((x, y, x + 96, y + 96)).save(out, "JPEG", quality=80 + k // 15360 % 16)
    return out.getvalue()


def _write_shards(folder: Path, bases: list[Image.Image], count: int) -> dict[str, bytes]:
    """The tar shards; the planted samples' keys and bytes."""
    folder.mkdir(parents=True)
    planted: dict[str, bytes] = {}
    for start in range(0, count, PER_SHARD):
        with tarfile.open(folder / f"{start // PER_SHARD:05d}.tar", "w") as tar:
            for n in range(start, min(count, start + PER_SHARD)):
                key, data = f"{n:07d}", _sample(bases, n)
                if n % PLANT_EVERY == PLANT_EVERY // 2:
                    planted[key] = data
                for name, body in ((f"{key}.jpg", data),
                                   (f"{key}.json", json.dumps({"url": f"https://x/{key}"})
                                    .encode())):  # fmt: skip
                    info = tarfile.TarInfo(name)
                    info.size = len(body)
                    tar.addfile(info, io.BytesIO(body))
    return planted


def _list(store: Store, entries: int, planted: dict[str, bytes]) -> float:
    t0 = time.perf_counter()
    rows = _entries(entries, "vics")
    for n, (key, data) in enumerate(planted.items()):
        res = hash_bytes(data, key, ["md5", "pdq"])
        rows[n * (len(rows) // len(planted))] = Entry(
            f"planted:{key}", [(t, s.value) for t, s in res.signals.items()]
        )
    store.create_list("known")
    store.apply("known", rows)
    Matcher(store, ["known"]).match_value("pdq", "f0" * 32)  # the index built
    return time.perf_counter() - t0


def _tree_rss_mib() -> float:
    """Resident MiB of this process and every process below it."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{name}/status").read_text().splitlines()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        parents[int(name)] = int(fields["PPid"])
        rss[int(name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    mine, total = {os.getpid()}, 0
    for pid in sorted(parents):  # a child has a larger pid, save after wrap-around
        if pid in mine or parents[pid] in mine:
            mine.add(pid)
            total += rss[pid]
    return total / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-audit-scale-"))
    try:
        body = _run(args, need_shared(), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(body)
    if not args.no_record:
        record("audit-scale", body)


def _run(args: argparse.Namespace, shared: Path, work: Path) -> str:
    t0 = time.perf_counter()
    planted = _write_shards(work / "shards", _bases(shared), args.samples)
    made = time.perf_counter() - t0
    listed = _list(store := Store.open(work / "home"), args.entries, planted)
    marks: dict[int, tuple[float, float]] = {}
    seen, found = [0], set[str]()

    def on_row(row: dict[str, object]) -> None:
        seen[0] += 1
        if str(row["key"]) in planted and row["status"] == "match":
            found.add(str(row["key"]))
        if seen[0] in MARKS or seen[0] == args.samples:
            marks[seen[0]] = (rss_mib(), _tree_rss_mib())

    t0 = time.perf_counter()
    run = Run(Matcher(store, ["known"]), work / "out", workers=args.workers, robust=False,
              evidence=False, on_row=on_row)  # fmt: skip
    progress = run.shards(shards_of(work / "shards"))
    took = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (work / "shards").iterdir()) / 2**30
    base = marks[20_000 if 20_000 in marks else min(marks)][0]  # the first shard written
    table = [f"| {n:,} | {main:.0f} | {100 * (main - base) / base:+.1f}% | {tree:.0f} |"
             for n, (main, tree) in sorted(marks.items())]  # fmt: skip
    return "\n".join([
        "## A 1M-sample audit (issue 22)",
        "",
        f"`python -m bench.audit_scale --samples {args.samples} --entries {args.entries} "
        f"--workers {args.workers}` (commit {git_rev()}), {machine()}. Webdataset tar shards "
        f"of {PER_SHARD:,} small JPEGs (96 x 96 crops of reduced shared photos; {size:.1f} GiB, "
        f"written in {made:.0f} s), MD5 + PDQ matched against a list of {args.entries:,} entries "
        f"(imported and indexed in {listed:.0f} s) holding {len(planted)} planted samples' hashes.",
        "",
        f"- {progress.samples:,} samples audited in **{took:.0f} s** ({progress.samples / took:.0f}"
        f" samples/s), {progress.errors} errors; planted samples found: {len(found)} of "
        f"{len(planted)}; samples matched: {progress.matched:,} (the planted and their near "
        "copies: crops of one photo a few pixels apart).",
        "",
        "| samples audited | auditing process MiB | against 20,000 (a shard written) | "
        "with its workers MiB |",
        "|---|---|---|---|",
        *table,
    ])  # fmt: skip


if __name__ == "__main__":
    main()
