"""List imports over HTTP run in a separate process, at low CPU priority: a bulk import is
CPU-bound Python for minutes, and in the serving process it would hold the interpreter lock
against the event loop (match p99 went from 15 ms to over 100 ms during a 50,000-row import).
The child writes in one transaction and dies with its parent, so an instance killed mid-import
leaves nothing behind; it reports progress (rows written) and then the report, over a pipe."""

from __future__ import annotations

import ctypes
import getpass
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from vigil import errors
from vigil.lists import formats
from vigil.store import Store

__all__ = ["import_in_child", "sweep_work_folders", "work_folder"]

NICE = 10  # the import yields the CPU to matching
PREFIX = "vigil-work-"


def work_folder() -> Path:
    """A private (mode 0700) temporary folder for one list file uploaded or exported, named
    after this process, so that a later instance can tell it was left by one that was killed."""
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))


def sweep_work_folders(root: Path | None = None) -> int:
    """Delete the work folders (and the list files in them) of processes that are gone: an
    instance killed mid-import cannot delete its own. Returns how many were deleted."""
    swept = 0
    for folder in (root or Path(tempfile.gettempdir())).glob(f"{PREFIX}*-*"):
        pid = folder.name.removeprefix(PREFIX).split("-", 1)[0]
        if not pid.isdigit() or folder.owner() != getpass.getuser() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        swept += 1
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True


def import_in_child(
    store: Store,
    list_name: str,
    path: Path,
    fmt: str,
    options: dict[str, str],
    source: str,
    progress: Callable[[int], None],
) -> dict[str, Any]:
    """Import the list file at ``path`` into ``list_name`` atomically, in a child process;
    ``progress`` gets the rows written so far after each batch. Returns the import report;
    raises the child's error (a VigilError subclass) if it failed."""
    ctx = multiprocessing.get_context("spawn")  # nothing of this process's threads crosses
    receive, send = ctx.Pipe(duplex=False)
    url = store.engine.url.render_as_string(hide_password=False)
    args = (os.getpid(), str(store.home), url, list_name, str(path), fmt, options, source, send)
    child = ctx.Process(target=_child, args=args, name="vigil-import", daemon=True)
    child.start()
    send.close()
    try:
        while True:
            try:
                kind, value = receive.recv()
            except EOFError:
                raise errors.StoreError(
                    f"the import process ended without a result (exit {child.exitcode})"
                ) from None
            if kind == "rows":
                progress(value)
            elif kind == "done":
                result: dict[str, Any] = value
                return result
            else:
                name, message = value
                raise _rebuilt(name, message)
    finally:
        receive.close()
        child.join()


def _rebuilt(name: str, message: str) -> errors.VigilError:
    """The child's error as the class it was: input errors (``source: reason``) keep both."""
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.VigilError)):
        return errors.StoreError(message)  # an error class the errors module does not have
    if issubclass(cls, errors.InputError):
        source, _, reason = message.partition(": ")
        return cls(source, reason or message)
    if issubclass(cls, (errors.ListNotFound, errors.EntryNotFound)):
        return errors.NotFound(message)
    return cls(message)


def _child(parent: int, home: str, url: str, list_name: str, path: str, fmt: str,
           options: dict[str, str], source: str, send: Connection) -> None:  # fmt: skip
    _die_with(parent)
    os.nice(NICE)
    store = None
    try:
        store = Store.open(home, url)
        with open(path, "rb") as fh:
            report = store.apply(list_name, formats.get(fmt).read(fh, "upload", **options),
                                 source=source, atomic=True,
                                 on_batch=lambda r: send.send(("rows", r.rows)))  # fmt: skip
        send.send(("done", report.as_dict()))
    except errors.VigilError as exc:
        send.send(("error", (type(exc).__name__, str(exc))))
    except SQLAlchemyError as exc:  # the database failed: a store error (503), retried
        send.send(("error", ("StoreError", f"import failed: {type(exc).__name__}")))
    except Exception as exc:  # the file made the import fail: the client's to mend (422)
        reason = f"{type(exc).__name__}: {exc}"[:300]
        send.send(("error", ("ListFormatError", f"upload: the import failed: {reason}")))
    finally:
        if store is not None:
            store.close()
        send.close()


def _die_with(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies (so a killed server's import never
    commits later); elsewhere nothing."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
