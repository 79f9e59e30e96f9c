"""Syncing an exchange into its list. One fetcher per exchange at a time (the lease, renewed
after every window; a fetcher that loses it stops). Each window's records are applied to the
list, then its checkpoint saved: a sync killed anywhere resumes at the last saved checkpoint
and re-applies at most one window, which changes nothing twice (keyed upserts and removals), so
it ends where an uninterrupted sync would. Every entry says which exchange it came from
(``source``: ``exchange:<name>``); its key is the upstream id."""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from typing import Any

from vigil.errors import ExchangeBusy, ExchangeError, NotFound
from vigil.exchanges.base import Feedback, Window, exchanges
from vigil.exchanges.store import ExchangeStore
from vigil.lists import Entry, Record, Removal
from vigil.store import Store

__all__ = ["LEASE", "feedback", "holder_name", "share", "sync"]

LEASE = 60.0  # seconds a fetcher holds an exchange without renewing


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _tagged(records: list[Record], name: str) -> list[Record]:
    for rec in records:
        if isinstance(rec, Entry):
            rec.source = f"exchange:{name}"
    return records


def _gone(store: Store, list_name: str, name: str, records: list[Record]) -> list[Record]:
    """Removals for the entries this exchange brought that a snapshot no longer holds."""
    kept = {r.key for r in records if isinstance(r, Entry)}
    mine = f"exchange:{name}"
    return [Removal(e.key, f"no longer in {name}") for e in store.iter_entries(list_name)
            if e.source == mine and e.key not in kept]  # fmt: skip


@contextlib.contextmanager
def fewer_collections(young: int = 10_000) -> Iterator[None]:
    """The cyclic collector's young generation made larger while a sync runs: a backfill
    builds and drops millions of small objects without cycles (XML elements, records), and at
    the default threshold (700) collections took 40% of its time (bench.exchange)."""
    before = gc.get_threshold()
    if before[0] < young:
        gc.set_threshold(young, *before[1:])
    try:
        yield
    finally:
        if gc.get_threshold()[0] == young and before[0] < young:
            gc.set_threshold(*before)


def ahead(windows: Iterator[Window], interrupt: Callable[[], None]) -> Generator[Window]:
    """The windows, the next one fetched (in a thread) while the last is applied: fetching and
    parsing overlap the database's writes, which release the GIL. Only one window is ever
    ahead, and a checkpoint is still saved only once its window is applied. Closed before the
    end, it calls ``interrupt`` (closing the exchange's connections, so that a fetch waiting
    on the network stops at once) and waits for the fetching thread."""
    box: queue.Queue[tuple[Window | None, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for window in windows:
                box.put((window, None))
                if stop.is_set():
                    return
            box.put((None, None))
        except BaseException as exc:  # handed to the applying thread, which raises it
            box.put((None, exc))

    worker = threading.Thread(target=fetch, name="exchange-fetch", daemon=True)
    worker.start()
    try:
        while True:
            window, failed = box.get()
            if failed is not None:
                raise failed
            if window is None:
                return
            yield window
    finally:
        if worker.is_alive():
            stop.set()
            with contextlib.suppress(queue.Empty):
                box.get_nowait()  # unblock a fetch waiting to hand over its window
            interrupt()
        worker.join()


def sync(store: Store, name: str, holder: str | None = None, lease: float = LEASE
         ) -> dict[str, Any]:  # fmt: skip
    """Fetch ``name`` until it is caught up; returns what the sync did (also saved as the
    exchange's status). ExchangeBusy when another fetcher holds it."""
    exstore = ExchangeStore(store)
    cfg = exstore.get(name)
    holder = holder or holder_name()
    if not exstore.acquire(name, holder, lease):
        raise ExchangeBusy(f"{name} is being synced by {exstore.holder(name) or 'another'}")
    status: dict[str, Any] = {"state": "running", "started": time.time(), "fetched": 0,
                              "added": 0, "updated": 0, "removed": 0, "problems": 0}  # fmt: skip
    exchange = exchanges.get(cfg.kind)(cfg)
    fetched = ahead(exchange.windows(cfg.checkpoint), exchange.close)
    try:
        with fewer_collections():
            for window in fetched:
                _apply(store, cfg.list_name, name, window, status)
                exstore.save(name, window.checkpoint, status)
                if not exstore.acquire(name, holder, lease):  # renewed, or lost: then stop
                    raise ExchangeBusy(f"{name}: the lease was lost to another fetcher")
        status.update(state="ok", finished=time.time())
        exstore.save(name, None, status, finished=True)
    except ExchangeError as exc:
        status.update(state="error", error=str(exc), finished=time.time())
        exstore.save(name, None, status)
        raise
    finally:
        fetched.close()  # the fetching thread stopped, before its connections close
        exchange.close()
        exstore.release(name, holder)
    return status


def _apply(store: Store, list_name: str, name: str, window: Window, status: dict[str, Any]
           ) -> None:  # fmt: skip
    """One window's records into the list, counted into ``status``."""
    records = _tagged(window.records, name)
    if window.snapshot:
        records += _gone(store, list_name, name, records)
    report = store.apply(list_name, records, source=f"exchange {name}")
    for field in ("added", "updated", "removed"):
        status[field] += getattr(report, field)
    status["fetched"] += window.fetched
    status["problems"] += len(report.problems)


def _theirs(store: Store, name: str, list_name: str, item: Feedback) -> Feedback:
    """``item`` with the entries of the exchange's list that hold its hash (the upstream ids
    feedback is sent for); NotFound where none does."""
    mine = f"exchange:{name}"
    found = store.describe_signals(store.exact_signal_ids(item.signal_type, item.value))
    held = tuple(e for info, e in found.values() if info.name == list_name and e.source == mine)
    if not held:
        raise NotFound(f"{item.signal_type}:{item.value} is not a hash {name} sent")
    return replace(item, entries=held)


def feedback(store: Store, name: str, items: list[Feedback]) -> int:
    """Send opinions on upstream hashes to the exchange ``name``; how many went. Each hash
    must be one the exchange sent (NotFound names the first that is not)."""
    cfg = ExchangeStore(store).get(name)
    resolved = [_theirs(store, name, cfg.list_name, i) for i in items]
    exchange = exchanges.get(cfg.kind)(cfg)
    try:
        return exchange.feedback(resolved)
    finally:
        exchange.close()


def share(store: Store, name: str, list_name: str) -> int:
    """Send the local list ``list_name`` to the exchange ``name`` (entries it brought are not
    sent back); how many hashes went."""
    cfg = ExchangeStore(store).get(name)
    mine = f"exchange:{name}"
    local = [e for e in store.iter_entries(list_name) if e.source != mine]
    exchange = exchanges.get(cfg.kind)(cfg)
    try:
        return exchange.share(local)
    finally:
        exchange.close()
