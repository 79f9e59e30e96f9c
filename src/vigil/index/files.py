"""How an index lies on disk: fsynced array files, segment folders, an atomic manifest.

A segment folder is written under a temporary name and renamed; the manifest that lists the
live files is replaced atomically after them, and files it no longer lists are removed. A crash
at any point leaves the previous manifest and everything it names intact.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from vigil.errors import IndexCorrupt

__all__ = [
    "MANIFEST",
    "SaveLock",
    "next_name",
    "read_manifest",
    "save_arrays",
    "synced",
    "write_manifest",
]

MANIFEST = "manifest.json"


@contextmanager
def synced(path: Path) -> Iterator[IO[bytes]]:
    """A file opened for writing, flushed to disk before the block ends."""
    with open(path, "wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def save_arrays(
    directory: Path, arrays: dict[str, npt.NDArray[np.generic]], meta: dict[str, Any]
) -> None:
    """A folder of ``<name>.npy`` files plus ``meta.json``, appearing whole or not at all."""
    tmp = directory.with_name(directory.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        with synced(tmp / f"{name}.npy") as fh:
            np.save(fh, arr)
    (tmp / "meta.json").write_text(json.dumps(meta))
    os.replace(tmp, directory)


def write_manifest(root: Path, manifest: dict[str, Any], live: set[str]) -> None:
    """Replace the manifest atomically, then remove every file of ``root`` it does not list
    (``live``: the names it refers to)."""
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / MANIFEST)
    for child in root.iterdir():
        if child.name not in live | {MANIFEST}:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def read_manifest(root: Path, fmt: str, version: int) -> dict[str, Any] | None:
    """The manifest of an index folder, None if there is none (a new index); IndexCorrupt if
    it is unreadable or of another format or version."""
    if not (root / MANIFEST).exists():
        return None
    try:
        manifest: dict[str, Any] = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{root}: cannot read {MANIFEST}: {exc}") from exc
    if manifest.get("format") != fmt or manifest.get("version") != version:
        raise IndexCorrupt(f"{root}: not a version-{version} {fmt}")
    return manifest


def next_name(root: Path) -> int:
    """The number the manifest in ``root`` says new files start from (1 without one)."""
    try:
        return int(json.loads((root / MANIFEST).read_text()).get("next", 1))
    except (OSError, ValueError):
        return 1


class SaveLock:
    """The right to write a data directory's index files, held by one process at a time (an
    advisory lock on ``<index folder>/.lock``): several servers, or a server and the CLI, on
    one data directory would otherwise delete each other's segment files."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits); whether this process holds it."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None
