"""`vigil hash`: the signals of files, as a table, JSON lines or CSV."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.context import emit_json, out_console
from vigil.cli.errors import ExitCode
from vigil.cli.sandboxed import each_file, failed_hash

if TYPE_CHECKING:
    from vigil.matching.hashing import HashResult

__all__ = ["expand_paths", "hash_command"]


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and every file under a directory given. A FIFO or device in a folder is
    kept, to get its row saying why it is not read; a symbolic link inside the tree is not
    (what it names is met at its own path)."""
    from vigil.media.files import walk

    out: list[Path] = []
    for p in paths:
        if not p.is_dir():
            out.append(p)
            continue
        out.extend(f.path for f in walk(p) if f.skip is None or f.skip[0] != "Link")
    return out


def _print_lines(result: HashResult) -> None:
    """One file: its path, then a line per signal, ``type value`` as python-threatexchange's
    `tx hash` prints them, whole (a long value says what it holds; --json has it)."""
    from vigil.signals import registry

    out_console.print(result.source, highlight=False, markup=False, soft_wrap=True)
    for name, sv in sorted(result.signals.items()):
        if registry.get(name).large:
            text = f"{sv.note or 'a long value'} (the value: --json)"
        else:
            text = sv.value if sv.quality is None else f"{sv.value} q{sv.quality}"
        flag = "" if sv.usable else "  (not usable: quality below 50)"
        out_console.print(f"  {name:<8}{text}{flag}", highlight=False, markup=False,
                          soft_wrap=True)  # fmt: skip
    if result.error:
        out_console.print(f"  problem: {result.error}", style="yellow", highlight=False,
                          markup=False, soft_wrap=True)  # fmt: skip


def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    signal: Annotated[
        list[str] | None,
        typer.Option("--signal", "-s", help="Signal type to compute (repeatable; default all)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV: path, one column per signal.")
    ] = False,
) -> None:
    """Compute the signals (md5, sha1, sha256, pdq, ...) of files.

    A file that cannot be decoded still gets its cryptographic hashes, and its row says why the
    others are missing. PDQ below quality 50 is shown but flagged as not usable for matching.

    Example: vigil hash photos/ --signal md5 --signal pdq --csv > hashes.csv
    """
    from vigil.matching.hashing import hash_file
    from vigil.signals import registry

    names = signal or [n for n in registry.names() if registry.get(n).applies_to != "model"]
    for n in names:
        registry.get(n)  # unknown names fail before any work
    # without --signal each file gets the types that apply to it (a photo is not "not a video")
    asked = signal or None
    results = each_file(expand_paths(paths), hash_file, lambda p: (str(p), asked), failed_hash)
    failed = 0
    if as_json:
        for r in results:
            failed += not r.ok
            emit_json(r.as_dict())
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", *names, "pdq_quality", "error"])
        for r in results:
            failed += not r.ok
            quality = r.signals["pdq"].quality if "pdq" in r.signals else ""
            writer.writerow(
                [
                    r.source,
                    *(r.signals[n].value if n in r.signals else "" for n in names),
                    quality,
                    r.error or "",
                ]
            )
    else:
        for r in results:
            failed += not r.ok
            _print_lines(r)
    if failed:
        raise typer.Exit(ExitCode.PARTIAL)
