"""The local engine of ``vigil audit`` (issue 22): each shard's samples hashed (and inspected) in
sandboxed worker processes on every core, the code path `vigil scan` takes, matched against
the chosen lists in this process, and written as the shard's results (parquet) once the shard
is whole: written to a temporary name and renamed, so a run killed and started again redoes
only the shards with no results, and two runs over one dataset never count a sample twice.
A sample that cannot be read, decoded or hashed (corrupt, hostile, over its budget) is a row
with its error; the run goes on."""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.audit.sources import Sample, Shard
from vigil.audit.work import SampleResult, Where, hash_sample
from vigil.errors import InvalidSignal, VigilError
from vigil.matching.match import Matcher, acted_on
from vigil.sandbox import Budget, Sandbox

__all__ = ["COLUMNS", "Progress", "Run", "result_path", "row_of"]

COLUMNS = ("key", "shard", "url", "status", "error", "md5", "sha256", "pdq", "pdq_quality",
           "evidence", "lists", "kinds", "matches")  # fmt: skip


def result_path(out: Path, shard: Shard) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", shard.id)[:150]
    return out / "shards" / f"{safe}.parquet"


@dataclass
class Progress:
    """Counts as the run goes (for the progress bar and the report)."""

    samples: int = 0
    matched: int = 0
    errors: int = 0
    shards_done: int = 0
    shards_skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    nodes: list[str] = field(default_factory=list)  # the Ray nodes that did shards

    def rate(self) -> float:
        return self.samples / max(1e-9, time.monotonic() - self.started)


def row_of(shard: Shard, sample: Sample, got: SampleResult | None,
           matches: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """One sample's results row."""
    counted = [m for m in matches if acted_on(m)]
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(key=sample.key, shard=shard.id, url=sample.url or None, pdq_quality=None,
               lists=" ".join(sorted({m["list"] for m in counted})) or None,
               kinds=" ".join(sorted({m["kind"] for m in counted})) or None,
               matches=json.dumps(matches, default=str) if matches else None)  # fmt: skip
    row.update({k: v for k, v in sample.hashes.items() if k in ("md5", "sha256")})
    if got is not None:
        row.update(md5=got.md5 or row["md5"], sha256=got.sha256 or row["sha256"], pdq=got.pdq,
                   pdq_quality=got.quality, evidence=got.evidence)  # fmt: skip
    error = sample.error or (got.error if got is not None else None)
    if counted:
        row["status"] = "match"
    elif error:
        row["status"], row["error"] = "error", error[:500]
    elif sample.data is None:
        row["status"] = "no_image"
    else:
        row["status"] = "ok"
    return row


class Run:
    """One audit: the matcher, the output folder, the sandbox's workers and budget."""

    def __init__(self, matcher: Matcher, out: Path, workers: int | None = None,
                 robust: bool = True, evidence: bool = True, budget: Budget = Budget(),
                 on_row: Callable[[dict[str, Any]], None] | None = None) -> None:  # fmt: skip
        self.matcher, self.out = matcher, out
        store = matcher.store
        self.where: Where = (str(store.home), store.engine.url.render_as_string(
            hide_password=False) if store.engine.dialect.name != "sqlite" else None,
            tuple(matcher.lists))  # fmt: skip
        self.workers, self.robust, self.evidence, self.budget = workers, robust, evidence, budget
        self.on_row = on_row or (lambda _row: None)
        self.progress = Progress()

    def shards(self, shards: list[Shard], sandbox: Sandbox | None = None) -> Progress:
        """Audit every shard that has no results yet (``sandbox``: workers to use, else this
        run's own)."""
        (self.out / "shards").mkdir(parents=True, exist_ok=True)
        todo = [s for s in shards if not result_path(self.out, s).exists()]
        self.progress.shards_skipped = len(shards) - len(todo)
        if sandbox is not None:
            for shard in todo:
                self._shard(sandbox, shard)
            return self.progress
        with Sandbox(self.workers, self.budget) as own:
            for shard in todo:
                self._shard(own, shard)
        return self.progress

    def _shard(self, sandbox: Sandbox, shard: Shard) -> None:
        t0 = time.monotonic()
        rows = list(self._rows(sandbox, shard))
        _write(result_path(self.out, shard), rows)
        self.progress.shards_done += 1
        with (self.out / "progress.jsonl").open("a") as log:
            log.write(json.dumps({"shard": shard.id, "samples": len(rows),
                                  "matched": sum(r["status"] == "match" for r in rows),
                                  "seconds": round(time.monotonic() - t0, 3),
                                  "at": time.time()}) + "\n")  # fmt: skip

    def _rows(self, sandbox: Sandbox, shard: Shard) -> Iterator[dict[str, Any]]:
        """The shard's rows in order. Samples with bytes are hashed and matched by the workers
        while this process writes the rows of those before them; a shard of metadata only
        never reaches a worker."""
        if not shard.has_bytes():
            for sample in shard.samples():
                yield self._row(shard, sample, None)
            return
        waiting: deque[Sample] = deque()  # read, in order, not yet written

        def feed() -> Iterator[Sample]:
            for sample in shard.samples():
                waiting.append(sample)
                if sample.data is not None:
                    yield sample

        jobs = sandbox.imap(
            hash_sample,
            feed(),
            lambda s: s.key,
            lambda s: (s.data, s.key, self.robust, self.evidence, self.where),
        )
        for job, outcome in jobs:
            while waiting:
                sample = waiting.popleft()
                if sample is job:
                    yield self._row(shard, sample, outcome)
                    break
                yield self._row(shard, sample, None)
        while waiting:
            yield self._row(shard, waiting.popleft(), None)

    def _row(self, shard: Shard, sample: Sample, outcome: Any) -> dict[str, Any]:
        got = None
        if isinstance(outcome, BaseException):
            sample.error = sample.error or f"{type(outcome).__name__}: {outcome}"
        elif outcome is not None:
            got = outcome
        row = row_of(shard, sample, got, self._matches(sample, got))
        sample.data = None  # written: its bytes are not kept
        self._count(row)
        return row

    def _matches(self, sample: Sample, got: SampleResult | None) -> list[dict[str, Any]]:
        """The worker's matches of the sample's content, and those of the hashes the dataset
        gives (matched here: cheap lookups)."""
        found: dict[tuple[str, str], Any] = {}
        try:
            for kind, value in sample.hashes.items():
                try:
                    for m in self.matcher.match_value(kind, value):
                        found.setdefault((m.list, m.entry.key), m)
                except InvalidSignal:
                    continue  # a malformed hash in the dataset's metadata matches nothing
        except VigilError as exc:
            sample.error = sample.error or f"matching failed: {exc}"
        answered = list(got.matches) if got is not None else []
        seen = {(m["list"], m["entry"]) for m in answered}
        extra = [m for k, m in found.items() if k not in seen]
        return answered + self.matcher.as_dicts(extra)

    def _count(self, row: dict[str, Any]) -> None:
        p = self.progress
        p.samples += 1
        p.matched += row["status"] == "match"
        p.errors += row["status"] == "error"
        self.on_row(row)


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    """A shard's rows as parquet, whole or not at all (a temporary name, then a rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.int32() if c == "pdq_quality" else pa.string()) for c in COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = path.with_suffix(".parquet.part")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
