"""The HTTP service under load: `vigil serve` holding 1M PDQ hashes, driven by wrk on the same
machine, beside python-threatexchange's ``PDQIndex`` behind a minimal server (same stack).

    python -m bench.service [--size 1000000] [--seconds 10] [--no-peer] [--no-record]

The hashes are random 256-bit values (a lookup's cost depends on the index, not on the
content); half the queried hashes are in the list. Match-by-upload sends shared 400 px JPEGs.
wrk (Debian package ``wrk``) runs one thread; the server one process. Resident memory of the
server is read before and after the runs.
"""

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import git_rev, machine, need_shared, record
from vigil.lists import Entry
from vigil.service import KeyStore
from vigil.store import Store

VIGIL = str(Path(sys.executable).with_name("vigil"))


def rss_of(pid: int) -> float:
    """Resident MiB of a process and its children (the workers)."""
    own = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            own = int(line.split()[1]) / 1024
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(rss_of(int(c)) for c in children)


def lua_hashes(path: Path, key: str, hashes: list[str], field: str) -> None:
    bodies = ",".join(json.dumps(json.dumps(
        {"signals": [{"type": "pdq", "value": h}]} if field == "signals" else {"hash": h}))
        for h in hashes)  # fmt: skip
    path.write_text(
        f"local bodies = {{{bodies}}}\nlocal i = 0\n"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        "request = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )


def lua_upload(path: Path, key: str, photos: list[Path]) -> None:
    files = ",".join(json.dumps(str(p)) for p in photos)
    path.write_text(
        f"local files = {{{files}}}\nlocal bodies = {{}}\n"
        'for k, f in ipairs(files) do local h = io.open(f, "rb"); bodies[k] = h:read("*all"); '
        "h:close() end\nlocal i = 0\n"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "image/jpeg"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        "request = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    res: dict[str, float] = {"non2xx": 0.0}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            res["rps"] = float(parts[1])
        elif "requests in" in line:
            res["requests"] = float(parts[0])
        elif parts[:1] in (["50%"], ["99%"]):
            res["p" + parts[0][:-1]] = _ms(parts[1])
        elif line.strip().startswith("Non-2xx"):
            res["non2xx"] = float(parts[-1])
    return res


def _ms(value: str) -> float:
    """wrk's latency ("850.00us", "12.3ms", "1.2s") in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    return float(value)


def serve(args: list[str]) -> tuple[subprocess.Popen[bytes], str, socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    proc = subprocess.Popen([*args, str(sock.fileno())], pass_fds=(sock.fileno(),))
    return proc, f"http://127.0.0.1:{sock.getsockname()[1]}", sock


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="4,16")
    ap.add_argument("--workers", type=int, default=2, help="vigil serve --workers")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench.service needs wrk: apt-get install wrk")
    photos = sorted((need_shared() / "photos" / "clothing").glob("*.jpg"))[:50]
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, size=(args.size, 32), dtype=np.uint8)
    hexes = [row.tobytes().hex() for row in data[:1000]]
    absent = [row.tobytes().hex() for row in rng.integers(0, 256, (1000, 32), dtype=np.uint8)]
    queries = [h for pair in zip(hexes, absent, strict=True) for h in pair]
    conns = [int(c) for c in args.connections.split(",")]
    rows, mem = [], ""
    with tempfile.TemporaryDirectory() as home:
        store = Store.open(home)
        store.create_list("known")
        store.apply("known", (Entry(f"e{i}", [("pdq", row.tobytes().hex())])
                              for i, row in enumerate(data)))  # fmt: skip
        store.index("pdq")  # built and saved: the server loads it
        key = KeyStore(store).create("bench", "match")
        store.close()
        script = Path(home) / "hash.lua"
        lua_hashes(script, key, queries, "signals")
        upload = Path(home) / "upload.lua"
        lua_upload(upload, key, photos)
        proc, url, sock = serve([VIGIL, "--home", home, "serve", "--workers",
                                 str(args.workers), "--fd"])  # fmt: skip
        try:
            wrk(url + "/v1/match/signals", script, 4, 2)  # warm up: the index loads
            wrk(url + "/v1/match", upload, 4, 2)  # and the image signals' first use
            before = rss_of(proc.pid)
            for c in conns:
                r = wrk(url + "/v1/match/signals", script, c, args.seconds)
                rows.append(("Vigil", "match by hash", c, r))
            for c in conns:
                r = wrk(url + "/v1/match", upload, c, args.seconds)
                rows.append(("Vigil", "match by upload (400 px JPEG)", c, r))
            after = rss_of(proc.pid)
            total = sum(r["requests"] for *_, r in rows)
            mem = (f"server resident memory {before:.0f} MiB after warm-up (both routes), "
                   f"{after:.0f} MiB after the {total:,.0f} requests above")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait()
            sock.close()
        if not args.no_peer:
            npy = Path(home) / "hashes.npy"
            np.save(npy, data)
            proc, url, sock = serve([sys.executable, "-m", "bench.service_peer", str(npy)])
            try:
                peer = Path(home) / "peer.lua"
                lua_hashes(peer, key, queries, "hash")
                subprocess.run(["curl", "-s", "-m", "600", "-X", "POST", url + "/match", "-d",
                                json.dumps({"hash": queries[0]}), "-H",
                                "Content-Type: application/json"], capture_output=True)  # fmt: skip
                for c in conns:
                    r = wrk(url + "/match", peer, c, args.seconds)
                    rows.append(("pytx PDQIndex (minimal server)", "match by hash", c, r))
            finally:
                proc.terminate()
                proc.wait()
                sock.close()
    table = [f"| {who} | {what} | {c} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
             f"{int(r['non2xx'])} |" for who, what, c, r in rows]  # fmt: skip
    body = "\n".join([
        "## HTTP service under load (issue 4)",
        "",
        f"`python -m bench.service --size {args.size}` (commit {git_rev()}), {machine()}; wrk "
        "(one thread) and the server (one process) on the same 2 cores.",
        "",
        f"{args.size:,} random PDQ hashes in one list; queries cycle through 2,000 hashes, half "
        "of them in the list. Uploads cycle through 50 shared 400 px JPEGs (hashed with every "
        "image signal, robust one included, then matched).",
        "",
        "| server | request | connections | requests/s | p50 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|---|---|",
        *table,
        "",
        f"Memory: {mem}.",
    ])  # fmt: skip
    print(body)
    if not args.no_record:
        record("service", body)


if __name__ == "__main__":
    main()
