"""The service under stress that must not lose or duplicate records: an instance killed in the
middle of an import, list changes while matching goes on, and several writers sharing one
PostgreSQL change log."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from tests.service_kit import Server, client, launched, serving
from vigil.lists import Entry
from vigil.lists.model import Record
from vigil.store import Store
from vigil.store.schema import changes

ROWS = 150_000  # more than one import batch (100,000), so a kill can fall between two


def _random_pdqs(n: int, seed: int) -> list[str]:
    """Random 256-bit values in PDQ's hex form: hashes of no image at all."""
    raw = np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)
    return [bytes(row).hex() for row in raw]


def _import_rows(c: httpx.Client) -> float:
    """The service's count of rows written (not yet committed) by imports in progress."""
    metrics = c.get("/metrics").text
    line = next(x for x in metrics.splitlines() if x.startswith("vigil_import_rows "))
    return float(line.split()[1])


def test_an_instance_killed_mid_import_leaves_no_partial_or_duplicate_entries(
    prepared: Server,
) -> None:
    hashes = _random_pdqs(ROWS, seed=1)
    body = "\n".join(hashes).encode()
    params = {"format": "te-lines", "signal_type": "pdq"}
    store = prepared.store
    with launched(store) as (proc, url):
        curator = client(url, prepared.keys["curator"])

        def send() -> None:
            with contextlib.suppress(httpx.TransportError):  # the server is killed under it
                curator.post("/v1/lists/known/import", content=body, params=params)

        sender = threading.Thread(target=send)
        sender.start()
        # kill once the first batch is written, uncommitted, and the second is under way
        watcher = client(url, "")
        while _import_rows(watcher) < 100_000 and proc.poll() is None:
            pass
        proc.kill()
        proc.wait()
        sender.join()
    assert [e.key for e in store.iter_entries("known")] == ["photo-0"]  # nothing partial
    left = list(Path(tempfile.gettempdir()).glob(f"vigil-work-{proc.pid}-*"))
    assert [p.name for p in left[0].iterdir()] == ["upload"]  # the list file it was importing
    with serving(store) as url:
        curator = client(url, prepared.keys["curator"])
        first = curator.post("/v1/lists/known/import", content=body, params=params).json()
        assert not any(p.exists() for p in left)  # swept when the next instance started
        again = curator.post("/v1/lists/known/import", content=body, params=params).json()
        assert (first["added"], again["added"], again["unchanged"]) == (ROWS, 0, ROWS)
        matcher = client(url, prepared.keys["match"])
        found = matcher.post("/v1/match/signals",
                             json={"signals": [{"type": "pdq", "value": hashes[-1]}]})  # fmt: skip
        assert [m["distance"] for m in found.json()["matches"]] == [0]
        assert httpx.get(f"{url}/readyz").json()["indexes"]["pdq"] == ROWS + 1
    assert sum(1 for _ in store.iter_entries("known")) == ROWS + 1


def test_changes_during_matching_are_each_matchable_when_their_request_returns(
    server: Server,
) -> None:
    hashes = _random_pdqs(30, seed=2)
    stop = threading.Event()
    failures: list[int] = []

    def keep_matching() -> None:
        matcher = client(server.url, server.keys["match"])
        body = {"signals": [{"type": "pdq", "value": h} for h in hashes[:8]]}
        while not stop.is_set():
            status = matcher.post("/v1/match/signals", json=body).status_code
            if status != 200:
                failures.append(status)

    background = [threading.Thread(target=keep_matching) for _ in range(2)]
    for t in background:
        t.start()
    try:
        curator = client(server.url, server.keys["curator"])
        matcher = client(server.url, server.keys["match"])
        for i, h in enumerate(hashes):
            entry = {"key": f"k{i}", "signals": [{"type": "pdq", "value": h}]}
            assert curator.post("/v1/lists/known/entries",
                                json={"entries": [entry]}).status_code == 200  # fmt: skip
            if i % 3 == 0:
                assert curator.delete(f"/v1/lists/known/entries/k{i}").json() == {"removed": 1}
            got = matcher.post("/v1/match/signals",
                               json={"signals": [{"type": "pdq", "value": h}]}).json()  # fmt: skip
            assert [m["entry"] for m in got["matches"]] == ([] if i % 3 == 0 else [f"k{i}"])
    finally:
        stop.set()
        for t in background:
            t.join()
    assert failures == []


