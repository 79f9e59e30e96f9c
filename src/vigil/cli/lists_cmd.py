"""`vigil list ...`: create, add, import, export, show and delete lists."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil.cli.context import State, emit_json, err_console, out_console, progress
from vigil.cli.errors import ExitCode
from vigil.cli.hash_cmd import expand_paths
from vigil.cli.sandboxed import each_file, failed_hash
from vigil.errors import UnknownFormat, UsageError

if TYPE_CHECKING:
    from vigil.lists import ImportReport, Record, RowProblem

__all__ = ["app"]

app = typer.Typer(
    rich_markup_mode=None,
    help="Hash lists (HMA calls them banks): create, fill, import, export, delete.",
    no_args_is_help=True,
)
JSON = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _state(ctx: typer.Context) -> State:
    state: State = ctx.obj
    return state


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    description: Annotated[str, typer.Option(help="What the list holds.")] = "",
    pdq_threshold: Annotated[int | None, typer.Option(help="PDQ distance for this list.")] = None,
    negative: Annotated[
        bool, typer.Option(help="Hashes known to be benign: a match here suppresses the others.")
    ] = False,
    label: Annotated[
        list[str] | None, typer.Option(help="Category label, as NUMBER=TEXT (repeatable).")
    ] = None,
    as_json: JSON = False,
) -> None:
    """Create an empty list. A name is 1-100 letters, digits, '_', '-' or '.', starting with a
    letter or digit.

    Example: vigil list create known --pdq-threshold 31 --label 0=non-pertinent --label 1=alert
    """
    labels = {}
    for item in label or []:
        number, sep, text = item.partition("=")
        if not sep or not number.strip().isdigit():
            raise UsageError(f"--label wants NUMBER=TEXT, got {item!r}")
        labels[number.strip()] = text
    info = _state(ctx).store().create_list(name, description, pdq_threshold, labels, negative)
    if as_json:
        emit_json(info.as_dict())
    else:
        out_console.print(f"created list [bold]{name}[/bold]")


@app.command("rename")
def rename(ctx: typer.Context, name: str, new_name: str, as_json: JSON = False) -> None:
    """Rename a list. NAME may also be its reference ~ID (shown by `vigil list show`), which
    reaches any list, even one named before list names had rules.

    Example: vigil list rename ~3 hotline-2024
    """
    info = _state(ctx).store().rename_list(name, new_name)
    if as_json:
        emit_json(info.as_dict())
    else:
        out_console.print(f"renamed list {info.id} to [bold]{new_name}[/bold]", highlight=False)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to hash and add.")],
    category: Annotated[int | None, typer.Option(help="Category number.")] = None,
    series: Annotated[str | None, typer.Option(help="Series name.")] = None,
    victim_identified: Annotated[
        bool | None,
        typer.Option("--victim-identified/--victim-not-identified", help="Victim identified?"),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the entries come from.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag (repeatable).")] = None,
    as_json: JSON = False,
) -> None:
    """Hash files and add them to a list as entries (keyed by MD5).

    Example: vigil list add known ./reference-images --category 1 --tag demo
    """
    from vigil.lists import Entry, RowProblem
    from vigil.matching.hashing import hash_file

    store = _state(ctx).store()
    store.get_list(name)
    problems: list[RowProblem] = []

    files = expand_paths(paths)

    def records() -> Iterator[Record]:
        hashed = each_file(files, hash_file, lambda p: (str(p),), failed_hash)
        for path, r in bar.track(zip(files, hashed, strict=True), total=len(files)):
            sigs = [(s.type, s.value) for s in r.signals.values() if s.usable]
            if "md5" not in r.signals:
                problems.append(RowProblem(str(path), r.error or "unreadable"))
                continue
            yield Entry(
                f"md5:{r.signals['md5'].value}",
                sigs,
                category,
                series,
                victim_identified,
                source,
                tag or [],
                extra={"file_name": path.name},
            )

    with progress(as_json) as bar:
        report = store.apply(name, records(), source=f"{len(files)} files added to {name}")
    report.problems.extend(problems)
    _print_report(report, as_json)


def _read_records(fmt: str, file: Path, signal_type: str | None) -> Iterator[Record]:
    from vigil.lists import formats

    options = {"signal_type": signal_type} if signal_type else {}
    with file.open("rb") as fh:
        yield from formats.get(fmt).read(fh, str(file), **options)


@app.command("import")
def import_(
    ctx: typer.Context,
    name: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="List file.")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help=("vics, te-csv, te-lines, stopncii, ncmec, icse (default: detected)."),
        ),
    ] = None,
    signal_type: Annotated[
        str | None, typer.Option(help="Type of bare values in te-lines files.")
    ] = None,
    create: Annotated[bool, typer.Option(help="Create the list if it does not exist.")] = False,
    as_json: JSON = False,
) -> None:
    """Import a list file (VICS, ThreatExchange, StopNCII, NCMEC, ICSE).

    Bad rows are reported with their line and reason and the rest goes in; importing the same
    file again changes nothing; tombstones and withdrawn records remove entries.

    Example: vigil list import ncmec-feed entries.xml --create
    """
    from vigil.lists import detect, formats

    store = _state(ctx).store()
    with file.open("rb") as fh:
        fmt = fmt or detect(fh.read(4096))
    if fmt is None:
        raise UnknownFormat(f"cannot tell the format of {file}: give --format")
    formats.get(fmt)
    if create and name not in {i.name for i in store.all_lists()}:  # only once it can be read
        store.create_list(name)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        bar.add_task(f"importing {file} as {fmt}")
        report = store.apply(name, _read_records(fmt, file, signal_type), source=str(file))
    _print_report(report, as_json)


def _print_report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.as_dict())
    else:
        out_console.print(
            f"{report.source}: {report.rows} rows, {report.added} added, {report.updated} "
            f"updated, {report.unchanged} unchanged, {report.removed} removed, "
            f"{len(report.problems)} bad"
        )
        for p in report.problems[:20]:
            err_console.print(f"  [red]{p.where}[/red]: {p.reason}", highlight=False)
        if len(report.problems) > 20:
            err_console.print(f"  ... and {len(report.problems) - 20} more (use --json)")
    if report.problems:
        raise typer.Exit(ExitCode.PARTIAL)


@app.command("export")
def export(
    ctx: typer.Context,
    name: str,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="vics, te-csv, te-lines, stopncii, ncmec.")
    ] = "vics",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: standard output).")
    ] = None,
) -> None:
    """Write a list in one of the exchange formats.

    Example: vigil list export known --format te-csv -o known.csv
    """
    from vigil.lists import formats

    writer = formats.get(fmt)
    if not writer.can_write:
        raise UsageError(f"{fmt} is an import-only format")
    entries = _state(ctx).store().iter_entries(name)
    if output is None:
        result = writer.write(entries, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        tmp = output.with_name(output.name + ".partial")
        with tmp.open("wb") as fh:
            result = writer.write(entries, fh)
        tmp.replace(output)
    err_console.print(
        f"wrote {result.written} entries"
        + (f", skipped {len(result.skipped)} the format cannot hold" if result.skipped else "")
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A list (default: all lists).")] = None,
    limit: Annotated[int, typer.Option(help="Entries to show.")] = 20,
    as_json: JSON = False,
) -> None:
    """Show all lists, or one list with its first entries.

    Example: vigil list show known --limit 5
    """
    store = _state(ctx).store()
    if name is None:
        infos = store.all_lists()
        if as_json:
            emit_json([i.as_dict() for i in infos])
            return
        table = Table("list", "entries", "pdq threshold", "description")
        for i in infos:
            table.add_row(i.name, str(i.entries), str(i.pdq_threshold or 31), i.description)
        out_console.print(table)
        return
    info = store.get_list(name)
    shown = []
    for n, entry in enumerate(store.iter_entries(name)):
        if n >= limit:
            break
        shown.append(entry)
    if as_json:
        emit_json(info.as_dict() | {"entries_shown": [e.__dict__ for e in shown]})
        return
    out_console.print(f"[bold]{info.name}[/bold]: {info.entries} entries. {info.description}")
    table = Table("key", "category", "signals", "tags")
    for e in shown:
        table.add_row(
            e.key,
            "" if e.category is None else str(e.category),
            "\n".join(f"{t}:{v}" for t, v in e.signals),
            " ".join(e.tags),
        )
    out_console.print(table)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str,
    entry: Annotated[
        list[str] | None, typer.Option(help="Delete only this entry key (repeatable).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm deleting a whole list.")] = False,
    as_json: JSON = False,
) -> None:
    """Delete entries (by key) or a whole list; deleted entries stop matching at once.

    Example: vigil list delete known --entry md5:900150983cd24fb0d6963f7d28e17f72
    """
    store = _state(ctx).store()
    if entry:
        removed = store.remove_entries(name, entry)
    elif yes:
        removed = store.delete_list(name)
    else:
        raise UsageError(f"deleting the whole list {name!r} needs --yes")
    if as_json:
        emit_json({"list": name, "removed_entries": removed, "list_deleted": not entry})
    else:
        out_console.print(f"removed {removed} entries" + ("" if entry else f" and list {name}"))
