"""Exchange syncs run by the service happen in a child process at low CPU priority, as list
imports do (:mod:`vigil.service.importer`): a backfill is minutes of CPU-bound Python (XML,
records), and in the serving process it held the interpreter lock against the lookups and
took twice as long (bench.exchange). The child holds the exchange's lease in its parent's name
and dies with it, so an instance killed mid-sync leaves only a lease that runs out, and its
memory goes when it ends: the service's stays flat however large the backfill."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from vigil import errors
from vigil.service.importer import NICE, _die_with, _rebuilt
from vigil.store import Store

__all__ = ["sync_in_child"]


def sync_in_child(store: Store, name: str, holder: str, lease: float) -> dict[str, Any]:
    """Sync the exchange ``name`` in a child process; its status, or the child's error (an
    ExchangeBusy when another fetcher holds it) raised here."""
    ctx = multiprocessing.get_context("spawn")  # nothing of this process's threads crosses
    receive, send = ctx.Pipe(duplex=False)
    url = store.engine.url.render_as_string(hide_password=False)
    args = (os.getpid(), str(store.home), url, name, holder, lease, send)
    child = ctx.Process(target=_child, args=args, name="vigil-sync", daemon=True)
    child.start()
    send.close()
    try:
        try:
            kind, value = receive.recv()
        except EOFError:
            raise errors.ExchangeUnavailable(
                f"the sync of {name} ended without a result (exit {child.exitcode})"
            ) from None
        if kind == "done":
            result: dict[str, Any] = value
            return result
        raise _rebuilt(*value)
    finally:
        receive.close()
        child.join()


def _child(parent: int, home: str, url: str, name: str, holder: str, lease: float,
           send: Connection) -> None:  # fmt: skip
    from vigil.exchanges import sync

    _die_with(parent)
    os.nice(NICE)
    store = None
    try:
        store = Store.open(home, url)
        send.send(("done", sync(store, name, holder, lease)))
    except errors.VigilError as exc:
        send.send(("error", (type(exc).__name__, str(exc))))
    except SQLAlchemyError as exc:  # the database failed: a store error (503), retried
        send.send(("error", ("StoreError", f"the sync failed: {type(exc).__name__}")))
    finally:
        if store is not None:
            store.close()
        send.close()
