"""Review console pages (issue 20: the queue and item pages answer in under 100 ms p95 with
100,000 queued items). A store is filled directly (reports, files with matches, clusters,
review items: what triage writes, without running 100,000 ingests), then `vigil serve` answers
a signed-in reviewer's browser-like requests over HTTP on 127.0.0.1: the queue page, taking
the next item (a POST that claims it), the item page, and a decision. No peer runs beside it:
ROOST's Coop, the anchor, needs its own stack (PostgreSQL, Node, its own services).

    python -m bench.review [--items 100000] [--rounds 300] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert

from bench.common import git_rev, machine, record
from vigil.review.accounts import Accounts
from vigil.review.wellness import save_organisation
from vigil.store import Store
from vigil.store.schema import (
    review_items,
    triage_cases,
    triage_clusters,
    triage_files,
    triage_reports,
)

PASSWORD = "correct horse battery"
KINDS = ("exact", "near_duplicate", "altered_copy", "shared_scene")


def _fill(store: Store, items: int, rng: random.Random) -> None:
    """``items`` clusters, each a review item with 1-3 files in a report of its own case."""
    now = datetime.now(UTC)
    body = json.dumps(
        {
            "incident_type": "csam",
            "incident_at": now.isoformat(),
            "reporter": {"email": "safety@example.org"},
            "files": [],
            "text": "",
        }
    )
    with store.engine.begin() as conn:
        for start in range(0, items, 5000):
            ids = range(start + 1, min(items, start + 5000) + 1)
            conn.execute(
                insert(triage_cases),
                [
                    {
                        "id": i,
                        "key": f"p|user-{i}",
                        "created_at": now,
                        "updated_at": now,
                        "priority": rng.randint(1, 5),
                        "reports": 1,
                        "files": 2,
                        "weights": "{}",
                        "jurisdiction": "",
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(triage_reports),
                [
                    {
                        "id": i,
                        "key": f"{i:064x}",
                        "received_at": now,
                        "source": "bench",
                        "body": body,
                        "priority": rng.randint(1, 5),
                        "reasons": '["P2: new material"]',
                        "case_id": i,
                        "hints": '{"hints": [], "conflicts": []}',
                        "jurisdiction": "",
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(triage_clusters),
                [
                    {
                        "id": i,
                        "created_at": now,
                        "pdq": f"{rng.getrandbits(256):064x}",
                        "files": 2,
                        "reports": 1,
                    }
                    for i in ids
                ],
            )
            files = []
            for i in ids:
                kind = rng.choice(KINDS)
                match = [
                    {
                        "list": "known",
                        "entry": f"entry-{i}",
                        "kind": kind,
                        "distance": 3,
                        "signal_type": "pdq",
                        "series": f"S{i % 50}",
                    }
                ]
                files += [
                    {
                        "report_id": i,
                        "position": k,
                        "name": f"{i}-{k}.jpg",
                        "md5": f"{i:016x}{k:016x}",
                        "pdq": f"{rng.getrandbits(256):064x}",
                        "cluster_id": i,
                        "how": "new" if k == 0 else "exact",
                        "matches": json.dumps(match),
                    }
                    for k in range(rng.randint(1, 3))
                ]
            conn.execute(insert(triage_files), files)
            conn.execute(insert(review_items), [
                {"cluster_id": i, "priority": rng.randint(1, 5), "state": "open",
                 "lists": " known ", "kinds": f" {rng.choice(KINDS)} ", "series": f" S{i % 50} ",
                 "evidence": "unknown", "updated_at": now} for i in ids])  # fmt: skip


def _p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    rng = random.Random(20)
    home = Path(tempfile.mkdtemp(prefix="vigil-bench-review-"))
    store = Store.open(home)
    t0 = time.perf_counter()
    _fill(store, args.items, rng)
    filled = time.perf_counter() - t0
    Accounts(store).add("bench", "reviewer", PASSWORD)
    save_organisation(store, {"second_review": [], "neutral_every": 0})
    store.close()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    vigil = str(Path(sys.executable).with_name("vigil"))
    proc = subprocess.Popen([vigil, "--home", str(home), "serve", "--fd", str(sock.fileno())],
                            pass_fds=(sock.fileno(),))  # fmt: skip
    timed: dict[str, list[float]] = {"queue": [], "take": [], "item": [], "decide": []}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            c.post("/review/login", data={"name": "bench", "password": PASSWORD})
            csrf = re.search(r'name="csrf" content="([^"]+)"', c.get("/review/").text)
            token = csrf.group(1) if csrf else ""
            for _ in range(args.rounds):
                for name, call in (
                    ("queue", lambda: c.get("/review/")),
                    ("take", lambda: c.post("/review/take", data={"csrf": token})),
                ):
                    t = time.perf_counter()
                    answer = call()
                    timed[name].append(time.perf_counter() - t)
                where = answer.headers["location"]
                t = time.perf_counter()
                assert c.get(where).status_code == 200
                timed["item"].append(time.perf_counter() - t)
                t = time.perf_counter()
                c.post(where + "/decide", data={"csrf": token, "verdict": "known", "grade": "B2"})
                timed["decide"].append(time.perf_counter() - t)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        sock.close()
    cells = " | ".join(f"{statistics.median(timed[k]) * 1000:.1f} / {_p(timed[k], 0.95):.1f}"
                       for k in ("queue", "take", "item", "decide"))  # fmt: skip
    body = "\n".join([
        "## Review console pages (issue 20)",
        "",
        f"`python -m bench.review --items {args.items} --rounds {args.rounds}` (commit "
        f"{git_rev()}), {machine()}. {args.items:,} open review items (each a cluster of 1-3 "
        f"files in a report of its own case; filled directly in {filled:.0f} s), embedded "
        "SQLite store; one signed-in reviewer over HTTP on 127.0.0.1 (`vigil serve`, one "
        "worker): the queue page, taking the next item (a POST that claims it, answered with a "
        "redirect), the item page, and a decision. p50 / p95 milliseconds. No peer runs beside "
        "it (ROOST's Coop needs its own stack). Target: queue and item pages under 100 ms p95.",
        "",
        "| items | queue page ms | take ms | item page ms | decide ms |",
        "|---|---|---|---|---|",
        f"| {args.items:,} | {cells} |",
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("review", body)


if __name__ == "__main__":
    main()
