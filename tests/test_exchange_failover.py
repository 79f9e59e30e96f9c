"""Two `vigil serve` instances on one PostgreSQL database (issue 18): exactly one fetches an
exchange at a time (the other's scheduled syncs find the lease held, and are counted), and when
the fetching instance dies mid-sync, the other takes over within one lease period and brings
the list to the same end."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fake_ncmec import FakeNcmec, entries, serving
from tests.service_kit import launched
from tests.test_exchanges import _add
from vigil.exchanges import ExchangeStore
from vigil.service import KeyStore
from vigil.store import Store

LEASE, EVERY = 3.0, 0.2


def _until(done: Callable[[], bool], seconds: float = 60) -> bool:
    """Wait (in short steps) until ``done()``; False if it never was."""
    tick = threading.Event()
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        tick.wait(0.05)
    return True


def _busy(url: str, key: str) -> int:
    text = httpx.get(f"{url}/metrics", headers={"X-API-Key": key}, timeout=10).text
    found = re.search(r'^vigil_exchange_busy_total\{exchange="ncmec"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


@pytest.mark.slow
def test_one_fetcher_across_two_instances_and_failover_within_a_lease(
    postgres_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_url)
    store = Store.open(tmp_path / "home", postgres_url)
    store.create_list("ncmec")
    admin = KeyStore(store).create("admin", "admin")
    fetching, release = threading.Event(), threading.Event()
    asked_at: list[float] = []

    def hold_first(n: int) -> None:
        asked_at.append(time.monotonic())
        if n == 1:  # the first fetcher stops mid-sync, holding the lease
            fetching.set()
            release.wait(120)

    fake = FakeNcmec(entries(40), page_size=10, on_request=hold_first)
    options = ("--sync-every", str(EVERY), "--sync-lease", str(LEASE))
    with serving(fake) as url:
        _add(store, url, tmp_path)
        with launched(store, *options) as (a, url_a), launched(store, *options) as (b, url_b):
            assert fetching.wait(120)
            holder = ExchangeStore(store).holder("ncmec") or ""
            first, (other, other_url) = (a, (b, url_b)) if holder.endswith(f":{a.pid}") else (
                b, (a, url_a))  # fmt: skip
            assert holder.endswith(f":{first.pid}")
            # the other instance's syncs run, and find the lease held: it never fetches
            assert _until(lambda: _busy(other_url, admin) >= 3)
            assert len(asked_at) == 1
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed = time.monotonic()
            release.set()
            assert _until(lambda: len(list(store.iter_entries("ncmec"))) == 40)
            assert other.poll() is None
    took_over = asked_at[1] - killed
    assert took_over <= LEASE + EVERY + 2  # within one lease period (and a sync interval)
    store.close()
