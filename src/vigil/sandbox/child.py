"""The worker side: a loop that runs one job at a time under the budget.

CPU time is bounded by ``ITIMER_PROF`` (process CPU time, user and system): when it fires, the
default action of ``SIGPROF`` ends the process at once, even inside a C decoder. Memory is
bounded by ``RLIMIT_AS`` set before each job to the address space in use plus the budget; a
failed allocation is a ``MemoryError`` (reported) or a crash in C (the process dies; the parent
reports it). Results and exceptions go back over the pipe.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from multiprocessing.connection import Connection
from typing import Any

from vigil.sandbox.budget import Budget

__all__ = ["grant", "serve"]

_job: dict[str, Any] = {}  # in a worker, while a job runs: conn, budget, cpu granted so far


def grant(seconds: float) -> None:
    """Inside a job: allow ``seconds`` more CPU time (and the matching wall time), for work in
    proportion to real content, up to the budget's ``max_cpu_seconds``. Elsewhere: nothing."""
    if not _job:
        return
    budget: Budget = _job["budget"]
    seconds = min(seconds, budget.max_cpu_seconds - _job["granted"])
    if seconds <= 0:
        return
    _job["granted"] += seconds
    left, _ = signal.getitimer(signal.ITIMER_PROF)
    signal.setitimer(signal.ITIMER_PROF, left + seconds)
    _job["conn"].send(("extend", seconds * budget.deadline / budget.cpu_seconds))


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _arm(budget: Budget) -> None:
    with contextlib.suppress(OSError, ValueError):  # no /proc, or a hard limit below ours
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + budget.memory, _hard_as))
    signal.setitimer(signal.ITIMER_PROF, budget.cpu_seconds)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_AS, (_hard_as, _hard_as))


_hard_as = resource.getrlimit(resource.RLIMIT_AS)[1]


def _quiet_threads() -> None:
    """One thread per worker: the pool is the parallelism, and each thread's stack and arena
    would count against the memory budget."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    with contextlib.suppress(ImportError):
        import cv2

        cv2.setNumThreads(1)


def serve(conn: Connection, budget: Budget) -> None:
    """The worker's main loop: (fn, args) in, ("ok", result) or ("error", exc) out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    _quiet_threads()
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        _job.update(conn=conn, budget=budget, granted=0.0)
        _arm(budget)
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:
            reply = ("error", exc)
        finally:
            _disarm()
            _job.clear()
        _send(conn, reply)


def _send(conn: Connection, reply: tuple[str, Any]) -> None:
    try:
        conn.send(reply)
    except Exception as exc:  # an unpicklable result or exception: say what it was
        conn.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {exc}")))
