"""The service's exchange syncs: every ``interval`` seconds each exchange is synced by whichever
worker or instance takes its lease (the others skip it), and a sync that changed its list makes
the change matchable before the next lookup (``on_change``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from vigil.errors import ExchangeBusy, VigilError
from vigil.service.periodic import Periodic
from vigil.store import Store

__all__ = ["Syncer"]

log = logging.getLogger(__name__)


class Syncer:
    def __init__(self, store: Store, interval: float, on_change: Callable[[], None],
                 lease: float = 60.0, on_busy: Callable[[str], None] | None = None
                 ) -> None:  # fmt: skip
        self.store, self.interval, self.on_change, self.lease = store, interval, on_change, lease
        self.on_busy = on_busy or (lambda _name: None)  # another instance had it: counted
        self.lock = threading.Lock()  # one sync at a time in this process
        self._every = Periodic("vigil-syncer", interval, self.run_once)

    def start(self) -> None:
        self._every.start()

    def stop(self) -> None:
        self._every.stop()

    def run_once(self) -> dict[str, Any]:
        """Sync every exchange whose lease this process gets; what each did, or why not."""
        from vigil.exchanges import ExchangeStore

        done: dict[str, Any] = {}
        for cfg in ExchangeStore(self.store).all():
            try:
                done[cfg.name] = self.sync(cfg.name)
            except ExchangeBusy:
                done[cfg.name] = {"state": "busy"}  # another worker or instance has it
                self.on_busy(cfg.name)
            except VigilError as exc:
                log.warning("exchange %s: %s", cfg.name, exc)
                done[cfg.name] = {"state": "error", "error": str(exc)}
        return done

    def sync(self, name: str) -> dict[str, Any]:
        """Sync one exchange now (in a child process); its changes are matchable when this
        returns."""
        from vigil.exchanges import ExchangeStore
        from vigil.exchanges.sync import holder_name
        from vigil.service.sync_child import sync_in_child

        held = ExchangeStore(self.store).holder(name)  # held: no process started to be told so
        if held is not None and held != holder_name():
            raise ExchangeBusy(f"{name} is being synced by {held}")
        with self.lock:
            status = sync_in_child(self.store, name, holder_name(), self.lease)
        if status["added"] or status["updated"] or status["removed"]:
            self.on_change()
        return status
