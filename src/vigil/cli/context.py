"""What every command shares: the data directory, output mode, and printing helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

if TYPE_CHECKING:
    from vigil.store import Store

__all__ = ["State", "emit_json", "err_console", "out_console", "progress"]

out_console = Console()
err_console = Console(stderr=True)


@dataclass
class State:
    home: str | None = None
    db_url: str | None = None
    _store: Store | None = None

    def store(self) -> Store:
        if self._store is None:
            from vigil.store import Store

            self._store = Store.open(self.home, self.db_url)
        return self._store


def emit_json(obj: Any) -> None:
    """One JSON document (or one JSON line) on standard output."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def progress(quiet: bool = False) -> Progress:
    """A progress bar on standard error, shown only on a terminal and when not ``quiet``."""
    return Progress(
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    )
