"""Negative lists (issue 18): hashes known to be benign. A match on one suppresses the item's
other matches: they are reported, marked, and never actioned."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.service_kit import serving
from vigil.lists import Entry
from vigil.matching.match import Matcher
from vigil.service import KeyStore
from vigil.store import Store

VIGIL = str(Path(sys.executable).with_name("vigil"))
NOISY = "5d41402abc4b2a76b9719d911017c592"  # an upstream hash that is in fact a benign meme
OTHER = "7d793037a0760186574b0282f2f435e7"


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "home")
    store.create_list("upstream")
    store.create_list("benign", negative=True)
    store.apply("upstream", [Entry("noisy", [("md5", NOISY)]), Entry("real", [("md5", OTHER)])])
    store.apply("benign", [Entry("meme", [("md5", NOISY)])])
    return store


def test_a_negative_match_suppresses_the_others(tmp_path: Path) -> None:
    store = _store(tmp_path)
    matcher = Matcher(store)
    answered = {d["list"]: d for d in matcher.as_dicts(matcher.match_value("md5", NOISY))}
    assert answered["benign"]["negative"] is True
    assert answered["upstream"]["suppressed_by"] == "benign"
    (real,) = matcher.as_dicts(matcher.match_value("md5", OTHER))
    assert "suppressed_by" not in real
    assert store.get_list("benign").as_dict()["negative"] is True
    store.close()


def test_the_cli_and_the_service_do_not_act_on_a_suppressed_match(tmp_path: Path) -> None:
    store = _store(tmp_path)
    cli = subprocess.run([VIGIL, "--home", str(store.home), "match", "--signal", f"md5:{NOISY}"],
                         capture_output=True, text=True)  # fmt: skip
    assert cli.returncode == 1  # no match: the only matches are known benign
    assert "suppressed by benign" in cli.stdout
    key = KeyStore(store).create("ops", "curator")
    with serving(store) as url, httpx.Client(base_url=url, headers={"X-API-Key": key}) as c:
        c.put("/v1/lists/upstream/action", json={"outcome": "block"}).raise_for_status()
        noisy = c.post("/v1/match/signals", json={"signals": [{"type": "md5", "value": NOISY}]})
        assert noisy.json()["outcome"] == "allow"
        real = c.post("/v1/match/signals", json={"signals": [{"type": "md5", "value": OTHER}]})
        assert real.json()["outcome"] == "block"
    store.close()