def _pg_only(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time by design")


def test_postgres_writers_commit_changes_in_sequence_order(store: Store) -> None:
    """A second writer waits for the first to commit before it takes sequence numbers, so a
    reader that has seen a change has seen every change numbered before it."""
    _pg_only(store)
    store.create_list("a")
    store.create_list("b")
    gate, holding = threading.Event(), threading.Event()

    def slow_rows() -> Iterator[Record]:
        for i, h in enumerate(_random_pdqs(20, seed=3)):
            if i == 10:  # the first batch is written but not committed
                holding.set()
                gate.wait()
            yield Entry(f"a{i}", [("pdq", h)])

    first = threading.Thread(
        target=lambda: store.apply("a", slow_rows(), batch_size=10, atomic=True)
    )
    first.start()
    holding.wait()
    second = threading.Thread(
        target=lambda: store.apply("b", [Entry("b0", [("pdq", _random_pdqs(1, seed=4)[0])])])
    )
    second.start()
    with store.engine.connect() as conn:
        waiting = 0
        while not waiting and second.is_alive():
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
    assert waiting == 1, "the second writer did not wait for the first"
    assert store.last_change() == 0  # nothing of either is visible yet
    gate.set()
    first.join()
    second.join()
    with store.engine.connect() as conn:
        rows = conn.execute(changes.select().order_by(changes.c.seq)).all()
        in_a = set(conn.execute(text(
            "SELECT s.id FROM signals s JOIN lists l ON l.id = s.list_id WHERE l.name = 'a'"
        )).scalars())  # fmt: skip
    assert ["a" if r.signal_id in in_a else "b" for r in rows] == ["a"] * 20 + ["b"]


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_workers_share_the_socket_and_one_that_dies_is_replaced(prepared: Server) -> None:
    body = {"signals": [{"type": "pdq", "value": _random_pdqs(1, seed=5)[0]}]}
    with launched(prepared.store, "--workers", "2") as (proc, url):
        matcher = client(url, prepared.keys["match"])
        assert matcher.post("/v1/match/signals", json=body).status_code == 200
        workers = _children(proc.pid)
        while (
            len(workers) < 2 and proc.poll() is None
        ):  # both are forked before the first answers; read them again
            workers = _children(proc.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced = _children(proc.pid)
        while (victim in replaced or len(replaced) < 2) and proc.poll() is None:
            replaced = _children(proc.pid)
        assert victim not in replaced
        assert all(matcher.post("/v1/match/signals", json=body).status_code == 200
                   for _ in range(20))  # fmt: skip
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in replaced)


def _sockets(pid: int) -> set[int]:
    """The socket inodes a process holds."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            link = os.readlink(fd)
            if link.startswith("socket:["):
                found.add(int(link[8:-1]))
    return found


def _tcp(port: int, state: str) -> set[int]:
    """Inodes of the IPv4 TCP sockets on local ``port`` in ``state`` (0A listening, 01 open)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {int(r[9]) for r in rows if int(r[1].split(":")[1], 16) == port and r[3] == state}


def test_workers_on_their_own_port_each_listen_and_share_a_burst_of_connections(
    prepared: Server,
) -> None:
    body = {"signals": [{"type": "pdq", "value": _random_pdqs(1, seed=6)[0]}]}
    with launched(prepared.store, "--workers", "2", own_port=True) as (proc, url):
        port = int(url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 60  # both workers listening (or the test fails)
        while len(_tcp(port, "0A")) < 2 and proc.poll() is None and time.monotonic() < deadline:
            pass
        workers = _children(proc.pid)
        assert len(workers) == 2
        listening = _tcp(port, "0A")
        # one listening socket per worker (an SO_REUSEPORT group), none shared
        assert len(listening) == 2
        assert [len(_sockets(w) & listening) for w in sorted(workers)] == [1, 1]
        clients = [client(url, prepared.keys["match"]) for _ in range(16)]
        barrier = threading.Barrier(16)

        def first_request(c: httpx.Client) -> int:
            barrier.wait()  # a burst: all 16 connect at once, as a load balancer's pool does
            return c.post("/v1/match/signals", json=body).status_code

        threads = [threading.Thread(target=first_request, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        opened = _tcp(port, "01")
        held = [len(_sockets(w) & opened) for w in sorted(workers)]
        assert sum(held) == 16
        assert min(held) >= 2  # all 16 on one worker has odds of 1 in 32,768
