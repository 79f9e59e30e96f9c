"""What the sandbox costs: a scan's per-file work (read, every signal, evidence) on one core,
in this process against the same work through one sandboxed worker, in the same run.

    python -m bench.sandbox [--files 300] [--no-record]

The files are the shared clothing photos (400 px short side), each read from disk.
"""

from __future__ import annotations

import argparse
import time

from bench.common import git_rev, machine, need_shared, record
from vigil.matching.scan import hash_and_inspect
from vigil.sandbox import Sandbox


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    paths = [str(p) for p in sorted((need_shared() / "photos" / "clothing").glob("*.jpg"))]
    paths = paths[: args.files]
    for p in paths[:20]:  # warm the page cache and this process's lazy imports
        hash_and_inspect(p, True)
    t0 = time.perf_counter()
    for p in paths:
        hash_and_inspect(p, True)
    direct = time.perf_counter() - t0
    with Sandbox(1) as sandbox:
        sandbox.run(hash_and_inspect, paths[0], True, source=paths[0])  # start the worker
        t0 = time.perf_counter()
        for p in paths:
            sandbox.run(hash_and_inspect, p, True, source=p)
        boxed = time.perf_counter() - t0
    n = len(paths)
    body = "\n".join([
        "## The sandbox's cost (issue 24)",
        "",
        f"`python -m bench.sandbox --files {n}` at {git_rev()}, on {machine()}. A scan's work "
        "on one file (read, every signal, evidence), one core:",
        "",
        "| where | ms a file | files/s |",
        "|---|---:|---:|",
        f"| in this process | {1000 * direct / n:.2f} | {n / direct:.0f} |",
        f"| in a sandboxed worker (budget armed, result sent back) | {1000 * boxed / n:.2f} | "
        f"{n / boxed:.0f} |",
        "",
        f"Ratio: the sandbox runs at {direct / boxed:.2f} of the in-process rate "
        f"({1000 * (boxed - direct) / n:+.2f} ms a file).",
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("sandbox", body)


if __name__ == "__main__":
    main()
