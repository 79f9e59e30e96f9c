"""`vigil match` and `vigil scan`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vigil.cli.context import State, emit_json, out_console, progress
from vigil.cli.errors import ExitCode
from vigil.cli.hash_cmd import expand_paths
from vigil.errors import UsageError
from vigil.hashing import hash_file
from vigil.match import Match, Matcher
from vigil.scan import iter_files, scan

__all__ = ["match_command", "scan_command"]

LISTS = Annotated[
    list[str] | None, typer.Option("--list", "-l", help="Only this list (repeatable; default all).")
]


def _match_row(matcher: Matcher, source: str, matches: list[Match]) -> dict[str, Any]:
    return {
        "path": source,
        "matched": bool(matches),
        "matches": [m.as_dict(matcher.labels(m.list)) for m in matches],
    }


def _print_rows(rows: list[dict[str, Any]]) -> None:
    table = Table("input", "list", "entry", "kind", "signal", "distance", "how", "category")
    blank = [""] * 5
    for row in rows:
        if row.get("error") and not row["matches"]:
            table.add_row(row["path"], "[red]error[/red]", row["error"]["reason"], *blank)
        if not row["matches"] and not row.get("error"):
            table.add_row(row["path"], "[green]no match[/green]", "", *blank)
        for m in row["matches"]:
            cat = m.get("category_label") or ("" if m["category"] is None else str(m["category"]))
            how = m["variant"]
            if "video" in m:
                v = m["video"]
                how = (
                    f"{v['query_match_percent']}% of query; known "
                    f"{v['known_range'][0]:.0f}-{v['known_range'][1]:.0f} s"
                )
            if "robust" in m:
                r = m["robust"]
                box = ",".join(f"{x:.2f}" for x in r["known_region"])
                how = f"score {r['score']:.2f}; known region {box}"
            table.add_row(
                row["path"],
                f"[bold red]{m['list']}[/bold red]",
                m["entry"],
                m["kind"],
                m["signal_type"],
                str(m["distance"]),
                how,
                cat,
            )
    out_console.print(table)


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

    Exit code 0: something matched; 1: nothing matched; 3: an input was bad.

    Examples: vigil match upload.jpg --list known;
    vigil match --signal pdq:9c73e398...16e4 --json
    """
    state: State = ctx.obj
    if not paths and not signal:
        raise UsageError("give files to match or --signal TYPE:VALUE")
    matcher = Matcher(state.store(), lists)
    rows: list[dict[str, Any]] = []
    for item in signal or []:
        type_name, sep, value = item.partition(":")
        if not sep:
            raise UsageError(f"--signal wants TYPE:VALUE, got {item!r}")
        rows.append(_match_row(matcher, item, matcher.match_value(type_name, value)))
    for path in expand_paths(paths or []):
        result = hash_file(path, variants=variants)
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
    bad = any(r.get("error") and r["error"]["type"] != "UnsupportedMedia" for r in rows)
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Scan a folder tree against the lists, on all cores.

    Every file gets a row in the JSON-lines report (match, no_match, or error with its reason,
    and its evidence: C2PA, generator metadata, watermarks, camera EXIF, with a summary);
    re-running with the same report resumes where it stopped. Exit code 7: some files failed.

    Example: vigil scan /evidence/case-17 --report case-17.jsonl
    """
    state: State = ctx.obj
    matcher = Matcher(state.store(), lists)
    report = report or Path("vigil-scan.jsonl")
    total = sum(1 for _ in iter_files(root))
    with progress(as_json) as bar:
        task = bar.add_task("scan", total=total)
        summary = scan(
            root,
            matcher,
            report,
            workers or os.cpu_count(),
            progress=lambda _r, _m: bar.advance(task),
            evidence=evidence,
        )
    if as_json:
        emit_json(summary.as_dict())
    else:
        table = Table("files", "matched", "unmatched", "errors", "resumed past", "report")
        d = summary.as_dict()
        table.add_row(
            *(
                str(d[k])
                for k in ("files", "matched", "unmatched", "errors", "resumed_past", "report")
            )
        )
        out_console.print(table)
        for name, count in summary.per_list.most_common():
            out_console.print(f"  list {name}: {count} files matched")
        for name, count in summary.origins.most_common():
            out_console.print(f"  evidence says {name}: {count} files")
        for name, count in summary.error_types.most_common():
            out_console.print(f"  [red]{name}[/red]: {count} files")
    if summary.errors:
        raise typer.Exit(ExitCode.PARTIAL)
