"""The parent side: a pool of sandboxed worker processes, each replaced when it is killed."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import wait
from typing import Any, TypeVar

from vigil.errors import OverBudget
from vigil.sandbox import child
from vigil.sandbox.budget import Budget

__all__ = ["Sandbox"]

T = TypeVar("T")
J = TypeVar("J")

# what the forkserver imports once, so that a replaced worker starts in milliseconds
PRELOAD = [
    "vigil.sandbox.child",
    "vigil.matching.hashing",
    "vigil.evidence",
    "vigil.matching.scan",
    "vigil.sandbox.warm",
]


class _Killed(Exception):
    """The worker is gone; ``reason`` says why, for the error that names the input."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Worker:
    def __init__(self, ctx: Any, budget: Budget) -> None:
        self.budget = budget
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=child.serve, args=(theirs, budget), daemon=True,
                                name="vigil-sandbox")  # fmt: skip
        self.proc.start()
        theirs.close()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        try:
            self.conn.send((fn, args))
        except (BrokenPipeError, OSError):
            raise _Killed(self._death()) from None
        deadline = time.monotonic() + self.budget.deadline
        while True:
            ready = wait([self.conn, self.proc.sentinel], max(0.0, deadline - time.monotonic()))
            if not ready:
                self.kill()
                raise _Killed(f"took over {deadline_text(self.budget)} (blocked, or too slow)")
            if self.conn not in ready:
                raise _Killed(self._death())
            try:
                kind, value = self.conn.recv()
            except (EOFError, OSError):
                raise _Killed(self._death()) from None
            if kind == "extend":
                deadline += value
            elif kind == "ok":
                return value
            elif kind == "memory":
                raise _Killed(
                    f"needed more than its memory budget of {self.budget.describe_memory()}"
                )
            else:
                raise value

    def _death(self) -> str:
        self.proc.join(5)
        code = self.proc.exitcode
        if code == -signal.SIGPROF:
            return f"used more than its CPU budget of {self.budget.cpu_seconds:g} s"
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return (f"the process reading it died ({name}): a decoder crash, or over its "
                    f"memory budget of {self.budget.describe_memory()}")  # fmt: skip
        return f"the process reading it exited (status {code})"

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()


def deadline_text(budget: Budget) -> str:
    return f"{budget.deadline:g} s by the clock"


class Sandbox:
    """``workers`` sandboxed processes (started when first needed), shared by any number of
    threads; each job runs on one idle worker under ``budget``."""

    def __init__(self, workers: int | None = None, budget: Budget = Budget()) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.budget = budget
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._started = 0
        self._cond = threading.Condition()
        self._closed = False
        self.replaced = 0  # workers killed and replaced so far

    def run(self, fn: Callable[..., T], *args: Any, source: str) -> T:
        """``fn(*args)`` in a worker; its exceptions are raised here. Over the budget, or if the
        worker dies: :class:`OverBudget` naming ``source``."""
        worker = self._take()
        try:
            result: T = worker.call(fn, args)
        except _Killed as exc:
            worker.kill()
            self._lost(worker)
            raise OverBudget(source, f"stopped: {exc.reason}") from None
        except BaseException:
            self._give(worker)
            raise
        self._give(worker)
        return result

    def imap(
        self, fn: Callable[..., T], jobs: Iterable[J], source_of: Callable[[J], str],
        args_of: Callable[[J], tuple[Any, ...]] | None = None,
    ) -> Iterator[tuple[J, T | BaseException]]:  # fmt: skip
        """``fn`` over ``jobs`` on every worker: ``(job, result or exception)`` in the order of
        ``jobs``, which is read a few jobs ahead of the results (memory stays flat)."""
        window: deque[tuple[J, Future[T]]] = deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="vigil-sandbox") as threads:
            for job in jobs:
                args = args_of(job) if args_of else (job,)
                window.append((job, threads.submit(self.run, fn, *args, source=source_of(job))))
                if len(window) >= 4 * self.workers:
                    yield _outcome(window.popleft())
            while window:
                yield _outcome(window.popleft())

    def close(self) -> None:
        """Stop every worker, busy ones too (their jobs fail); later jobs are refused."""
        with self._cond:
            self._closed = True
            workers, self._idle = list(self._all), []
            self._cond.notify_all()
        for w in workers:
            w.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _take(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the sandbox is closed")
                if self._idle:
                    return self._idle.pop()
                if self._started < self.workers:
                    self._started += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker(self._ctx, self.budget)
        except BaseException:
            self._lost()
            raise
        with self._cond:
            self._all.add(worker)
        return worker

    def _give(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                worker.kill()
                return
            self._idle.append(worker)
            self._cond.notify()

    def _lost(self, worker: _Worker | None = None) -> None:
        with self._cond:
            self._started -= 1
            if worker is not None:
                self._all.discard(worker)
                self.replaced += 1
            self._cond.notify()


def _outcome(item: tuple[Any, Future[Any]]) -> tuple[Any, Any]:
    job, fut = item
    try:
        return job, fut.result()
    except Exception as exc:
        return job, exc
