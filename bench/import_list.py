"""Importing a large list into the embedded store (SQLite), then re-importing it unchanged.

    python -m bench.import_list [--entries 1000000] [--format te-csv]

The list is synthetic and benign: one PDQ hash per entry (random, with 128 bits set like real
PDQ), plus an MD5 key for VICS, written in the chosen exchange format. Measures the import
(parse, validate, write, change log), bringing the PDQ index up to date, and a second import of
the same file (which must change nothing).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import OUT, git_rev, machine, record
from vigil.lists import Entry, formats
from vigil.store import Store


def _entries(n: int, fmt: str) -> list[Entry]:
    """One entry per row of the format: PDQ alone, or MD5 + PDQ where MD5 is the key (VICS)."""
    rng = np.random.default_rng(11)
    bits = np.zeros((n, 256), dtype=bool)
    order = np.argsort(rng.random((n, 256)), axis=1)[:, :128]
    np.put_along_axis(bits, order, True, axis=1)
    pdq = np.packbits(bits, axis=1)
    md5 = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    out = []
    for i, (m, p) in enumerate(zip(md5, pdq, strict=True)):
        sigs = [("pdq", p.tobytes().hex())]
        if fmt == "vics":
            sigs.insert(0, ("md5", m.tobytes().hex()))
        out.append(Entry(f"{sigs[0][0]}:{sigs[0][1]}", sigs, category=i % 3, tags=["bench"]))
    return out


def _list_file(n: int, fmt: str) -> Path:
    path = OUT / f"list-{n}.{fmt}"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            formats.get(fmt).write(_entries(n, fmt), fh)
    return path


def _import(store: Store, path: Path, fmt: str) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    with path.open("rb") as fh:
        report = store.apply("bench", formats.get(fmt).read(fh, str(path)), str(path))
    elapsed = time.perf_counter() - start
    counts = {k: v for k, v in report.as_dict().items() if isinstance(v, int)}
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--format", default="te-csv", help="a writable list format")
    args = parser.parse_args()
    path = _list_file(args.entries, args.format)
    with tempfile.TemporaryDirectory() as home:
        store = Store.open(home)
        store.create_list("bench")
        first, counts = _import(store, path, args.format)
        start = time.perf_counter()
        store.index("pdq")
        index_s = time.perf_counter() - start
        again, counts2 = _import(store, path, args.format)
        store.close()
    print(f"import {first:.1f}s {counts}; index {index_s:.1f}s; re-import {again:.1f}s {counts2}")
    mb = path.stat().st_size / 2**20
    record(
        f"import-{args.format}",
        "\n".join(
            [
                "## Importing a list into the embedded store",
                "",
                f"`python -m bench.import_list --entries {args.entries} --format {args.format}` on "
                f"{machine()}, commit {git_rev()}. Synthetic benign list: one PDQ per entry "
                "(VICS: MD5 key + PDQ).",
                "",
                "| entries | format | file MiB | import s | rows/s | PDQ index catch-up s | "
                "re-import s (changes nothing) |",
                "|---|---|---|---|---|---|---|",
                f"| {args.entries:,} | {args.format} | {mb:.0f} | {first:.1f} | "
                f"{args.entries / first:,.0f} | {index_s:.1f} | {again:.1f} "
                f"(added {counts2['added']}, unchanged {counts2['unchanged']}) |",
            ]
        ),
    )


if __name__ == "__main__":
    main()
