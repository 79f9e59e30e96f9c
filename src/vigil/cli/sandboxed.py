"""Files read by the CLI commands in sandboxed workers: one hostile file costs at most its
budget (:mod:`vigil.sandbox`) and becomes an error in its own row."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vigil.sandbox import Sandbox

if TYPE_CHECKING:
    from vigil.evidence import Report
    from vigil.matching.hashing import HashResult

__all__ = ["each_file", "failed_hash", "failed_report"]

T = TypeVar("T")


def each_file(
    paths: list[Path],
    fn: Callable[..., T],
    args_of: Callable[[Path], tuple[Any, ...]],
    on_error: Callable[[Path, BaseException], T],
) -> Iterator[T]:
    """``fn(*args_of(path))`` for each path, in order, on up to one worker per core."""
    if not paths:
        return
    workers = min(len(paths), os.cpu_count() or 1)
    with Sandbox(workers) as sandbox:
        for path, outcome in sandbox.imap(fn, paths, str, args_of):
            yield on_error(path, outcome) if isinstance(outcome, BaseException) else outcome


def failed_hash(path: Path, exc: BaseException) -> HashResult:
    from vigil.matching.hashing import HashResult

    return HashResult.failed(str(path), exc)


def failed_report(path: Path, exc: BaseException) -> Report:
    from vigil.errors import reason_of
    from vigil.evidence import Report

    return Report.failure(str(path), reason_of(exc))
