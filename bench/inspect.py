"""Evidence extraction speed: `vigil inspect` on the 2,000 shared 400 px photos, one core.

    python -m bench.inspect [--limit N] [--no-record]

Evidence only (no hashing): every registered extractor on every file, files read from disk,
timed per file and per extractor. A second pass runs the same on files that carry evidence
(written here as in the tests: C2PA-signed, A1111 PNG, camera EXIF, SD watermark), to show
what the C2PA reader and generator parsing cost when they have work to do.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from tests import evidence_fixtures as fx  # noqa: E402

from bench.common import git_rev, machine, need_shared, record  # noqa: E402
from vigil.evidence import EvidenceConfig, extractors, inspect_bytes  # noqa: E402


def run(files: list[tuple[str, bytes]]) -> tuple[float, Counter[str], Counter[str]]:
    chosen = extractors(EvidenceConfig())
    per: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    t0 = time.perf_counter()
    for name, data in files:
        report = inspect_bytes(data, name, chosen=chosen)
        per.update(report.timings)
        labels[report.summary.label] += 1
    return time.perf_counter() - t0, per, labels


def fixture_files() -> list[tuple[str, bytes]]:
    img = fx.base_image()
    signer = fx.make_signer()
    action = {"action": "c2pa.created", "digitalSourceType": fx.SD + "trainedAlgorithmicMedia"}
    return [
        ("c2pa.jpg", fx.c2pa_signed(fx.encode(img, "JPEG"), signer, [action])),
        ("a1111.png", fx.png_with_text(img, {"parameters": fx.INFOTEXT})),
        ("camera.jpg", fx.encode(img, "JPEG", exif=fx.exif_bytes(thumbnail=img.resize((96, 128))))),
        ("sd1.png", fx.encode(fx.watermarked(img, "sd1"), "PNG")),
    ] * 50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    paths = sorted((need_shared() / "photos" / "clothing").glob("*.jpg"))[: args.limit or None]
    t0 = time.perf_counter()
    files = [(str(p), Path(p).read_bytes()) for p in paths]
    read_s = time.perf_counter() - t0
    run(files[:20])  # warm-up: imports, OpenCV
    seconds, per, labels = run(files)
    n = len(files)
    rate = n / (seconds + read_s)
    rows = [
        f"| {name} | {1000 * t / n:.3f} |" for name, t in sorted(per.items(), key=lambda x: -x[1])
    ]
    fx_files = fixture_files()
    fx_s, fx_per, fx_labels = run(fx_files)
    fx_rows = [f"| {name} | {1000 * t / len(fx_files):.3f} |" for name, t in
               sorted(fx_per.items(), key=lambda x: -x[1])]  # fmt: skip
    body = "\n".join(
        [
            "## Evidence extraction speed (issue 5)",
            "",
            f"`python -m bench.inspect` (commit {git_rev()}), {machine()}; one process, one core.",
            "",
            f"- {n:,} shared 400 px photos, evidence only (no hashing), reading the files "
            f"included: **{rate:.0f} files/s** ({1000 / rate:.2f} ms a file; target 200). "
            f"Summaries: {dict(labels)}.",
            "- Cost per file by extractor (ms; C2PA and the generator parsers only look when "
            "the container holds something for them):",
            "",
            "| extractor | ms per file |",
            "|---|---|",
            *rows,
            "",
            f"- Files that carry evidence ({len(fx_files)}: C2PA-signed JPEG, A1111 PNG, camera "
            f"JPEG with thumbnail, SD-watermarked PNG, in turn): {len(fx_files) / fx_s:.0f} "
            f"files/s; summaries {dict(fx_labels)}.",
            "",
            "| extractor | ms per file |",
            "|---|---|",
            *fx_rows,
        ]
    )
    print(body)
    if not args.no_record:
        record("inspect", body)


if __name__ == "__main__":
    main()
