"""The service under a steady mix of good and hostile traffic (issue 24): match-by-hash flat
out on 8 connections, 20 hostile uploads a second (a JPEG of 250 scans that decodes for
seconds, a 20,000-scan JPEG, a PNG bomb, garbage), 2 good uploads a second and a health check
a second, against `vigil serve` holding 100,000 hashes. First a quiet phase (lookups, good
uploads and health checks alone), then the soak; the report gives, per window: lookups a
second and their p99, good uploads' p99 and failures, health p99, hostile answers by status,
resident memory of the server and its sandboxed workers, and bytes in its temporary folder.

    python -m bench.soak [--seconds 600] [--quiet 30] [--window 30] [--hashes 100000]
                         [--no-record]

The load generator is plain asyncio over keep-alive HTTP/1.1 connections (one core). Every
loop stops by itself at the end of its phase; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.hostile import many_scan_jpeg, png_bomb

from bench.common import ROOT, git_rev, machine, record
from bench.service import rss_of
from vigil.lists import Entry
from vigil.matching.hashing import hash_file
from vigil.service import KeyStore
from vigil.store import Store

VIGIL = str(Path(sys.executable).with_name("vigil"))
KNOWN = sorted((ROOT / "examples" / "photos" / "known").glob("*.jpg"))


@dataclass
class Window:
    lookups: list[float] = field(default_factory=list)  # seconds
    uploads: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    failed: Counter[str] = field(default_factory=Counter)  # good requests that did not succeed
    hostile: Counter[int] = field(default_factory=Counter)


class Conn:
    """One keep-alive HTTP/1.1 connection (reopened after the server closes it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.io: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def call(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            return await self._call(method, path, headers, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return 0

    async def _call(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.io is None:
            self.io = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.io
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length, closing = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                closing = True
        await reader.readexactly(length)
        if closing:
            self.close()
        return status

    def close(self) -> None:
        if self.io is not None:
            self.io[1].close()
            self.io = None


async def lookups(port: int, key: str, values: list[str], until: float, win: list[Window]) -> None:
    conn = Conn(port)
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    while time.monotonic() < until:
        body = json.dumps({"signals": [{"type": "md5", "value": random.choice(values)}]})
        t0 = time.monotonic()
        status = await conn.call("POST", "/v1/match/signals", headers, body.encode())
        win[-1].lookups.append(time.monotonic() - t0)
        if status != 200:
            win[-1].failed[f"lookup {status}"] += 1
    conn.close()


async def paced(rate: float, until: float, send: object) -> None:
    """Call ``send`` ``rate`` times a second (each in its own task) until ``until``."""
    tasks, n, start = [], 0, time.monotonic()
    while time.monotonic() < until:
        tasks.append(asyncio.ensure_future(send()))  # type: ignore[operator]
        n += 1
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
    await asyncio.gather(*tasks)


async def phase(port: int, keys: dict[str, str], values: list[str], seconds: float,
                window: float, hostile: list[bytes], sample: object) -> list[Window]:  # fmt: skip
    until = time.monotonic() + seconds
    wins = [Window()]
    good = [p.read_bytes() for p in KNOWN]

    async def upload() -> None:
        t0 = time.monotonic()
        status = await Conn(port).call("POST", "/v1/match", {"X-API-Key": keys["good"]},
                                       random.choice(good))  # fmt: skip
        wins[-1].uploads.append(time.monotonic() - t0)
        if status != 200:
            wins[-1].failed[f"upload {status}"] += 1

    async def health() -> None:
        t0 = time.monotonic()
        status = await Conn(port).call("GET", "/healthz", {}, b"")
        wins[-1].health.append(time.monotonic() - t0)
        if status != 200:
            wins[-1].failed[f"health {status}"] += 1

    async def attack() -> None:
        conn = Conn(port)
        status = await conn.call("POST", "/v1/match", {"X-API-Key": keys["hostile"]},
                                 random.choice(hostile))  # fmt: skip
        conn.close()
        wins[-1].hostile[status] += 1

    async def rotate() -> None:
        while True:
            await asyncio.sleep(max(0.0, min(window, until - time.monotonic())))
            sample(wins[-1])  # type: ignore[operator]
            if time.monotonic() >= until - 1:
                return
            wins.append(Window())

    jobs = [lookups(port, keys["lookup"], values, until, wins) for _ in range(8)]
    jobs += [paced(2, until, upload), paced(1, until, health), rotate()]
    if hostile:
        jobs.append(paced(20, until, attack))
    await asyncio.gather(*jobs)
    return wins


def p99(xs: list[float]) -> float:
    return 1000 * sorted(xs)[int(0.99 * (len(xs) - 1))] if xs else float("nan")


def prepare(home: Path, hashes: int) -> dict[str, str]:
    store = Store.open(home)
    store.create_list("known")
    rows = [Entry(f"e{n}", [("md5", f"{random.getrandbits(128):032x}")]) for n in range(hashes)]
    for n, photo in enumerate(KNOWN):
        res = hash_file(photo)
        rows.append(Entry(f"photo-{n}", [(s.type, s.value) for s in res.signals.values()]))
    store.apply("known", rows)
    keys = KeyStore(store)
    out = {name: keys.create(name, "match") for name in ("lookup", "good", "hostile")}
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--quiet", type=int, default=30)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--hashes", type=int, default=100_000)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigil-soak-"))
    spool = work / "tmp"
    spool.mkdir()
    keys = prepare(work / "home", args.hashes)
    values = [f"{random.getrandbits(128):032x}" for _ in range(500)]
    values += [hash_file(p).signals["md5"].value for p in KNOWN]
    hostile = [many_scan_jpeg(4096, 250), many_scan_jpeg(64, 20_000), png_bomb(), os.urandom(4096)]
    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, TMPDIR=str(spool))
    proc = subprocess.Popen([VIGIL, "--home", str(work / "home"), "serve", "--port", str(port)],
                            env=env)  # fmt: skip
    rows: list[str] = []
    try:
        _wait(port, proc)

        def sample(w: Window) -> None:
            size = sum(f.stat().st_size for f in spool.rglob("*") if f.is_file())
            deleted = _deleted_files(proc.pid)
            rows.append(_row(len(rows), w, args.window, rss_of(proc.pid), size, deleted))

        quiet = asyncio.run(phase(port, keys, values, args.quiet, args.quiet, [], sample))
        base = len(quiet[0].lookups) / args.quiet
        soak = asyncio.run(phase(port, keys, values, args.seconds, args.window, hostile, sample))
    finally:
        proc.terminate()
        t0 = time.monotonic()
        proc.wait(60)
        stop = time.monotonic() - t0
        shutil.rmtree(work, ignore_errors=True)
    rate = sum(len(w.lookups) for w in soak) / args.seconds
    lookups_all = [x for w in soak for x in w.lookups]
    hostile_all = sum((w.hostile for w in soak), Counter())
    failed = sum((w.failed for w in soak), Counter())
    body = "\n".join([
        "## Soak: good and hostile traffic together (issue 24)",
        "",
        f"`python -m bench.soak --seconds {args.seconds}` at {git_rev()}, on {machine()}: "
        f"`vigil serve` (one server process, two sandboxed hashing processes) holding "
        f"{args.hashes:,} hashes; the load generator on the same 2 cores.",
        "",
        f"- match-by-hash: {rate:,.0f} requests/s during the soak, p99 {p99(lookups_all):.1f} "
        f"ms, against {base:,.0f}/s alone in the same run (ratio {rate / base:.2f})",
        f"- hostile uploads answered: {dict(sorted(hostile_all.items()))} (422 over budget, "
        "413 too large, 429 over the key's 4 in flight, 200 a bomb's digests; 0 none)",
        f"- good requests that failed: {dict(failed) or 0}; SIGTERM to exit: {stop:.1f} s",
        "",
        "| window | lookups/s | lookup p99 ms | upload p99 ms | health p99 ms | hostile | "
        "RSS MiB | temp bytes | deleted files open |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
        *rows,
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("soak", body)


def _row(n: int, w: Window, window: int, rss: float, spool: int, deleted: int) -> str:
    name = "quiet" if n == 0 else f"{(n - 1) * window}-{n * window} s"
    hostile = " ".join(f"{k}:{v}" for k, v in sorted(w.hostile.items())) or "-"
    return (f"| {name} | {len(w.lookups) / window:,.0f} | {p99(w.lookups):.1f} | "
            f"{p99(w.uploads):.0f} | {p99(w.health):.1f} | {hostile} | {rss:.0f} | {spool} | "
            f"{deleted} |")  # fmt: skip


def _deleted_files(pid: int) -> int:
    """Open descriptors of the server and its children naming a deleted file (a spool)."""
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    count = 0
    for p in pids:
        for fd in Path(f"/proc/{p}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            count += target.startswith("/") and target.endswith("(deleted)")
    return count


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("the server did not start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not start")


if __name__ == "__main__":
    main()
