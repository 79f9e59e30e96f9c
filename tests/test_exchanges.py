"""Exchanges against a fake NCMEC server on loopback (issue 18): a sync brings every entry and
fingerprint, tombstones remove, faults delay and lose nothing, a killed sync resumes to the same
list, and one fetcher at a time holds an exchange. The fake itself is checked against pytx's
own NCMEC client."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_ncmec import EPOCH, FakeEntry, FakeNcmec, entries, serving
from vigil.errors import ExchangeBusy, ExchangeUnavailable
from vigil.exchanges import ExchangeConfig, ExchangeStore, sync
from vigil.lists import Removal
from vigil.matching.match import Matcher
from vigil.store import Store

VIGIL = str(Path(sys.executable).with_name("vigil"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "home")
    s.create_list("ncmec", category_labels={"1": "A1"})
    yield s
    s.close()


def _add(store: Store, url: str, tmp_path: Path, **more: object) -> None:
    creds = tmp_path / "ncmec-credentials"
    creds.write_text("esp-user:esp-pass\n")
    settings = {
        "base_url": url,
        "credentials_file": str(creds),
        "start": EPOCH - 10,
        "retry_backoff": 0,
        **more,
    }  # retries without waiting: tests never sleep
    ExchangeStore(store).add(ExchangeConfig("ncmec", "ncmec", "ncmec", settings))


def _state(store: Store) -> dict[str, tuple[tuple[str, str], ...]]:
    return {e.key: tuple(sorted(e.signals)) for e in store.iter_entries("ncmec")}


def test_pytx_reads_the_fake_as_it_reads_ncmec() -> None:
    """The fake is shaped on the protocol, checked by the public client, not by Vigil."""
    from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEnvironment, NCMECHashAPI

    fake = FakeNcmec(entries(25), page_size=10)
    with serving(fake) as url:
        api = NCMECHashAPI("esp-user", "esp-pass", NCMECEnvironment.Industry)
        api._base_url = url  # pytx takes an environment; the fake stands in for one
        got = [u for page in api.get_entries_iter(start_timestamp=EPOCH - 1,
                                                   end_timestamp=EPOCH + 50 * 86400)
               for u in page.updates]  # fmt: skip
    assert sorted(u.id for u in got) == sorted(str(e.id) for e in fake.entries)
    assert {"md5", "sha1", "pdq", "pdna", "netclean"} <= set(got[1].fingerprints)


def test_sync_brings_every_entry_and_fingerprint_and_tombstones_remove(
    store: Store, tmp_path: Path
) -> None:
    fake = FakeNcmec(entries(120), page_size=25)
    with serving(fake) as url:
        _add(store, url, tmp_path)
        done = sync(store, "ncmec")
        assert (done["fetched"], done["added"], done["state"]) == (120, 120, "ok")
        first = fake.entries[1]
        e = next(x for x in store.iter_entries("ncmec") if x.key == f"ncmec:{first.member}:1001")
        fps = first.fingerprints()
        assert dict(e.signals) == {"md5": fps["md5"], "sha1": fps["sha1"], "pdq": fps["pdq"]}
        assert e.extra["fingerprints"] == {"pdna": fps["pdna"], "netclean": fps["netclean"]}
        assert (e.source, e.category, e.extra["classification"]) == ("exchange:ncmec", 1, "A1")
        # upstream, since: one withdrawn (a tombstone), one new; the next sync follows
        gone = fake.entries[5]
        later = ExchangeStore(store).get("ncmec").checkpoint["from"]  # where the sync stopped
        fake.entries += [FakeEntry(gone.member, gone.id, later, deleted=True),
                         FakeEntry(40, 5000, later)]  # fmt: skip
        again = sync(store, "ncmec")
        assert (again["added"], again["removed"]) == (1, 1)
    keys = _state(store)
    assert f"ncmec:{gone.member}:{gone.id}" not in keys
    assert "ncmec:40:5000" in keys
    found = Matcher(store).match_value("md5", first.fingerprints()["md5"])
    assert [(m.entry.key, m.entry.source) for m in found] == [(e.key, "exchange:ncmec")]


def test_faults_delay_but_lose_nothing(store: Store, tmp_path: Path) -> None:
    fake = FakeNcmec(entries(60), page_size=10,
                     faults=deque(["429", "500", "truncate", "garble", "429"]))  # fmt: skip
    with serving(fake) as url:
        _add(store, url, tmp_path)
        assert sync(store, "ncmec")["added"] == 60
    assert len(_state(store)) == 60


def test_an_exchange_that_keeps_failing_stops_at_its_checkpoint(
    store: Store, tmp_path: Path
) -> None:
    fake = FakeNcmec(entries(80), page_size=10)
    with serving(fake) as url:
        _add(store, url, tmp_path, window=86400)
        fake.on_request = lambda n: fake.faults.extend(["500"] * 20) if n == 6 else None
        with pytest.raises(ExchangeUnavailable, match="500 after"):
            sync(store, "ncmec")
        cfg = ExchangeStore(store).get("ncmec")
        assert cfg.status["state"] == "error"
        assert cfg.checkpoint["from"] > EPOCH  # the windows wholly applied before the failure
        assert 0 < len(_state(store)) < 80
        fake.on_request, fake.faults = None, deque()
        sync(store, "ncmec")
    assert len(_state(store)) == 80


def test_one_fetcher_holds_an_exchange(store: Store, tmp_path: Path) -> None:
    fake = FakeNcmec(entries(5))
    with serving(fake) as url:
        _add(store, url, tmp_path)
        exstore = ExchangeStore(store)
        assert exstore.acquire("ncmec", "other-instance", 30)
        with pytest.raises(ExchangeBusy, match="other-instance"):
            sync(store, "ncmec", holder="me")
        assert exstore.acquire("ncmec", "other-instance", -1)  # its lease runs out
        assert sync(store, "ncmec", holder="me")["added"] == 5
        assert exstore.holder("ncmec") is None  # released when done


@pytest.mark.slow
def test_a_killed_sync_resumes_to_the_same_list(tmp_path: Path) -> None:
    """`vigil exchange sync` killed with SIGKILL at 20 random points of a 200k-entry backfill
    (while it fetches, parses or writes: the next window is fetched while the last is
    applied), then run again each time: the list ends as one uninterrupted sync leaves it, no
    entry lost, none duplicated."""
    upstream = entries(200_000)
    later = upstream[-1].stamp
    upstream += [FakeEntry(e.member, e.id, later + 5, deleted=True) for e in upstream[::50]]
    rng = random.Random(18)
    stores = {}
    for run in ("clean", "killed"):
        home = tmp_path / run
        store = Store.open(home)
        store.create_list("ncmec")
        fake = FakeNcmec(list(upstream), page_size=1000)
        with serving(fake) as url:
            _add(store, url, tmp_path, window=86400)
            if run == "clean":
                assert sync(store, "ncmec")["state"] == "ok"
            store.close()
            for kill in [True] * 20 * (run == "killed") + [False]:
                target = fake.requests + rng.randint(2, 12) if kill else None
                proc = subprocess.Popen([VIGIL, "--home", str(home), "exchange", "sync", "ncmec"],
                                        stdout=subprocess.DEVNULL)  # fmt: skip
                fake.on_request = (lambda n, t=target, p=proc: os.kill(p.pid, signal.SIGKILL)
                                   if t is not None and n == t else None)  # fmt: skip
                assert proc.wait(timeout=300) == (-signal.SIGKILL if kill else 0)
                _release_dead_lease(home)
        stores[run] = Store.open(home)
    clean, killed = _state(stores["clean"]), _state(stores["killed"])
    assert len(clean) == 200_000 - 4000
    assert killed == clean
    assert sum(1 for _ in stores["killed"].iter_entries("ncmec")) == len(clean)  # no duplicate
    for s in stores.values():
        s.close()


def _release_dead_lease(home: Path) -> None:
    """A killed fetcher's lease stays until it expires; the test takes it over at once, as a
    fetcher would after the lease period."""
    s = Store.open(home)
    exstore = ExchangeStore(s)
    holder = exstore.holder("ncmec")
    if holder is not None:
        exstore.acquire("ncmec", holder, -1)
    s.close()


def test_the_service_syncs_and_the_change_is_matchable_when_it_returns(
    store: Store, tmp_path: Path
) -> None:
    from tests.service_kit import serving as serving_vigil
    from vigil.service import KeyStore

    fake = FakeNcmec(entries(30), page_size=10)
    key = KeyStore(store).create("ops", "curator")
    with serving(fake) as url:
        _add(store, url, tmp_path)
        with (
            serving_vigil(store, "--sync-every", "0") as base,
            httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as c,
        ):
            md5 = fake.entries[3].fingerprints()["md5"]
            query = {"signals": [{"type": "md5", "value": md5}]}
            assert c.post("/v1/match/signals", json=query).json()["matches"] == []
            done = c.post("/v1/exchanges/ncmec/sync").json()
            assert (done["state"], done["added"]) == ("ok", 30)
            (m,) = c.post("/v1/match/signals", json=query).json()["matches"]
            assert (m["entry"], m["source"]) == (f"ncmec:{fake.entries[3].member}:1003",
                                                 "exchange:ncmec")  # fmt: skip
            listed = c.get("/v1/exchanges").json()["exchanges"]
            assert [(x["name"], x["status"]["state"]) for x in listed] == [("ncmec", "ok")]
            ExchangeStore(store).acquire("ncmec", "another-instance", 60)
            assert c.post("/v1/exchanges/ncmec/sync").status_code == 409  # it holds the lease


# -- StopNCII ---------------------------------------------------------------------------------
def _add_stopncii(store: Store, url: str, tmp_path: Path) -> None:
    from tests.fake_stopncii import FEEDBACK_KEY, FETCH_KEY, SUBSCRIPTION

    store.create_list("stopncii")
    creds = tmp_path / "stopncii.json"
    creds.write_text(json.dumps({"subscription_key": SUBSCRIPTION, "fetch_function_key":
                                 FETCH_KEY, "feedback_function_key": FEEDBACK_KEY}))  # fmt: skip
    settings = {"base_url": url, "credentials_file": str(creds), "page_size": 7,
                "retry_backoff": 0}  # fmt: skip
    ExchangeStore(store).add(ExchangeConfig("stopncii", "stopncii", "stopncii", settings))


def test_pytx_reads_the_fake_stopncii_as_it_reads_stopncii() -> None:
    from threatexchange.exchanges.clients.stopncii.api import StopNCIIAPI

    from tests.fake_stopncii import FETCH_KEY, SUBSCRIPTION, FakeStopNcii, record
    from tests.fake_stopncii import serving as serving_stopncii

    fake = FakeStopNcii([record(n, 100 + n) for n in range(20)])
    with serving_stopncii(fake) as url:
        api = StopNCIIAPI(SUBSCRIPTION, FETCH_KEY, base_url_override=url)
        got = [r for page in api.fetch_hashes_iter() for r in page.hashRecords]
    assert len(got) == 20
    assert got[0].hashValue == fake.records[0]["hashValue"]


def test_stopncii_sync_later_records_replace_and_withdrawals_remove(
    store: Store, tmp_path: Path
) -> None:
    from tests.fake_stopncii import FakeStopNcii, record
    from tests.fake_stopncii import serving as serving_stopncii

    upstream = [record(n, 1000 + n, video=n % 5 == 0) for n in range(30)]
    upstream += [record(3, 2000, status="Withdrawn"), record(4, 2001, status="Deleted")]
    fake = FakeStopNcii(upstream, faults=deque(["429", "503"]))
    with serving_stopncii(fake) as url:
        _add_stopncii(store, url, tmp_path)
        done = sync(store, "stopncii")
        assert (done["fetched"], done["removed"], done["state"]) == (32, 2, "ok")
        keys = {e.key for e in store.iter_entries("stopncii")}
        assert len(keys) == 28
        assert f"pdq:{upstream[3]['hashValue']}" not in keys
        video = next(e for e in store.iter_entries("stopncii") if e.key.startswith("md5:"))
        assert video.extra["signalType"] == "VideoMD5"
        assert ExchangeStore(store).get("stopncii").checkpoint["start"] == 2001
        fake.records.append(record(3, 3000))  # the survivor submits it again
        assert sync(store, "stopncii")["added"] == 1


def test_a_stale_stopncii_checkpoint_fetches_everything_again(store: Store, tmp_path: Path) -> None:
    from tests.fake_stopncii import FakeStopNcii, record
    from tests.fake_stopncii import serving as serving_stopncii

    fake = FakeStopNcii([record(n, 1000 + n) for n in range(10)])
    with serving_stopncii(fake) as url:
        _add_stopncii(store, url, tmp_path)
        sync(store, "stopncii")
        exstore = ExchangeStore(store)
        store.apply("stopncii", [Removal(f"pdq:{fake.records[0]['hashValue']}", "lost locally")])
        old = {"start": 1009, "fetched_at": 0}  # last fetched long past the 30-day retention
        exstore.save("stopncii", old, {})
        assert sync(store, "stopncii")["added"] == 1  # everything fetched again: nothing missed
        assert exstore.get("stopncii").checkpoint["refetched_stale"] is True


def test_feedback_goes_to_stopncii_with_its_keys(tmp_path: Path) -> None:
    from tests.fake_stopncii import FEEDBACK_KEY, FETCH_KEY, SUBSCRIPTION, FakeStopNcii
    from tests.fake_stopncii import serving as serving_stopncii
    from vigil.exchanges.clients.stopncii import StopNciiClient

    fake = FakeStopNcii([])
    with serving_stopncii(fake) as url:
        client = StopNciiClient(url, SUBSCRIPTION, {"FetchHashes": FETCH_KEY,
                                                    "SubmitFeedback": FEEDBACK_KEY})  # fmt: skip
        item = {"signalType": "ImagePDQ", "hashValue": "ab" * 32, "feedbackValue": "Blocked",
                "tags": []}  # fmt: skip
        client.submit_feedback([item])
        client.close()
    assert fake.posted == [("/v1/SubmitFeedback", {"count": 1, "hashFeedbacks": [item]})]


def test_feedback_from_the_command_line(store: Store, tmp_path: Path) -> None:
    from tests.fake_stopncii import FakeStopNcii, record
    from tests.fake_stopncii import serving as serving_stopncii

    fake = FakeStopNcii([record(0, 100)])
    pdq = fake.records[0]["hashValue"]
    with serving_stopncii(fake) as url:
        _add_stopncii(store, url, tmp_path)
        sync(store, "stopncii")
        run = [VIGIL, "--home", str(store.home), "exchange", "feedback", "stopncii"]
        ok = subprocess.run([*run, f"pdq:{pdq}", "--false-positive", "--reason", "benign"],
                            capture_output=True, text=True)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        refused = subprocess.run([*run, "pdq:" + "ab" * 32], capture_output=True, text=True)
    assert refused.returncode == 4  # not found: feedback is for hashes the exchange sent
    assert "not a hash stopncii sent" in " ".join(refused.stderr.split())
    ((where, body),) = fake.posted
    assert where == "/v1/SubmitFeedback"
    sent = {"signalType": "ImagePDQ", "hashValue": pdq, "feedbackValue": "NotBlocked",
            "tags": ["benign"]}  # fmt: skip
    assert body["hashFeedbacks"] == [sent]


def test_a_list_file_is_read_again_when_it_changes_and_what_left_it_is_removed(
    store: Store, tmp_path: Path
) -> None:
    from vigil.lists import Entry

    path = tmp_path / "published.txt"
    md5s = [f"{n:032x}" for n in range(1, 6)]
    path.write_text("".join(f"md5 {m}\n" for m in md5s))
    store.apply("ncmec", [Entry("mine", [("md5", "f" * 32)])])  # not the exchange's: stays
    ExchangeStore(store).add(ExchangeConfig("published", "file", "ncmec", {"path": str(path)}))
    assert sync(store, "published")["added"] == 5
    assert sync(store, "published")["fetched"] == 0  # unchanged: not read again
    path.write_text("".join(f"md5 {m}\n" for m in md5s[2:]) + f"md5 {'e' * 32}\n")
    again = sync(store, "published")
    assert (again["added"], again["removed"]) == (1, 2)
    keys = {e.key for e in store.iter_entries("ncmec")}
    assert keys == {"mine", f"md5:{'e' * 32}", *(f"md5:{m}" for m in md5s[2:])}


def test_a_list_file_at_a_url_is_asked_with_its_etag(store: Store) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    body = b"md5 " + b"1" * 32 + b"\n"
    asked: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.headers.get("If-None-Match"))
            same = self.headers.get("If-None-Match") == '"v1"'
            self.send_response(304 if same else 200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", "0" if same else str(len(body)))
            self.end_headers()
            if not same:
                self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/list.txt"
    ExchangeStore(store).add(ExchangeConfig("by-url", "file", "ncmec", {"url": url}))
    assert sync(store, "by-url")["added"] == 1
    assert sync(store, "by-url")["fetched"] == 0
    server.shutdown()
    server.server_close()
    assert asked == [None, '"v1"']


@pytest.mark.slow
def test_two_fetchers_on_one_postgresql_database(postgres_url: str, tmp_path: Path) -> None:
    """Two `vigil exchange sync` processes on one PostgreSQL database: while one fetches, the
    other finds the lease held (exit 8); when the first dies holding it, the second is refused
    until the lease runs out (moved into the past here: no waiting), then takes over."""
    import threading

    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_url)
    store = Store.open(tmp_path / "home", postgres_url)
    store.create_list("ncmec")
    fetching, release = threading.Event(), threading.Event()

    def hold_first(n: int) -> None:
        if n == 1:
            fetching.set()
            release.wait(120)

    fake = FakeNcmec(entries(40), page_size=10, on_request=hold_first)
    run = [VIGIL, "--home", str(tmp_path / "home"), "--db-url", postgres_url, "exchange", "sync",
           "ncmec"]  # fmt: skip
    with serving(fake) as url:
        _add(store, url, tmp_path)
        first = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert fetching.wait(120)
        second = subprocess.run(run, capture_output=True, text=True)
        assert second.returncode == 8
        assert "being synced by" in second.stderr
        first.kill()  # dies holding the lease
        first.wait()
        release.set()
        fake.on_request = None
        assert subprocess.run(run, capture_output=True).returncode == 8  # its lease still runs
        holder = ExchangeStore(store).holder("ncmec")
        assert holder is not None
        ExchangeStore(store).acquire("ncmec", holder, -1)  # the lease period passes
        assert subprocess.run(run, capture_output=True).returncode == 0
    assert len(_state(store)) == 40
    store.close()
