"""The Ray engine of ``vigil audit`` (issue 22), for a dataset one machine cannot finish: the
shards still to do become a Ray Dataset, and ``map_batches`` hands them, one at a time, to a
pool of actors, **one a node** (each asks for all of a node's CPUs). An actor opens the store
once and keeps a sandboxed worker a CPU, each of which opens the store's indexes once (the
index files are memory-mapped: a node's workers share the operating system's copy; nothing is
shipped with a task), and audits its shards with the local engine's own code
(:class:`vigil.audit.engine.Run`), writing each shard's results whole to the output folder,
which every node must see (a shared filesystem). So resuming, errors as rows and the outputs
are the local engine's.

``--ray`` starts a Ray on this machine; ``--ray-address ADDR`` joins an existing cluster."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from vigil.audit.engine import Progress, result_path
from vigil.audit.sources import Shard

__all__ = ["audit_with_ray"]


def _node() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


class _Auditor:
    """A Ray actor, one a node: the store, the matcher and a sandboxed worker a CPU (each opens
    the store's indexes once), all made once and kept for every shard it is given."""

    def __init__(self, home: str, db_url: str | None, lists: list[str], out: str,
                 robust: bool, evidence: bool, workers: int) -> None:  # fmt: skip
        from vigil.matching.match import Matcher
        from vigil.sandbox import Sandbox
        from vigil.store import Store

        self.store = Store.open(home, db_url)
        self.matcher = Matcher(self.store, lists)
        self.out, self.robust, self.evidence = Path(out), robust, evidence
        self.sandbox = Sandbox(workers)  # this actor's workers, kept for all its shards

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from vigil.audit.engine import Run

        done: dict[str, list[Any]] = {"shard": [], "samples": [], "matched": [], "errors": [],
                                      "node": []}  # fmt: skip
        for n in range(len(batch["id"])):
            files = tuple(str(f) for f in batch["files"][n])
            shard = Shard(str(batch["id"][n]), str(batch["kind"][n]), str(batch["path"][n]), files)
            run = Run(self.matcher, self.out, robust=self.robust, evidence=self.evidence)
            got = run.shards([shard], self.sandbox)
            for key, value in (("shard", shard.id), ("samples", got.samples),
                               ("matched", got.matched), ("errors", got.errors),
                               ("node", _node())):  # fmt: skip
                done[key].append(value)
        return done


def audit_with_ray(shards: list[Shard], home: str, db_url: str | None, lists: list[str],
                   out: Path, address: str | None = None, actors: int | None = None,
                   robust: bool = True, evidence: bool = True) -> Progress:  # fmt: skip
    """Audit the shards that have no results yet on a Ray cluster; the counts."""
    import ray

    (out / "shards").mkdir(parents=True, exist_ok=True)
    todo = [s for s in shards if not result_path(out, s).exists()]
    progress = Progress(shards_skipped=len(shards) - len(todo))
    if not todo:
        return progress
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)  # fmt: skip
    try:
        alive = ray.nodes()  # type: ignore[no-untyped-call]
        nodes = [n for n in alive if n.get("Alive") and n["Resources"].get("CPU")]
        per_node = max(1, int(min(n["Resources"]["CPU"] for n in nodes)))
        size = max(1, min(actors or len(nodes), len(todo)))
        items = [{**asdict(s), "files": list(s.files)} for s in todo]
        data = ray.data.from_items(items, override_num_blocks=len(items))
        args = (home, db_url, lists, str(out), robust, evidence, per_node)
        stats = data.map_batches(_Auditor, batch_size=1, num_cpus=per_node, concurrency=size,
                                 fn_constructor_args=args).take_all()  # fmt: skip
    finally:
        if started_here:
            ray.shutdown()
    progress.nodes = sorted({str(row["node"]) for row in stats})
    for row in stats:
        progress.samples += int(row["samples"])
        progress.matched += int(row["matched"])
        progress.errors += int(row["errors"])
        progress.shards_done += 1
    return progress
