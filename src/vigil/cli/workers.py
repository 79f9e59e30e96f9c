"""Several server processes on one listening socket: the parent forks them, replaces one that
dies, and stops them all on SIGTERM or SIGINT. The kernel shares connections out between
them. Each worker builds its own app after the fork, so no thread or database connection
crosses it."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

__all__ = ["supervise"]

QUICK_DEATH = 5.0  # seconds: a worker that fails this soon after starting is not replaced


def supervise(count: int, run: Callable[[], None]) -> None:
    """Run ``run`` in ``count`` forked processes until told to stop; exits with status 1 if a
    worker fails at start (a bad configuration would otherwise fork forever)."""
    started: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                run()
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        started[pid] = time.monotonic()

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in started:
            _kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        spawn()
    failed = False
    while started:
        pid, status = os.wait()
        born = started.pop(pid, None)
        if born is None or stopping:
            continue
        # an error exit soon after start is a configuration problem; a kill (the OOM killer,
        # an operator) or a later failure is replaced
        if os.waitstatus_to_exitcode(status) > 0 and time.monotonic() - born < QUICK_DEATH:
            print(f"vigil serve: worker {pid} failed at start; stopping", file=sys.stderr)
            failed = True
            stop(signal.SIGTERM, None)
        else:
            spawn()
    if failed:
        sys.exit(1)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, sig)
