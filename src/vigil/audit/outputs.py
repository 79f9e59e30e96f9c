"""What an audit hands over (issue 22), from its shards' results:

- ``results.parquet``: every sample's row (key, shard, URL, hashes, status, matches with
  kind, distance, list and entry, evidence label, error);
- ``removal.csv`` and ``removal.parquet``: the form dataset maintainers use (sample key and
  URL, with the shard and what matched), and ``matched-hashes.csv``;
- ``neighbours.csv``: the dataset's own samples whose PDQ is within 31 bits of a hit's (a
  confirmed hit marks its near copies as suspects: the Stanford study found 88 more of LAION's
  this way), queued for review, never counted as hits;
- ``report.html``: the counts, and bars (hits per shard, per kind, per list; throughput per
  shard over the run) drawn as inline SVG, with no script and nothing fetched.

Everything is read shard by shard: memory does not grow with the number of samples, only with
the number of hits."""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["finish"]

NEAR = 31


def _rows(out: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for path in sorted((out / "shards").glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            yield from batch.to_pylist()


def _merge(out: Path) -> dict[str, Any]:
    """results.parquet from the shards', and what the rest needs: counts and the hits."""
    import pyarrow.parquet as pq

    parts = sorted((out / "shards").glob("*.parquet"))
    counts: Counter[str] = Counter()
    hits: list[dict[str, Any]] = []
    writer = None
    try:
        for path in parts:
            table = pq.read_table(path)
            writer = writer or pq.ParquetWriter(out / "results.parquet.part", table.schema)
            writer.write_table(table)
            for row in table.to_pylist():
                counts[row["status"]] += 1
                if row["status"] == "match":
                    hits.append(row)
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        (out / "results.parquet.part").replace(out / "results.parquet")
    return {"counts": counts, "hits": hits}


def _removal(out: Path, hits: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = ("key", "url", "shard", "lists", "kinds", "entries")
    rows = [{"key": h["key"], "url": h["url"] or "", "shard": h["shard"], "lists": h["lists"],
             "kinds": h["kinds"],
             "entries": " ".join(sorted({f"{m['list']}:{m['entry']}"
                                         for m in json.loads(h["matches"] or "[]")}))}
            for h in hits]  # fmt: skip
    with (out / "removal.csv").open("w", newline="") as fh:
        table = csv.DictWriter(fh, fields)
        table.writeheader()
        table.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([(f, pa.string()) for f in fields])),
                   out / "removal.parquet")  # fmt: skip
    with (out / "matched-hashes.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("key", "md5", "sha256", "pdq"))
        writer.writerows(
            (h["key"], h["md5"] or "", h["sha256"] or "", h["pdq"] or "") for h in hits
        )


def _neighbours(out: Path, hits: list[dict[str, Any]]) -> int:
    """Samples (not hits) near a hit by PDQ; how many."""
    from vigil.index.hamming import HammingIndex

    index, keys = HammingIndex(), []
    for n, h in enumerate(h for h in hits if h["pdq"]):
        index.add([n], [bytes.fromhex(h["pdq"])])
        keys.append(h["key"])
    found = 0
    with (out / "neighbours.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("key", "url", "shard", "near_hit", "distance"))
        if not keys:
            return 0
        for row in _rows(out):
            if row["status"] == "match" or not row["pdq"] or (row["pdq_quality"] or 0) < 50:
                continue
            near = index.query(bytes.fromhex(row["pdq"]), NEAR)
            if near:
                hit, distance = near[0]
                writer.writerow((row["key"], row["url"] or "", row["shard"], keys[hit], distance))
                found += 1
    return found


def _bars(title: str, counts: dict[str, float], unit: str = "") -> str:
    """A horizontal bar chart as inline SVG (at most 40 bars)."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:40]
    if not items:
        return f"<h2>{html.escape(title)}</h2><p>None.</p>"
    top = max(v for _, v in items) or 1
    height = 22 * len(items) + 10
    bars = []
    for n, (name, value) in enumerate(items):
        width = 380 * value / top
        bars.append(f'<text x="0" y="{22 * n + 16}" font-size="12">{html.escape(name[:40])}</text>'
                    f'<rect x="260" y="{22 * n + 4}" width="{width:.1f}" height="16" '
                    f'fill="#2f6f9f"/><text x="{265 + width:.1f}" y="{22 * n + 16}" '
                    f'font-size="12">{value:,.0f}{unit}</text>')  # fmt: skip
    return (f"<h2>{html.escape(title)}</h2><svg role=\"img\" aria-label=\"{html.escape(title)}\" "
            f'width="720" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f"{''.join(bars)}</svg>")  # fmt: skip


def _report(out: Path, summary: dict[str, Any], hits: list[dict[str, Any]]) -> None:
    progress = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()
                if line.strip()] if (out / "progress.jsonl").exists() else []  # fmt: skip
    per_shard = Counter(h["shard"] for h in hits)
    per_kind = Counter(k for h in hits for k in (h["kinds"] or "").split())
    per_list = Counter(k for h in hits for k in (h["lists"] or "").split())
    speed = {p["shard"]: p["samples"] / max(p["seconds"], 1e-9) for p in progress}
    counts = summary["counts"]
    rows = "".join(f"<tr><th scope=\"row\">{html.escape(k)}</th><td>{v:,}</td></tr>"
                   for k, v in sorted(counts.items()))  # fmt: skip
    page = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Vigil dataset audit</title></head><body>"
            "<h1>Vigil dataset audit</h1>"
            f"<table><caption>Samples by status</caption>{rows}</table>"
            f"<p>{len(hits):,} hit(s); {summary['neighbours']:,} neighbour(s) of hits queued "
            "for review (neighbours.csv). Removal list: removal.csv, removal.parquet.</p>"
            + _bars("Hits per shard", dict(per_shard)) + _bars("Hits per kind", dict(per_kind))
            + _bars("Hits per list", dict(per_list))
            + _bars("Throughput per shard", speed, " samples/s") + "</body></html>")  # fmt: skip
    (out / "report.html").write_text(page)


def finish(out: Path) -> dict[str, Any]:
    """Write every output from the shards' results; the summary."""
    merged = _merge(out)
    _removal(out, merged["hits"])
    neighbours = _neighbours(out, merged["hits"])
    summary = {"counts": dict(merged["counts"]), "hits": len(merged["hits"]),
               "neighbours": neighbours}  # fmt: skip
    _report(out, {**summary, "counts": merged["counts"]}, merged["hits"])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
