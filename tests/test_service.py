"""The HTTP API through a real `vigil serve` on 127.0.0.1 (SQLite and PostgreSQL): keys and
roles, matching by hash, by upload and in batches, a list change matchable at once, and
malformed, oversized and unauthorised requests."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import PHOTOS, encode
from tests.service_kit import Server, client, serving
from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes, hash_file
from vigil.service.app import Service, ServiceConfig
from vigil.service.importer import sweep_work_folders
from vigil.signals.video import example_video
from vigil.store import Store


def test_health_ready_metrics_and_openapi(server: Server) -> None:
    with server.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
    with server.client() as c:  # a match waits until the indexes are loaded
        assert c.post("/v1/match/signals", json={"signals": []}).status_code == 200
    with server.client(None) as c:
        ready = c.get("/readyz").json()
        assert ready["ready"] is True
        assert ready["indexes"]["pdq"] == 1
        assert "/v1/match" in c.get("/openapi.json").json()["paths"]
        assert "vigil_requests" in c.get("/metrics").text


def test_missing_wrong_and_underpowered_keys(server: Server) -> None:
    with server.client(None) as c:
        assert c.post("/v1/match/signals", json={"signals": []}).status_code == 401
        bad = c.post("/v1/match/signals", json={"signals": []},
                     headers={"Authorization": "Bearer vgl_not-a-key"})  # fmt: skip
        assert bad.status_code == 401
    with server.client("match") as c:
        assert c.get("/v1/keys").status_code == 403
    with server.client("admin") as c:
        listed = c.get("/v1/keys").json()["keys"]
        assert {k["name"] for k in listed} == {"match-key", "curator-key", "admin-key"}
        assert all("key" not in k and "key_hash" not in k for k in listed)


def test_match_by_hash_upload_and_batch(server: Server) -> None:
    photo = sorted((PHOTOS / "known").glob("*.jpg"))[0]
    pdq = hash_file(photo).signals["pdq"].value
    with server.client() as c:
        (m,) = c.post("/v1/match/signals", json={"signals": [{"type": "pdq", "value": pdq}]}
                      ).json()["matches"]  # fmt: skip
        assert (m["list"], m["entry"], m["kind"], m["category_label"], m["tags"]) == (
            "known", "photo-0", "near_duplicate", "known sample", ["sample"])  # fmt: skip
        small = encode(Image.open(photo).convert("RGB").resize((200, 267)), "JPEG", quality=70)
        up = c.post("/v1/match", content=small, headers={"Content-Type": "image/jpeg"}).json()
        assert [x["entry"] for x in up["matches"]] == ["photo-0"]
        multi = c.post("/v1/match", files={"file": ("q.jpg", small, "image/jpeg")}).json()
        assert [x["entry"] for x in multi["matches"]] == ["photo-0"]
        only_md5 = c.post("/v1/match", content=small, params={"signal_types": "md5"}).json()
        assert only_md5["matches"] == []  # the resized copy has other bytes
        exact = c.post("/v1/match", content=photo.read_bytes(), params={"signal_types": "md5"})
        assert [x["kind"] for x in exact.json()["matches"]] == ["exact"]
        assert c.post("/v1/match", content=small, params={"signal_types": "nope"}
                      ).status_code == 400  # fmt: skip
        batch = c.post("/v1/match/batch", json={"items": [
            {"id": "a", "signals": [{"type": "pdq", "value": pdq}]},
            {"id": "b", "signals": [{"type": "md5", "value": "0" * 32}]}]}).json()  # fmt: skip
        assert [(r["id"], len(r["matches"])) for r in batch["results"]] == [("a", 1), ("b", 0)]
        hashed = c.post("/v1/hash", content=photo.read_bytes()).json()
        assert hashed["signals"]["pdq"]["value"] == pdq


def test_a_list_change_is_matchable_when_its_request_returns(server: Server) -> None:
    photo = sorted((PHOTOS / "unrelated").glob("*.jpg"))[0]
    res = hash_file(photo)
    body = {"signals": [{"type": "pdq", "value": res.signals["pdq"].value}]}
    with server.client() as matcher, server.client("curator") as curator:
        assert matcher.post("/v1/match/signals", json=body).json()["matches"] == []
        entry = {"key": "new", "signals": [{"type": s.type, "value": s.value}
                                            for s in res.signals.values()]}  # fmt: skip
        assert curator.post("/v1/lists/known/entries", json={"entries": [entry]}).status_code == 200
        found = matcher.post("/v1/match/signals", json=body).json()["matches"]
        assert [m["entry"] for m in found] == ["new"]


def test_malformed_oversized_and_unsupported_requests(server: Server) -> None:
    with server.client() as c:
        assert c.post("/v1/match/signals", content=b"{not json",
                      headers={"Content-Type": "application/json"}).status_code == 422  # fmt: skip
        bad = c.post("/v1/match/signals", json={"signals": [{"type": "pdq", "value": "zz"}]})
        assert bad.status_code == 422
        assert "pdq" in bad.json()["error"]["message"]
        unknown = c.post("/v1/match/signals", json={"signals": [{"type": "nope", "value": "1"}]})
        assert unknown.status_code == 422
        assert "nope" in unknown.json()["error"]["message"]
        big = c.post("/v1/match", content=b"\xff\xd8\xff" + b"\0" * (33 * 2**20))
        assert big.status_code == 413
        text = c.post("/v1/match", content=b"just some text, not an image").json()
        assert text["matches"] == []  # still looked up by its file digests
        assert "no known media type" in text["error"]
    with server.client("admin") as c:
        made = c.post("/v1/keys", json={"name": "extra", "role": "match"})
        assert made.status_code == 201
        assert made.json()["key"].startswith("vgl_")
        assert c.post("/v1/keys", json={"name": "extra", "role": "match"}).status_code == 409
        assert c.delete("/v1/keys/extra").status_code == 200
        actions = [e["action"] for e in c.get("/v1/audit").json()["entries"]]
        assert actions[:2] == ["key.revoke", "key.create"]


def test_curators_manage_lists_and_every_action_is_audited(server: Server) -> None:
    photo = sorted((PHOTOS / "unrelated").glob("*.jpg"))[1]
    res = hash_file(photo)
    md5 = res.signals["md5"].value
    with server.client("match") as c:
        assert c.get("/v1/lists").status_code == 403
    with server.client("curator") as c:
        assert c.post("/v1/lists", json={"name": "reports", "pdq_threshold": 20}).status_code == 201
        assert c.post("/v1/lists", json={"name": "reports"}).status_code == 409
        added = c.post("/v1/lists/reports/entries", json={"entries": [
            {"key": "r1", "signals": [{"type": "md5", "value": md5}], "category": 2,
             "tags": ["hotline"]}]}).json()  # fmt: skip
        assert added["added"] == 1
        exported = c.get("/v1/lists/reports/export", params={"format": "te-lines"})
        assert exported.status_code == 200
        assert f"md5 {md5}" in exported.text
        assert exported.headers["x-vigil-skipped"] == "0"
        no_pytx_signal = c.get("/v1/lists/reports/export", params={"format": "te-csv"})
        assert no_pytx_signal.headers["x-vigil-skipped"] == "1"  # an MD5 alone: said, not lost
        lines = b"0a1b2c3d4e5f\n" + b"not a hash\n"
        params = {"format": "te-lines", "signal_type": "autov3"}
        imported = c.post("/v1/lists/reports/import", content=lines, params=params).json()
        assert (imported["added"], len(imported["problems"])) == (1, 1)
        assert c.post("/v1/lists/nope/import", content=lines).status_code == 404
        assert {x["name"] for x in c.get("/v1/lists").json()["lists"]} == {"known", "reports"}
    with server.client("match") as c:
        body = {"signals": [{"type": "md5", "value": md5}], "lists": ["reports"]}
        (m,) = c.post("/v1/match/signals", json=body).json()["matches"]
        assert (m["list"], m["entry"], m["category"], m["tags"]) == (
            "reports",
            "r1",
            2,
            ["hotline"],
        )
    with server.client("curator") as c:
        assert c.delete("/v1/lists/reports/entries/r1").json() == {"removed": 1}
    with server.client("match") as c:
        assert c.post("/v1/match/signals", json=body).json()["matches"] == []
    with server.client("curator") as c:
        assert c.delete("/v1/lists/reports").status_code == 200
        assert c.delete("/v1/lists/reports").status_code == 404
    with server.client("admin") as c:
        actions = [e["action"] for e in c.get("/v1/audit").json()["entries"]]
    assert actions[:7] == ["list.delete", "entries.remove", "list.import", "list.export",
                           "list.export", "entries.add", "list.create"]  # fmt: skip


def test_rate_limit_per_key(prepared: Server) -> None:
    server = prepared
    body = {"signals": [{"type": "md5", "value": "0" * 32}]}
    with serving(server.store, "--rate-limit", "1") as url:
        fast = client(url, server.keys["match"])
        codes = [fast.post("/v1/match/signals", json=body).status_code for _ in range(30)]
        assert codes[:2] == [200, 200]  # a burst of two seconds' worth
        assert codes.count(429) >= 25
        limited = fast.post("/v1/match/signals", json=body)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        other = client(url, server.keys["curator"])
        assert other.post("/v1/match/signals", json=body).status_code == 200  # its own bucket


class _Receiver:
    """A webhook receiver on 127.0.0.1 that fails its first ``failures`` posts with 500."""

    def __init__(self, failures: int) -> None:
        import http.server
        import threading

        self.failures, self.bodies, self.got = failures, [], threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.failures > 0:
                    outer.failures -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append((body, self.headers["X-Vigil-Signature"]))
                self.send_response(204)
                self.end_headers()
                outer.got.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.close = lambda: (self.server.shutdown(), self.server.server_close())
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_list_actions_and_signed_webhooks_with_retries(
    prepared: Server, request: pytest.FixtureRequest
) -> None:
    server = prepared
    import hashlib
    import hmac
    import json as jsonlib

    receiver = _Receiver(failures=2)
    request.addfinalizer(receiver.close)
    photo = sorted((PHOTOS / "known").glob("*.jpg"))[0]
    body = {"signals": [{"type": "pdq", "value": hash_file(photo).signals["pdq"].value}]}
    with serving(server.store, "--webhook-backoff", "0.05") as url:
        curator = client(url, server.keys["curator"])
        action = {"outcome": "block", "webhook_url": receiver.url, "webhook_secret": "s3cret"}
        set_ = curator.put("/v1/lists/known/action", json=action).json()
        assert set_ == {
            "outcome": "block",
            "webhook_url": receiver.url,
            "keep_days": None,
        }  # the secret stays
        matcher = client(url, server.keys["match"])
        answer = matcher.post("/v1/match/signals", json=body).json()
        assert answer["outcome"] == "block"
        assert [m["action"] for m in answer["matches"]] == ["block"]
        assert receiver.got.wait(30)  # posted after two failures, with backoff
        raw, signature = receiver.bodies[0]
        expected = hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
        assert signature == f"sha256={expected}"
        assert jsonlib.loads(raw)["matches"][0]["entry"] == "photo-0"
        delivered: list[dict[str, object]] = []
        for _ in range(10_000):  # the status is written just after the receiver answers
            delivered = curator.get("/v1/deliveries", params={"status": "delivered"}).json()[
                "deliveries"
            ]
            if delivered:
                break
        assert [(d["status"], d["attempts"]) for d in delivered] == [("delivered", 3)]
        assert curator.put("/v1/lists/known/action", json={"outcome": "nuke"}).status_code == 400


def test_a_receiver_that_stays_down_leaves_a_dead_letter(
    prepared: Server, request: pytest.FixtureRequest
) -> None:
    server = prepared
    closed = socket.socket()
    request.addfinalizer(closed.close)
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    down = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    md5 = hash_file(sorted((PHOTOS / "known").glob("*.jpg"))[0]).signals["md5"].value
    options = ("--webhook-backoff", "0.01", "--webhook-attempts", "3")
    with serving(server.store, *options) as url:
        curator = client(url, server.keys["curator"])
        curator.put("/v1/lists/known/action", json={"outcome": "report", "webhook_url": down})
        matcher = client(url, server.keys["match"])
        body = {"signals": [{"type": "md5", "value": md5}]}
        assert matcher.post("/v1/match/signals", json=body).json()["outcome"] == "report"
        dead: list[dict[str, object]] = []
        for _ in range(10_000):  # three quick attempts; each check is one request
            dead = curator.get("/v1/deliveries", params={"status": "dead"}).json()["deliveries"]
            if dead:
                break
        assert len(dead) == 1
        assert dead[0]["attempts"] == 3
        assert "refused" in str(dead[0]["last_error"]).lower()


def test_a_second_instance_sees_changes_made_through_the_first(server: Server) -> None:
    """Two instances on one store (SQLite file or PostgreSQL): the other instance reads the
    shared change log at least every 0.25 s, so the change becomes matchable there too."""
    import time

    photo = sorted((PHOTOS / "unrelated").glob("*.jpg"))[2]
    res = hash_file(photo)
    body = {"signals": [{"type": "pdq", "value": res.signals["pdq"].value}]}
    entry = {"key": "late", "signals": [{"type": s.type, "value": s.value}
                                         for s in res.signals.values()]}  # fmt: skip
    with serving(server.store) as other:
        b = client(other, server.keys["match"])
        assert b.post("/v1/match/signals", json=body).json()["matches"] == []
        with server.client("curator") as a:
            assert a.post("/v1/lists/known/entries", json={"entries": [entry]}).status_code == 200
        changed = time.monotonic()
        found: list[dict[str, object]] = []
        while not found and time.monotonic() - changed < 5:  # each check is one request
            found = b.post("/v1/match/signals", json=body).json()["matches"]
        assert [m["entry"] for m in found] == ["late"]  # within 0.25 s by design; not timed here


def test_uploads_compute_only_the_signal_types_some_list_holds(store: Store) -> None:
    photo = sorted((PHOTOS / "known").glob("*.jpg"))[0]
    data = photo.read_bytes()
    store.create_list("l")
    store.apply("l", [Entry("p", [("pdq", hash_file(photo).signals["pdq"].value)])])
    svc = Service(store, ServiceConfig())
    svc.follower.start()
    try:
        assert set(svc.upload_types(data, None)) == {"md5", "sha1", "sha256", "pdq"}
        assert svc.upload_types(data, ["pdq", "vlocal"]) == ["pdq"]  # vlocal's index is empty
        full = hash_file(photo)
        store.apply("l", [Entry("q", [("vlocal", full.signals["vlocal"].value)])])
        svc.follower.catch_up()
        assert "vlocal" in svc.upload_types(data, None)
    finally:
        svc.follower.stop()


@pytest.mark.parametrize("freeze", [False, True])
def test_a_server_exempts_what_it_loaded_from_full_collections(store: Store, freeze: bool) -> None:
    svc = Service(store, ServiceConfig(freeze_gc=freeze))  # `vigil serve` sets freeze_gc
    gc.unfreeze()
    svc.follower.start()
    try:
        svc.follower.require_ready(timeout=60)
        frozen = gc.get_freeze_count()
        assert (frozen > 1000) is freeze  # the loaded service, frozen before the first request
    finally:
        svc.follower.stop()
        gc.unfreeze()


def test_match_by_upload_takes_a_video_and_places_the_excerpt(prepared: Server) -> None:
    store = prepared.store
    known = hash_bytes(example_video(seconds=30, fps=2), "long.mp4")
    store.create_list("videos")
    store.apply("videos", [Entry("long", [(s.type, s.value) for s in known.signals.values()])])
    with serving(store) as url:
        c = client(url, prepared.keys["match"])
        body = c.post("/v1/match", content=example_video(seconds=8, fps=2, start=12.0)).json()
    assert body["kind"] == "mp4"
    (m,) = [m for m in body["matches"] if m["list"] == "videos"]
    assert (m["entry"], m["signal_type"]) == ("long", "vpdq")
    assert abs(m["video"]["known_range"][0] - 12) <= 2
    assert abs(m["video"]["known_range"][1] - 19) <= 2


def test_work_folders_of_live_processes_are_kept(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    mine = tmp_path / f"vigil-work-{os.getpid()}-abc"
    dead = tmp_path / f"vigil-work-{gone.stdout.strip()}-def"
    other = tmp_path / "vigil-work-notapid-x"
    for folder in (mine, dead, other):
        folder.mkdir()
        (folder / "upload").write_bytes(b"hashes")
    assert sweep_work_folders(tmp_path) == 1
    assert (mine.exists(), dead.exists(), other.exists()) == (True, False, True)
