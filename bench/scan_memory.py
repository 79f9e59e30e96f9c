"""`vigil scan`'s main-process memory over a tree of many files: it must not grow with the
number of files (issue 24: within 10% from 10,000 files to 200,000).

    python -m bench.scan_memory [--files 200000] [--workers 2] [--no-record]

The files are small PNGs derived from the shared photos (a 24 x 24 crop at a different place
of a reduced photo for each, so no two are alike), 1,000 to a folder. The scan reads evidence
too, as `vigil scan` does. Resident memory of the scanning process (not its workers) is
sampled as rows are written.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.common import git_rev, machine, need_shared, record, rss_mib
from vigil.matching.match import Matcher
from vigil.matching.scan import scan
from vigil.store import Store

MARKS = (1_000, 10_000, 50_000, 100_000, 150_000, 200_000)


def make_tree(root: Path, count: int, shared: Path) -> None:
    photos = sorted((shared / "photos" / "clothing").glob("*.jpg"))[:50]
    bases = [Image.open(p).convert("RGB").resize((96, 128)) for p in photos]
    for n in range(count):
        base = bases[n % len(bases)]
        x, y = (n // len(bases)) % 72, (n // len(bases) // 72) % 104
        out = io.BytesIO()
        base.crop((x, y, x + 24, y + 24)).save(out, "PNG")
        folder = root / f"{n // 1000:04d}"
        if n % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"{n:07d}.png").write_bytes(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    shared = need_shared()
    work = Path(tempfile.mkdtemp(prefix="vigil-scan-memory-"))
    try:
        t0 = time.perf_counter()
        make_tree(work / "tree", args.files, shared)
        made = time.perf_counter() - t0
        store = Store.open(work / "home")
        store.create_list("known")
        samples: dict[int, float] = {}
        seen = [0]

        def progress(*_: object) -> None:
            seen[0] += 1
            if seen[0] in MARKS:
                samples[seen[0]] = rss_mib()

        t0 = time.perf_counter()
        summary = scan(work / "tree", Matcher(store), work / "scan.jsonl", args.workers, progress)
        took = time.perf_counter() - t0
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = samples.get(10_000) or next(iter(samples.values()))
    lines = [f"| {n:,} | {mib:.0f} | {100 * (mib - base) / base:+.1f}% |"
             for n, mib in sorted(samples.items())]  # fmt: skip
    body = "\n".join([
        "## `vigil scan` memory over many files (issue 24)",
        "",
        f"`python -m bench.scan_memory --files {args.files} --workers {args.workers}` at "
        f"{git_rev()}, on {machine()}.",
        f"{summary.files:,} small PNGs (made in {made:.0f} s), scanned with evidence in "
        f"{took:.0f} s ({summary.files / took:,.0f} files/s), {summary.errors} errors. Resident "
        "memory of the scanning process (its sandboxed workers apart), against its value after "
        "10,000 files:",
        "",
        "| files written | RSS MiB | vs 10,000 |",
        "|---:|---:|---:|",
        *lines,
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("scan-memory", body)


if __name__ == "__main__":
    main()
