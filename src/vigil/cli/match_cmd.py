"""`vigil match` and `vigil scan`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vigil.cli.context import State, emit_json, out_console, progress
from vigil.cli.errors import ExitCode
from vigil.cli.hash_cmd import expand_paths
from vigil.cli.sandboxed import each_file, failed_hash
from vigil.errors import UsageError

if TYPE_CHECKING:
    from vigil.matching.hashing import HashResult
    from vigil.matching.match import Match, Matcher
from vigil.sandbox import Budget

__all__ = ["match_command", "scan_command"]

LISTS = Annotated[
    list[str] | None, typer.Option("--list", "-l", help="Only this list (repeatable; default all).")
]


def _match_row(matcher: Matcher, source: str, matches: list[Match]) -> dict[str, Any]:
    """One input's row: its matches, each on a negative list or suppressed by one marked; it
    counts as matched only through a match that is neither."""
    from vigil.matching.match import acted_on

    out = matcher.as_dicts(matches)
    return {"path": source, "matched": any(map(acted_on, out)), "matches": out}


def _print_rows(rows: list[dict[str, Any]]) -> None:
    """Each input on its own line, then two lines per match (list and entry; kind, signal,
    distance, how, category), so that whole names and values show at 80 columns."""
    for row in rows:
        out_console.print(row["path"], highlight=False, markup=False, soft_wrap=True)
        if row.get("error") and not row["matches"]:
            out_console.print(f"  [red]error[/red]: {escape(row['error']['reason'])}",
                              highlight=False)  # fmt: skip
        if not row["matches"] and not row.get("error"):
            out_console.print("  [green]no match[/green]", highlight=False)
        for m in row["matches"]:
            cat = m.get("category_label") or ("" if m["category"] is None else str(m["category"]))
            out_console.print(f"  [bold red]{escape(m['list'])}[/bold red]  {escape(m['entry'])}",
                              highlight=False, soft_wrap=True)  # fmt: skip
            parts = [m["kind"], f"{m['signal_type']} {m['distance']}", _how(m)]
            if cat:
                parts.append(f"category {escape(cat)}")
            if m.get("negative"):
                parts.append("[green]known benign[/green]")
            if m.get("suppressed_by"):
                parts.append(f"[green]suppressed by {escape(m['suppressed_by'])}[/green]")
            out_console.print("    " + "  ".join(parts), highlight=False, soft_wrap=True)


def _how(m: dict[str, Any]) -> str:
    if "video" in m:
        v = m["video"]
        return (f"{v['query_match_percent']}% of query; known "
                f"{v['known_range'][0]:.0f}-{v['known_range'][1]:.0f} s")  # fmt: skip
    if "robust" in m:
        r = m["robust"]
        box = ",".join(f"{x:.2f}" for x in r["known_region"])
        return f"score {r['score']:.2f}; known region {box}"
    return str(m["variant"])


def _hash(path: str, variants: bool) -> HashResult:
    from vigil.matching.hashing import hash_file

    return hash_file(path, variants=variants)


def match_command(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders.")] = None,
    signal: Annotated[
        list[str] | None,
        typer.Option("--signal", help="A value to look up, as TYPE:VALUE (repeatable)."),
    ] = None,
    lists: LISTS = None,
    variants: Annotated[
        bool, typer.Option(help="Also try the 7 rotations/flips of each image (PDQ).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input.")] = False,
) -> None:
    """Match files or hash values against the lists.

    Exit code 0: something matched; 1: nothing matched; 3: an input could not be read or
    decoded (unsupported, damaged, over its budget), so it was not fully matched.

    Examples: vigil match upload.jpg --list known;
    vigil match --signal pdq:9c73e398...16e4 --json
    """
    state: State = ctx.obj
    if not paths and not signal:
        raise UsageError("give files to match or --signal TYPE:VALUE")
    from vigil.matching.match import Matcher

    matcher = Matcher(state.store(), lists)
    rows: list[dict[str, Any]] = []
    for item in signal or []:
        type_name, sep, value = item.partition(":")
        if not sep:
            raise UsageError(f"--signal wants TYPE:VALUE, got {item!r}")
        rows.append(_match_row(matcher, item, matcher.match_value(type_name, value)))
    files = expand_paths(paths or [])
    for path, result in zip(files, each_file(files, _hash, lambda p: (str(p), variants),
                                             failed_hash), strict=True):  # fmt: skip
        row = _match_row(matcher, str(path), matcher.match_result(result))
        if result.error:
            row["error"] = {"type": result.error_type, "reason": result.error}
        rows.append(row)
    if as_json:
        for row in rows:
            emit_json(row)
    else:
        _print_rows(rows)
    if any(r["matched"] for r in rows):
        return
    bad = any(r.get("error") for r in rows)  # unsupported, unreadable, over budget: not matched
    raise typer.Exit(ExitCode.INPUT if bad else ExitCode.NO_MATCH)


def scan_command(
    ctx: typer.Context,
    root: Annotated[Path, typer.Argument(exists=True, help="Folder to scan recursively.")],
    lists: LISTS = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="JSON-lines report; an existing one is resumed (default: vigil-scan.jsonl)."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Hashing processes (default: cores).")] = None,
    evidence: Annotated[
        bool, typer.Option(help="Also read each file's evidence (how it was made).")
    ] = True,
    follow_links: Annotated[
        bool, typer.Option(help="Follow symbolic links that lead out of the folder.")
    ] = False,
    cpu_budget: Annotated[
        float, typer.Option(help="CPU seconds one file may take (videos earn more per frame).")
    ] = Budget.cpu_seconds,
    memory_budget: Annotated[
        int, typer.Option(help="MiB of memory one file may take.")
    ] = Budget.memory // 2**20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Scan a folder tree against the lists, on all cores.

    Every path gets a row in the JSON-lines report: match, no_match, error (with its reason,
    such as a file over its CPU or memory budget, which is stopped) or skipped (a FIFO, a
    device, a symbolic link: links inside the folder are read at their own path, links out of
    it only with --follow-links). Rows carry the file's evidence too: C2PA, generator metadata,
    watermarks, camera EXIF, with a summary. Re-running with the same report resumes where it
    stopped. Exit code 7: some files failed.

    Example: vigil scan /evidence/case-17 --report case-17.jsonl
    """
    state: State = ctx.obj
    from vigil.matching.match import Matcher
    from vigil.matching.scan import scan
    from vigil.media.files import walk

    matcher = Matcher(state.store(), lists)
    report = report or Path("vigil-scan.jsonl")
    total = sum(1 for _ in walk(root, follow_links))
    budget = Budget(cpu_budget, memory_budget * 2**20)
    with progress(as_json) as bar:
        task = bar.add_task("scan", total=total)
        summary = scan(
            root,
            matcher,
            report,
            workers or os.cpu_count(),
            progress=lambda _r, _m: bar.advance(task),
            evidence=evidence,
            budget=budget,
            follow_links=follow_links,
        )
    if as_json:
        emit_json(summary.as_dict())
    else:
        columns = ("files", "matched", "unmatched", "errors", "skipped", "resumed_past")
        table = Table(*(c.replace("_", " ") for c in columns))
        d = summary.as_dict()
        table.add_row(*(str(d[k]) for k in columns))
        out_console.print(table)
        out_console.print(f"report: {summary.report}", highlight=False)
        for name, count in summary.per_list.most_common():
            out_console.print(f"  list {name}: {count} files matched")
        for name, count in summary.origins.most_common():
            out_console.print(f"  evidence says {name}: {count} files")
        for name, count in summary.error_types.most_common():
            out_console.print(f"  [red]{name}[/red]: {count} files")
    if summary.errors:
        raise typer.Exit(ExitCode.PARTIAL)
