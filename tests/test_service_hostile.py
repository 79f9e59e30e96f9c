"""Hostile requests against a real `vigil serve` on 127.0.0.1: uploads over their budget while
health checks, match-by-hash and good uploads go on; uploads never spooled; bodies never
echoed; failed key checks limited; list names that cannot become paths or markup; bad rows
that never fail an import."""

from __future__ import annotations

import asyncio
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import insert

from tests import hostile
from tests.conftest import PHOTOS
from tests.service_kit import Server, client, serving
from vigil.errors import MediaTooLarge
from vigil.matching.hashing import hash_file
from vigil.service.uploads import read_upload
from vigil.store.schema import lists

SQLITE = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
KNOWN = sorted((PHOTOS / "known").glob("*.jpg"))[0]


@SQLITE
def test_hostile_uploads_cost_their_budget_and_matching_goes_on(prepared: Server) -> None:
    costly = hostile.many_scan_jpeg(4096, 250)  # decodes for seconds: stopped at 0.5 s
    md5 = hash_file(KNOWN).signals["md5"].value
    options = ("--cpu-budget", "0.5", "--hash-workers", "2", "--uploads-per-key", "3")
    with serving(prepared.store, *options) as url:
        bad, good = client(url, prepared.keys["match"]), client(url, prepared.keys["curator"])
        with ThreadPoolExecutor(6) as pool:
            uploads = [pool.submit(bad.post, "/v1/match", content=costly) for _ in range(6)]
            assert bad.get("/healthz").status_code == 200
            found = good.post("/v1/match/signals",
                              json={"signals": [{"type": "md5", "value": md5}]})  # fmt: skip
            assert [m["entry"] for m in found.json()["matches"]] == ["photo-0"]
            answers = [f.result() for f in uploads]
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) <= {422, 429}
        assert 422 in statuses
        stopped = next(a.json()["error"] for a in answers if a.status_code == 422)
        assert stopped["type"] == "OverBudget"
        assert "CPU budget of 0.5 s" in stopped["message"]
        scans = bad.post("/v1/match", content=hostile.many_scan_jpeg(64, 20_000))
        assert scans.status_code == 200  # its file digests are still matched
        assert "20,000 scans" in scans.json()["error"]
        after = bad.post("/v1/match", files={"file": ("k.jpg", KNOWN.read_bytes(), "image/jpeg")})
        assert [m["kind"] for m in after.json()["matches"]][:1] == ["exact"]


