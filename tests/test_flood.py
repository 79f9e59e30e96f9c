"""Floods (issue 18): an exchange entry that matches more than its exchange's share of uploads
is quarantined (answered, marked, never actioned, listed, audited) until a curator releases
it; the platform's own lists are not guarded. Through a real `vigil serve` on loopback."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx

from tests.service_kit import serving
from vigil.exchanges import ExchangeConfig, ExchangeStore, sync
from vigil.exchanges.flood import FloodGuard
from vigil.lists import Entry
from vigil.matching.match import Matcher, acted_on
from vigil.service import KeyStore
from vigil.store import Store

FLOOD, OWN = "ab" * 32, "cd" * 32


def _other(n: int) -> str:
    return hashlib.sha256(f"upload-{n}".encode()).hexdigest()


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "home")
    store.create_list("partner")
    store.create_list("own")
    listed = tmp_path / "partner.txt"
    listed.write_text(f"pdq {FLOOD}\npdq {'ef' * 32}\n")
    ExchangeStore(store).add(ExchangeConfig("partner", "file", "partner", {"path": str(listed)}))
    sync(store, "partner")
    store.apply("own", [Entry("mine", [("pdq", OWN)])])
    return store


def test_an_upstream_hash_matching_a_flood_of_uploads_is_quarantined_until_released(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    key = KeyStore(store).create("curator-key", "curator")
    # 300 uploads; every 10th matches the partner's hash, every 10th (others) the platform's
    items = [{"id": str(n), "signals": [{"type": "pdq", "value":
              FLOOD if n % 10 == 0 else OWN if n % 10 == 5 else _other(n)}]}
             for n in range(300)]  # fmt: skip
    with (
        serving(store) as url,
        httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as c,
    ):
        first = c.post("/v1/match/batch", json={"items": items})
        if first.status_code == 503:  # indexes still loading on a loaded machine: once ready
            tick = threading.Event()
            while not c.get("/readyz").json()["ready"]:
                tick.wait(0.1)
            first = c.post("/v1/match/batch", json={"items": items})
        assert first.status_code == 200, first.text
        got = first.json()["results"]
        flood = [r["matches"][0] for r in got if int(r["id"]) % 10 == 0]
        own = [r["matches"][0] for r in got if int(r["id"]) % 10 == 5]
        # at upload 200 (21 of 201 matched it: over 2%) it was quarantined
        assert [m.get("quarantined") is not None for m in flood] == [False] * 20 + [True] * 10
        assert "matched 21 of the last 201 uploads" in flood[20]["quarantined"]
        assert not any(acted_on(m) for m in flood[20:])
        assert all(acted_on(m) and "quarantined" not in m for m in own)  # not guarded
        (held,) = c.get("/v1/exchanges/quarantine").json()["quarantine"]
        assert (held["list"], held["entry"]) == ("partner", f"pdq:{FLOOD}")
        lookup = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": FLOOD})
        assert lookup.json() == {"matches": []}  # HMA clients act on what they are answered
        release = {"list": "partner", "entry": f"pdq:{FLOOD}"}
        assert c.post("/v1/exchanges/quarantine/release", json=release).status_code == 200
        again = c.post("/v1/match/batch", json={"items": items}).json()["results"]
        assert all(acted_on(r["matches"][0]) for r in again if int(r["id"]) % 10 == 0)
        assert c.get("/v1/exchanges/quarantine").json()["quarantine"] == []
    actions = [a["action"] for a in KeyStore(store).audit_entries()]
    assert {"quarantine", "quarantine.release"} <= set(actions)
    store.close()


def test_a_flood_rate_of_zero_turns_the_guard_off(tmp_path: Path) -> None:
    store = _store(tmp_path)
    exstore = ExchangeStore(store)
    cfg = exstore.get("partner")
    exstore.remove("partner")
    exstore.add(ExchangeConfig("partner", "file", "partner", {**cfg.settings, "flood_rate": 0}))
    matcher = Matcher(store)
    off = FloodGuard(store)
    on = FloodGuard(Store.open(tmp_path / "home"), clock=lambda: 0.0)  # reads no settings
    on.rates, on.read_at = {"partner": 0.02}, 0.0  # the same traffic, guarded: quarantined
    started = []
    for _ in range(300):
        found = matcher.match_value("pdq", FLOOD)
        assert off.observe(found) == []
        started += on.observe(found)
    assert [(list_name, key) for list_name, key, _ in started] == [("partner", f"pdq:{FLOOD}")]
    on.store.close()
    store.close()
