"""`vigil case`: the cases triage made (docs/triage.md): the queue, one case, its exports
(VICS, CSV, JSON), its CyberTipline report queued, and the cases of a known series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from vigil.cli.context import State, emit_json, err_console, out_console

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, help="Triage cases: the queue, one case, exports, filing.")
FORMATS = ("vics", "csv", "json")


@app.command("list")
def list_cases(
    ctx: typer.Context,
    priority: Annotated[int | None, typer.Option(help="Only this priority.")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="Only this country (ISO).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """The queue of cases, most urgent first.

    Example: vigil case list --priority 1
    """
    from vigil.triage.views import queue

    state: State = ctx.obj
    rows = queue(state.store(), limit, offset, priority, jurisdiction)
    if as_json:
        emit_json({"cases": rows})
        return
    out_console.print(f"{'case':>7}  P  {'reports':>7} {'files':>7}  where  user")
    for r in rows:
        out_console.print(f"{r['id']:>7}  {r['priority']}  {r['reports']:>7} {r['files']:>7}  "
                          f"{r['jurisdiction'] or '--':<5}  {r['user'] or '(none)'}",
                          soft_wrap=True, highlight=False)  # fmt: skip


def _show(view: dict[str, Any]) -> None:
    say = out_console.print
    say(f"case {view['id']}: P{view['priority']}, {view['reports']} report(s), {view['files']} "
        f"file(s), user {view['user'] or '(none)'}", soft_wrap=True, highlight=False)  # fmt: skip
    for reason in view["reasons"]:
        say(f"  {reason}", soft_wrap=True, highlight=False)
    geo = view["geolocation"]
    say(f"jurisdiction suggested: {geo['jurisdiction'] or 'none'}", highlight=False)
    for h in geo["hints"]:
        place = ", ".join(x for x in (h.get("city"), h.get("country")) if x) or "no place"
        say(f"  {place}: {h['kind']}, {h['source']}, {h['confidence']}", soft_wrap=True,
            highlight=False)  # fmt: skip
    for conflict in geo["conflicts"]:
        say(f"  conflict: {conflict}", soft_wrap=True, highlight=False)
    for f in view["file_list"]:
        found = ", ".join(f"{m['list']}:{m['entry']} ({m['kind']})" for m in f["matches"])
        say(f"report {f['report']} {f['name']}: cluster {f['cluster']} ({f['how']})"
            f"{'; ' + found if found else ''}", soft_wrap=True, highlight=False)  # fmt: skip
    if view["files_listed"] < view["files"]:
        say(f"({view['files_listed']} of {view['files']} files listed: --limit)")


@app.command("show")
def show(
    ctx: typer.Context,
    case: Annotated[int, typer.Argument(help="The case's id.")],
    limit: Annotated[int, typer.Option(help="List at most this many files.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """One case: its priority with reasons, geolocation hints, reports, files and clusters.

    Example: vigil case show 12
    """
    from vigil.triage.views import case_view

    state: State = ctx.obj
    view = case_view(state.store(), case, limit)
    if as_json:
        emit_json(view)
    else:
        _show(view)


@app.command("export")
def export(
    ctx: typer.Context,
    case: Annotated[int, typer.Argument(help="The case's id.")],
    fmt: Annotated[str, typer.Option("--format", help="vics, csv or json.")] = "vics",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
) -> None:
    """Write a case as a VICS 2.0 case file (Griffeye, IPED), CSV (a row per file) or JSON.
    Files with no MD5 cannot be VICS media: how many were left out is said.

    Example: vigil case export 12 --format vics -o case-12.json
    """
    from vigil.errors import UsageError
    from vigil.triage.exports import case_csv, case_vics
    from vigil.triage.views import case_view

    if fmt not in FORMATS:
        raise UsageError(f"--format is one of {', '.join(FORMATS)}")
    store = ctx.obj.store()
    if fmt == "vics":
        doc, skipped = case_vics(store, case)
        text = json.dumps(doc, indent=1)
        if skipped:
            err_console.print(f"{skipped} file(s) with no MD5 left out (MD5 is VICS's key)")
    elif fmt == "csv":
        text = case_csv(store, case)
    else:
        text = json.dumps(case_view(store, case, limit=1_000_000), indent=1)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text)


@app.command("file")
def file_case(
    ctx: typer.Context,
    case: Annotated[int, typer.Argument(help="The case's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Queue the case's CyberTipline report: one for its reported user, bundling the files
    of all their reports (one per 1,000 files). `vigil report send` sends the queue.

    Example: vigil case file 12
    """
    from vigil.triage.bundle import case_reports
    from vigil.triage.queue import TiplineQueue

    store = ctx.obj.store()
    queue = TiplineQueue(store)
    ids = [queue.add(r) for r in case_reports(store, case)]
    if as_json:
        emit_json({"case": case, "queued": ids})
    else:
        out_console.print(f"case {case}: queued CyberTipline report(s) {', '.join(map(str, ids))}")


@app.command("series")
def series(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The series, as lists name it.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """The reported images of a known series, and the cases that hold them.

    Example: vigil case series S-1234
    """
    from vigil.triage.views import series_view

    view = series_view(ctx.obj.store(), name)
    if as_json:
        emit_json(view)
        return
    out_console.print(f"series {name}: {len(view['clusters'])} image(s) in case(s) "
                      f"{', '.join(map(str, view['cases']))}", soft_wrap=True)  # fmt: skip
    for c in view["clusters"]:
        out_console.print(f"  cluster {c['id']}: {c['files']} file(s) in {c['reports']} report(s)")