@SQLITE
def test_bad_bodies_are_4xx_and_never_echoed(server: Server) -> None:
    with server.client("curator") as c:
        raw = b'{"signals":[{"type":"md5","value":"\xff\xfe-upload-bytes"}]}'
        for route in (
            "/v1/match/signals",
            "/v1/match/batch",
            "/v1/lists",
            "/v1/lists/known/entries",
        ):
            r = c.post(route, content=raw, headers={"Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (route, r.status_code)
            assert b"upload-bytes" not in r.content
            assert r.headers["x-content-type-options"] == "nosniff"
        deep = c.post("/v1/match/signals", content=b"[" * 100_000,
                      headers={"Content-Type": "application/json"})  # fmt: skip
        assert 400 <= deep.status_code < 500

        def endless() -> Any:  # no Content-Length: refused while reading, at the limit
            for _ in range(64):
                yield b"\0" * 2**20

        over = c.post("/v1/match", content=endless())
        assert over.status_code == 413


def _stream(body: bytes, ctype: str, pieces: list[int]) -> Any:
    """A Starlette request over ``body`` in chunks of 64 KiB; ``pieces`` counts them as read."""
    from starlette.requests import Request

    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    async def receive() -> dict[str, Any]:
        pieces.append(1)
        more = len(pieces) < len(chunks)
        return {"type": "http.request", "body": chunks[len(pieces) - 1], "more_body": more}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", ctype.encode())]}
    return Request(scope, receive)


def test_an_upload_is_held_in_memory_and_stops_at_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("an upload touched the disk")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    photo = KNOWN.read_bytes() * 100  # 2 MB: Starlette's parser spools parts over 1 MiB
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"'
            "\r\nContent-Type: image/jpeg\r\n\r\n")  # fmt: skip
    body = head.encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={boundary}"
    read: list[int] = []
    upload = asyncio.run(read_upload(_stream(body, ctype, read), 4 * 2**20))
    assert (upload.name, upload.data) == ("a.jpg", photo)
    read.clear()
    with pytest.raises(MediaTooLarge):
        asyncio.run(read_upload(_stream(body, ctype, read), 2**20))
    assert len(read) < len(body) // 65536  # stopped before the end of the body


@SQLITE
def test_failed_key_checks_are_limited_per_address(server: Server) -> None:
    with server.client() as good:
        assert good.post("/v1/match/signals", json={"signals": []}).status_code == 200
        with httpx.Client(base_url=server.url, headers={"X-API-Key": "vgl_wrong"}) as bad:
            codes = [bad.post("/v1/match/signals", json={"signals": []}).status_code
                     for _ in range(60)]  # fmt: skip
        assert codes[0] == 401
        assert codes.count(429) >= 30  # a burst of 20, then 10 a second
        assert good.post("/v1/match/signals", json={"signals": []}).status_code == 200


@SQLITE
def test_list_names_that_could_be_paths_or_markup_are_refused(server: Server) -> None:
    with server.client("curator") as c:
        for name in ("../x", "a/b", "%2e%2e%2f", "<script>alert(1)</script>", "", "a b", "é"):
            r = c.post("/v1/lists", json={"name": name})
            assert r.status_code in (400, 422), name
        assert c.post("/v1/lists", json={"name": "HMA_BANK_1"}).status_code == 201
        with server.store.engine.begin() as conn:  # a name made before the rule
            from datetime import UTC, datetime

            conn.execute(insert(lists).values(name="old/list<b>", description="",
                                              created_at=datetime.now(UTC)))  # fmt: skip
        ref = next(
            x["ref"] for x in c.get("/v1/lists").json()["lists"] if x["name"] == "old/list<b>"
        )
        entry = {"key": "k", "signals": [{"type": "md5", "value": "0" * 31 + "1"}]}
        assert c.post(f"/v1/lists/{ref}/entries", json={"entries": [entry]}).json()["added"] == 1
        assert c.get(f"/v1/lists/{ref}/export", params={"format": "te-csv"}).status_code == 200
        renamed = c.post(f"/v1/lists/{ref}/rename", json={"name": "old-list"}).json()
        assert renamed["name"] == "old-list"
        assert c.delete("/v1/lists/old-list").json()["entries"] == 1


BAD_ROWS = {
    "te-csv": "signal_type,signal_str,collab,category,tags\n"
    "md5,900150983cd24fb0d6963f7d28e17f72,x,1,\n"
    "md5,zz,x,1,\n"
    f"md5,d41d8cd98f00b204e9800998ecf8427e,{'x' * 200_000},1,\n"
    'md5,"unterminated\n',
    "stopncii": '{"signalType":"ImagePDQ","hashValue":"' + "a" * 64 + '"}\n'
    '{"signalType": broken\n' + "[" * 50_000 + "\n",
    "vics": json.dumps({"value": [
        {"MediaID": 1, "MD5": "900150983cd24fb0d6963f7d28e17f72", "Category": 10**30},
        {"MediaID": 2, "MD5": "d41d8cd98f00b204e9800998ecf8427e", "Category": "²"},
        {"MediaID": 3, "MD5": "e2fc714c4727ee9395f324cd2e7f331f", "Category": 1}]}),
}  # fmt: skip


@SQLITE
@pytest.mark.parametrize("fmt", sorted(BAD_ROWS))
def test_bad_rows_never_fail_an_import(server: Server, fmt: str, tmp_path: Path) -> None:
    text = BAD_ROWS[fmt].replace("1e999", "Infinity")
    with server.client("curator") as c:
        r = c.post("/v1/lists/known/import", params={"format": fmt}, content=text.encode())
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["added"] >= 1
        assert report["problems"]
        assert all(p["where"] and p["reason"] for p in report["problems"])


def test_keys_take_turns_and_one_key_holds_at_most_half_the_slots() -> None:
    from vigil.service.fair import FairSlots

    order: list[str] = []

    async def run() -> None:
        slots = FairSlots(2)
        gate = anyio.Event()

        async def job(key: str, n: int) -> None:
            async with slots.slot(key):
                order.append(f"{key}{n}")
                await gate.wait()

        async with anyio.create_task_group() as tg:
            for n in range(3):  # a flood from one key, then one upload from another
                tg.start_soon(job, "a", n)
            await anyio.wait_all_tasks_blocked()
            assert order == ["a0"]  # the second slot is kept for other keys
            tg.start_soon(job, "b", 0)
            await anyio.wait_all_tasks_blocked()
            assert order == ["a0", "b0"]  # b did not wait behind a's queue
            gate.set()

    anyio.run(run)
    assert order == ["a0", "b0", "a1", "a2"]


def test_a_key_over_its_cap_is_refused_at_once() -> None:
    from vigil.service.fair import Busy, FairSlots

    async def run() -> None:
        slots, gate = FairSlots(1, cap=2), anyio.Event()

        async def hold() -> None:
            async with slots.slot("a"):
                await gate.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            tg.start_soon(hold)  # running and waiting: the cap of 2
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(Busy):
                async with slots.slot("a"):
                    pass
            gate.set()

    anyio.run(run)


@SQLITE
def test_sigterm_drains_uploads_in_flight_and_exits(prepared: Server) -> None:
    import signal
    import time

    from tests.service_kit import launched

    costly = hostile.many_scan_jpeg(4096, 250)
    with launched(prepared.store, "--cpu-budget", "1") as (proc, url):
        c = client(url, prepared.keys["match"])
        assert c.get("/healthz").status_code == 200
        with ThreadPoolExecutor(2) as pool:
            uploads = [pool.submit(c.post, "/v1/match", content=costly) for _ in range(2)]
            assert c.get("/healthz").status_code == 200
            proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            assert proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises it
            assert time.monotonic() - t0 < 15
            for f in uploads:  # answered (stopped at its budget) or cut off, never left hanging
                with contextlib.suppress(httpx.HTTPError):
                    assert f.result().status_code in (422, 503)
