"""Opening files that hostile people chose: only regular files are read.

A FIFO would block the reader until someone writes to it, and a device (``/dev/zero``, or a
link to it) never ends, so the file is opened without blocking and checked with ``fstat`` on
the open descriptor (no race between a check and the open) before a byte is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vigil.errors import MediaTooLarge, NotRegularFile, UnreadableFile

__all__ = ["Found", "describe_mode", "open_regular", "read_regular", "walk"]

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISDIR, "a folder"))  # fmt: skip


def describe_mode(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words."""
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (symbolic links are followed to what
    they name); :class:`NotRegularFile` or :class:`UnreadableFile` otherwise, naming it."""
    source = os.fspath(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source, flags)
    except OSError as exc:
        raise UnreadableFile(source, f"cannot open: {exc.strerror or exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(source, f"{describe_mode(mode)}, not a regular file: not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """A regular file's bytes, refused before reading if over ``max_bytes``."""
    source = os.fspath(path)
    with open_regular(source) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise MediaTooLarge(source, f"{size:,} bytes is over the limit of {max_bytes:,}")
        try:  # read what fstat says and one byte more (a buffer of max_bytes would be held)
            data = fh.read(size + 1)
            if len(data) > size:  # it grew, or says 0 (procfs): the rest, up to the limit
                data += fh.read(max_bytes + 1 - len(data))
        except OSError as exc:
            raise UnreadableFile(source, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew while being read
        raise MediaTooLarge(source, f"over the limit of {max_bytes:,} bytes")
    return data


@dataclass(frozen=True)
class Found:
    """A path met while walking a tree: a regular file to read, or something that is not read
    (``skip``: the error type and the reason), which still gets its row."""

    path: Path
    skip: tuple[str, str] | None = None


def walk(root: Path, follow_links: bool = False) -> Iterator[Found]:
    """Everything under ``root``, in a stable order. Regular files are to be read; FIFOs,
    sockets and devices are skipped with their reason. A symbolic link inside the tree is
    skipped (what it names is met at its own path); one that leads outside is followed only
    with ``follow_links``, and a folder already walked (a loop) is never walked again."""
    if root.is_symlink() and root.exists():  # named by the user: what it names is meant
        root = root.resolve()
    if not root.is_dir():
        yield _classify(root, root, follow_links)
        return
    yield from _walk_dir(root, root.resolve(), follow_links, set())


def _walk_dir(folder: Path, top: Path, follow: bool, seen: set[tuple[int, int]]) -> Iterator[Found]:
    try:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen:
            yield Found(
                folder, ("LinkLoop", "a folder already walked (a link loop): not walked again")
            )
            return
        seen.add((st.st_dev, st.st_ino))
        names = sorted(os.listdir(folder))
    except OSError as exc:
        yield Found(folder, ("UnreadableFile", f"cannot list the folder: {exc.strerror or exc}"))
        return
    for name in names:
        path = folder / name
        try:
            is_dir = stat.S_ISDIR(path.lstat().st_mode)
        except OSError as exc:
            yield Found(path, ("UnreadableFile", f"cannot stat: {exc.strerror or exc}"))
            continue
        if is_dir:
            yield from _walk_dir(path, top, follow, seen)
        else:
            found = _classify(path, top, follow)
            if found.skip is None and found.path.is_dir():  # a followed link to a folder
                yield from _walk_dir(found.path, top, follow, seen)
            else:
                yield found


def _classify(path: Path, top: Path, follow: bool) -> Found:
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return Found(path, ("UnreadableFile", f"cannot stat: {exc.strerror or exc}"))
    if stat.S_ISLNK(mode):
        return _link(path, top, follow)
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return Found(path, ("NotRegularFile", f"{describe_mode(mode)}: not read"))
    return Found(path)


def _link(path: Path, top: Path, follow: bool) -> Found:
    try:
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except (OSError, RuntimeError):
        return Found(path, ("BrokenLink", "a symbolic link to nothing (or a loop of links)"))
    if target == top or top in target.parents:
        return Found(path, ("Link", f"a symbolic link to {target}, read at its own path"))
    if not follow:
        return Found(path, ("Link", f"a symbolic link out of the tree, to {target}: not "
                                    "followed (--follow-links follows it)"))  # fmt: skip
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return Found(path, ("NotRegularFile", f"a link to {describe_mode(mode)}: not read"))
    return Found(target if stat.S_ISDIR(mode) else path)
