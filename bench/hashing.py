"""Hashing throughput, one core: md5 + PDQ per image, Vigil against python-threatexchange.

    python -m bench.hashing [--small N] [--large N]

(a) the 400 px shared photos; (b) 12-megapixel JPEGs (4032x3024, quality 90) made by upscaling
shared photos, as a phone writes them. Both engines hash the same files in the same run (files
read from the page cache); the peer is `PdqSignal.hash_from_file` plus hashlib MD5. Also reports
the Hamming distance between the two engines' PDQ hashes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bench.common import OUT, git_rev, machine, need_shared, record
from vigil.matching.hashing import hash_file
from vigil.signals import hamming

TITLE = "## Hashing: md5 + PDQ, images per second on one core"
PEER_NOTE = (
    "Peer: python-threatexchange `PdqSignal.hash_from_file` (+ MD5) on the same files in the "
    "same run. Distance: Hamming bits between Vigil's PDQ and the peer's."
)
HEADER = [
    "| images | files | Vigil /s | pytx /s | ratio | mean distance | max distance | within 8 |",
    "|---|---|---|---|---|---|---|---|",
]


def _large_jpegs(sources: list[Path], count: int) -> list[Path]:
    folder = OUT / "12mp"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources[:count]:
        target = folder / f"{src.stem}.jpg"
        if not target.exists():
            img = Image.open(src).convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=90)
            target.write_bytes(buf.getvalue())
        out.append(target)
    return out


def _vigil(path: Path) -> str:
    return hash_file(path, ["md5", "pdq"]).signals["pdq"].value


def _peer() -> Callable[[Path], str]:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    def run(path: Path) -> str:
        hashlib.md5(path.read_bytes()).hexdigest()
        return str(PdqSignal.hash_from_file(path))

    return run


def _time(fn: Callable[[Path], str], files: list[Path]) -> tuple[float, list[str]]:
    fn(files[0])  # warm up (imports, caches)
    start = time.perf_counter()
    hashes = [fn(f) for f in files]
    return len(files) / (time.perf_counter() - start), hashes


def run_set(name: str, files: list[Path]) -> str:
    for f in files:
        f.read_bytes()  # page cache
    peer_rate, peer_hashes = _time(_peer(), files)
    ours_rate, ours_hashes = _time(_vigil, files)
    dists = [hamming(a, b) for a, b in zip(ours_hashes, peer_hashes, strict=True)]
    within = sum(d <= 8 for d in dists)
    print(
        f"{name}: vigil {ours_rate:.1f}/s, pytx {peer_rate:.1f}/s, "
        f"x{ours_rate / peer_rate:.1f}, distance mean {statistics.mean(dists):.2f} "
        f"max {max(dists)}"
    )
    return (
        f"| {name} | {len(files)} | {ours_rate:.1f} | {peer_rate:.1f} | "
        f"**{ours_rate / peer_rate:.1f}x** | {statistics.mean(dists):.2f} | {max(dists)} | "
        f"{within}/{len(files)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=300, help="400 px photos to hash")
    parser.add_argument("--large", type=int, default=40, help="12 MP JPEGs to hash")
    args = parser.parse_args()
    shared = need_shared()
    photos = sorted((shared / "photos" / "clothing").glob("*.jpg"))
    rows = [
        run_set("400 px JPEG", photos[: args.small]),
        run_set("12 MP JPEG (4032x3024 q90)", _large_jpegs(photos[-args.large :], args.large)),
    ]
    note = (
        f"`python -m bench.hashing --small {args.small} --large {args.large}` on {machine()}, "
        f"commit {git_rev()}. {PEER_NOTE}"
    )
    record("hashing", "\n".join([TITLE, "", note, "", *HEADER, *rows]))


if __name__ == "__main__":
    main()
