"""The long phases of ``bench.service``: resident memory over many requests and list changes,
and match latency while a large list is imported."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def churn(url: str, curator: str, changes: int, seconds: float) -> threading.Thread:
    """A thread making ``changes`` list changes (adds, then removes of the same entries),
    spread evenly over ``seconds``."""
    rng = np.random.default_rng(11)
    values = [row.tobytes().hex() for row in rng.integers(0, 256, (changes, 32), dtype=np.uint8)]

    def run() -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": curator}, timeout=120) as c:
            c.post("/v1/lists", json={"name": "churn"})
            for i in range(changes):
                if i % 2 == 0:
                    entry = {"key": f"c{i}", "signals": [{"type": "pdq", "value": values[i]}]}
                    c.post("/v1/lists/churn/entries", json={"entries": [entry]}).raise_for_status()
                else:
                    c.delete(f"/v1/lists/churn/entries/c{i - 1}").raise_for_status()
                time.sleep(seconds / changes)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def memory_phase(
    url: str,
    run_wrk: Callable[[int, int], dict[str, float]],
    rss: Callable[[], float],
    curator: str,
    requests: int,
    changes: int,
    rps: float,
) -> dict[str, Any]:
    """Resident memory over ``requests`` match-by-hash requests (10-second wrk runs until
    there are enough) with ``changes`` list changes made meanwhile (spread over the time the
    measured rate ``rps`` suggests), sampled every second:
    the first sample is the baseline (memory freed after earlier upload runs is gone by then)."""
    run_wrk(16, 5)
    seconds = max(5, math.ceil(requests / rps * 1.25))
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            samples.append(rss())

    sampler = threading.Thread(target=sample)
    sampler.start()
    changer = churn(url, curator, changes, seconds * 0.9)
    done_requests, p99 = 0.0, 0.0
    while done_requests < requests:  # 10-second runs until enough requests are made
        result = run_wrk(16, 10)
        done_requests += result["requests"]
        p99 = max(p99, result["p99"])
    changer.join()
    done.set()
    sampler.join()
    after = rss()
    before = samples[0] if samples else after
    return {"before": before, "after": after, "low": min(samples, default=after),
            "high": max(samples, default=after), "requests": done_requests,
            "changes": changes, "p99": p99}  # fmt: skip


def import_phase(
    url: str,
    run_wrk: Callable[[int, int], dict[str, float]],
    curator: str,
    size: int,
    workdir: Path,
    window: int = 10,
) -> dict[str, Any]:
    """Match-by-hash latency in ``window``-second wrk runs, one after another, while ``size``
    entries are imported into a new list over HTTP (one request, streamed)."""
    rng = np.random.default_rng(9)
    lines = workdir / "bulk.txt"
    with lines.open("w") as fh:
        for start in range(0, size, 100_000):
            block = rng.integers(0, 256, (min(100_000, size - start), 32), dtype=np.uint8)
            fh.write("".join(row.tobytes().hex() + "\n" for row in block))
    outcome: dict[str, Any] = {}

    name = f"bulk-{time.time_ns()}"

    def run() -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": curator}, timeout=3600) as c:
            c.post("/v1/lists", json={"name": name}).raise_for_status()
            t0 = time.perf_counter()
            with lines.open("rb") as body:
                r = c.post(f"/v1/lists/{name}/import", content=body,
                           params={"format": "te-lines", "signal_type": "pdq"})  # fmt: skip
            outcome.update(seconds=time.perf_counter() - t0, status=r.status_code,
                           added=r.json().get("added"))  # fmt: skip

    importer = threading.Thread(target=run)
    importer.start()
    windows = []
    while importer.is_alive():
        windows.append(run_wrk(16, window))
    importer.join()
    return {**outcome, "windows": windows}
