"""Exchange backfill: an NCMEC exchange synced by a `vigil serve` (``POST
/v1/exchanges/ncmec/sync``) from the fake NCMEC server (its own process) into an empty list,
while the same service answers match-by-hash requests; the time the backfill takes, the
lookups' latency meanwhile, and the service's resident memory after the backfill and after ten
more syncs (issue 18: 1M entries in under 2 minutes, p99 under 50 ms, memory flat within 10%).
HMA, the anchor, has no comparable run here (it needs its own PostgreSQL and fetcher workers);
its fetcher commits every 5,000 updates and runs every 60 s.

    python -m bench.exchange [--entries 1000000] [--no-record]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.fake_ncmec import EPOCH, FakeNcmec, entries, serving
from tests.service_kit import launched

from bench.common import git_rev, machine, record
from vigil.exchanges import ExchangeConfig, ExchangeStore
from vigil.service import KeyStore
from vigil.store import Store


def _fake(count: int, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    fake = FakeNcmec(entries(count, members=5, span=400 * 86400), page_size=1000)
    with serving(fake) as url:
        ready.put(url)
        stop.wait()


def _lookups(base: str, key: str, md5s: list[str], stop: threading.Event) -> list[float]:
    took = []
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
        i = 0
        while not stop.is_set():
            body = {"signals": [{"type": "md5", "value": md5s[i % len(md5s)]}]}
            t0 = time.perf_counter()
            c.post("/v1/match/signals", json=body).raise_for_status()
            took.append(time.perf_counter() - t0)
            i += 1
    return took


def _rss(pid: int) -> int:
    """Resident bytes of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    stop_fake = multiprocessing.Event()
    fake = multiprocessing.Process(target=_fake, args=(args.entries, ready, stop_fake))
    fake.start()
    url = ready.get(timeout=600)
    home = Path(tempfile.mkdtemp(prefix="vigil-bench-exchange-"))
    store = Store.open(home)
    store.create_list("ncmec")
    key = KeyStore(store).create("bench", "curator")
    (home / "creds").write_text("esp-user:esp-pass")
    settings = {"base_url": url, "credentials_file": str(home / "creds"), "start": EPOCH - 10,
                "window": 30 * 86400}  # fmt: skip
    ExchangeStore(store).add(ExchangeConfig("ncmec", "ncmec", "ncmec", settings))
    probe = [e.fingerprints()["md5"] for e in entries(200, members=5, span=400 * 86400)]
    with (
        launched(store, "--sync-every", "0") as (proc, base),
        httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=3600) as c,
    ):
        c.get("/v1/lists").raise_for_status()
        stop = threading.Event()
        latencies: list[float] = []
        lookers = threading.Thread(
            target=lambda: latencies.extend(_lookups(base, key, probe, stop))
        )
        lookers.start()
        t0 = time.perf_counter()
        done = c.post("/v1/exchanges/ncmec/sync").json()
        took = time.perf_counter() - t0
        stop.set()
        lookers.join()
        after = _rss(proc.pid)
        for _ in range(10):  # caught up: each sync asks for what changed since
            c.post("/v1/exchanges/ncmec/sync").raise_for_status()
        later = _rss(proc.pid)
    stop_fake.set()
    fake.join()
    lat = sorted(latencies)
    p99 = lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else float("nan")
    body = "\n".join([
        "## Exchange backfill (issue 18)",
        "",
        f"`python -m bench.exchange --entries {args.entries}` (commit {git_rev()}), {machine()}."
        " The fake NCMEC server runs in its own process on the same 2 cores; the `vigil serve` "
        "that syncs (embedded SQLite store) also answers the lookups, one client at a time, "
        "during the whole sync. RSS: the service's resident memory.",
        "",
        "| entries | backfill s | entries/s | lookups | p50 ms | p99 ms | RSS after MiB | "
        "after 10 more syncs MiB | change |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {done['fetched']:,} | {took:.1f} | {done['fetched'] / took:,.0f} | {len(lat):,} | "
        f"{statistics.median(lat) * 1000:.1f} | {p99:.1f} | {after / 2**20:,.0f} | "
        f"{later / 2**20:,.0f} | {(later - after) / after:+.1%} |",
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("exchange", body)


if __name__ == "__main__":
    main()
