"""A job the service runs every so many seconds on a daemon thread of its own (exchange syncs,
the CyberTipline queue), stopped with the service."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Periodic"]


class Periodic:
    def __init__(self, name: str, every: float, job: Callable[[], object]) -> None:
        self.name, self.every, self.job = name, every, job
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run ``job`` every ``every`` seconds from now on (never, where ``every`` is 0)."""
        if self.every > 0:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.job()
