"""The exchange extension point: one base class, one registry. An exchange turns an upstream
source into a list's records, window by window; each window carries the checkpoint to commit
once its records are in the list, so a sync stopped anywhere resumes from the last window that
was wholly applied, and re-applying a window changes nothing (entries are keyed upserts and
removals)."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vigil.errors import UsageError
from vigil.lists import Entry, Record
from vigil.registry import Registry

__all__ = [
    "COMMON_SETTINGS",
    "Exchange",
    "ExchangeConfig",
    "Feedback",
    "Window",
    "exchanges",
    "is_stale",
    "secret",
]

# the settings every exchange that calls out takes (each adds its own)
COMMON_SETTINGS = {
    "retry_backoff": "seconds before the first retry of a failed page, doubling (default 1)",
    "flood_rate": "quarantine an entry that matches more than this share of uploads (default "
    "0.02; 0: never)",
}


@dataclass
class ExchangeConfig:
    """An exchange as stored: its settings hold no secret (a credentials file or variable is
    named, and read at sync time)."""

    name: str
    kind: str
    list_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)


@dataclass
class Window:
    """Records fetched together, and the checkpoint that holds once they are applied."""

    records: list[Record]
    checkpoint: dict[str, Any]
    fetched: int = 0  # upstream records read for it (before any merging)
    done: bool = False  # the exchange is caught up: nothing newer to fetch now
    snapshot: bool = False  # the records are the whole list: what this exchange brought
    # before and is not among them is removed


@dataclass(frozen=True)
class Feedback:
    """An opinion on an upstream hash, for the exchange it came from."""

    signal_type: str
    value: str
    positive: bool  # True: it is what the exchange says (a true positive); False: it is not
    reason: str = ""
    # the exchange's entries that hold this hash (filled in by vigil.exchanges.feedback)
    entries: tuple[Entry, ...] = ()


class Exchange(ABC):
    name: ClassVar[str]  # the kind, as `vigil exchange add --kind` names it
    description: ClassVar[str]
    settings_help: ClassVar[dict[str, str]] = {}  # setting -> what it means

    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """The settings as they will be stored; UsageError naming a bad or unknown one."""
        unknown = set(settings) - set(cls.settings_help)
        if unknown:
            raise UsageError(f"{cls.name} has no setting {sorted(unknown)[0]!r} "
                             f"(settings: {', '.join(sorted(cls.settings_help))})")  # fmt: skip
        return settings

    @abstractmethod
    def windows(self, checkpoint: dict[str, Any]) -> Iterator[Window]:
        """Windows from ``checkpoint`` (``{}``: from the start) until caught up."""

    def feedback(self, items: list[Feedback]) -> int:
        """Send opinions upstream; how many were sent. UsageError where the exchange (or this
        client of it) takes none."""
        raise UsageError(f"{self.name} takes no feedback from Vigil yet")

    def share(self, entries: list[Entry]) -> int:
        """Send a local list's entries upstream; how many hashes were sent. UsageError where
        the exchange takes none."""
        raise UsageError(f"{self.name} takes no hashes from Vigil")

    def close(self) -> None:  # noqa: B027 (optional: most exchanges hold a connection)
        """Release connections."""


exchanges: Registry[Exchange] = Registry("exchange kind", "vigil.exchanges", UsageError)


def is_stale(checkpoint: dict[str, Any], retention: float) -> bool:
    """Whether ``checkpoint`` was last fetched longer ago than the exchange keeps deletions:
    resuming from it could miss a withdrawal, so everything must be fetched again."""
    return bool(checkpoint) and time.time() - float(checkpoint.get("fetched_at", 0)) > retention


def secret(settings: dict[str, Any]) -> str:
    """The credentials text an exchange's settings point at: the file ``credentials_file`` or
    the environment variable ``credentials_env`` (read at each sync; never stored or logged)."""
    if path := settings.get("credentials_file"):
        try:
            return Path(str(path)).read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read the credentials file {path}: {exc.strerror}") from None
    if var := settings.get("credentials_env"):
        if str(var) not in os.environ:
            raise UsageError(f"the credentials variable {var} is not set")
        return os.environ[str(var)].strip()
    raise UsageError("give credentials_file or credentials_env")
