"""The Ray engine (issue 22) on a real two-node Ray cluster on this machine: a head and a
worker node started by the test with `ray start` (one CPU each), an audit of a small tar
dataset spread over both nodes, and the same results as the local engine's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_audit import _planted, _tar, known_store
from vigil.audit import Run, finish, shards_of
from vigil.matching.match import Matcher
from vigil.store import Store

ray = pytest.importorskip("ray", reason="the Ray engine needs ray (the audit extra)")
pq = pytest.importorskip("pyarrow.parquet", reason="audits write parquet (the audit extra)")
RAY = str(Path(sys.executable).with_name("ray"))


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A head and one more node, one CPU each, on 127.0.0.1 (no token authentication: a
    token a Ray left in ~/.ray would otherwise turn it on for one node and not the other)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    common = ["--num-cpus", "1", "--object-store-memory", "100000000", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false",
                    "--node-ip-address", "127.0.0.1", *common], check=True, env=env,
                   capture_output=True)  # fmt: skip
    try:
        worker = [RAY, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address",
                  "127.0.0.1", *common]  # fmt: skip
        subprocess.run(worker, check=True, env=env, capture_output=True)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, check=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = known_store(tmp_path / "home")
    yield s
    s.close()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")  # Ray's own deprecation and resource warnings
def test_two_nodes_audit_as_the_local_engine_does(
    store: Store,
    tmp_path: Path,
    cluster: str,
) -> None:
    from vigil.audit.ray_engine import audit_with_ray

    data = tmp_path / "shards"
    data.mkdir()
    samples = _planted()
    keys = list(samples)
    for n in range(4):
        _tar(data / f"{n:05d}.tar", {k: samples[k] for k in keys[n::4]}, corrupt=n == 0)
    shards = shards_of(data)
    local, remote = tmp_path / "local", tmp_path / "ray"
    Run(Matcher(store, ["known"]), local, workers=2).shards(shards)
    done = audit_with_ray(shards, str(store.home), None, ["known"], remote, address=cluster)
    assert len(done.nodes) == 2  # both nodes audited shards
    assert (done.shards_done, done.samples) == (4, 8)
    assert finish(local) == finish(remote)

    def rows(out: Path) -> list[tuple[str, str, str | None]]:
        table = pq.read_table(out / "results.parquet").to_pylist()
        return sorted((r["key"], r["status"], r["lists"]) for r in table)

    assert rows(local) == rows(remote)
