"""`vigil report`: CyberTipline reports from JSON files (docs/triage.md): check them, write
their XML, queue them and send the queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.context import State, emit_json, err_console, out_console
from vigil.cli.errors import ExitCode

if TYPE_CHECKING:
    from vigil.triage import Report

__all__ = ["app"]

app = typer.Typer(help="CyberTipline reports: check, write as XML, queue and send.")


def _items(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, JSON value) for a file holding one report, an array of them, or JSON lines."""
    from vigil.errors import InputError, UnreadableFile

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(str(path), str(exc)) from None
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, list):
        yield from ((f"{path}[{n}]", item) for n, item in enumerate(whole))
    elif whole is not None:
        yield str(path), whole
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield f"{path}:{n}", json.loads(line)
                except ValueError as exc:
                    yield f"{path}:{n}", InputError(f"{path}:{n}", f"not JSON: {exc}")


def _reports(paths: list[Path]) -> Iterator[tuple[str, Report | Exception]]:
    from vigil.errors import InputError
    from vigil.triage import report_from_dict

    for path in paths:
        for where, item in _items(path):
            try:
                yield where, item if isinstance(item, Exception) else report_from_dict(item, where)
            except InputError as exc:
                yield where, exc


@app.command("check")
def check(
    paths: Annotated[list[Path], typer.Argument(help="JSON files of reports.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Read reports strictly: each one ok, or its error naming the field (exit 7 if any).

    Example: vigil report check reports.jsonl
    """
    rows = [{"report": w, "ok": not isinstance(r, Exception),
             **({"error": str(r)} if isinstance(r, Exception) else {})}
            for w, r in _reports(paths)]  # fmt: skip
    if as_json:
        emit_json({"reports": rows})
    for row in rows if not as_json else []:
        (out_console if row["ok"] else err_console).print(
            f"{row['report']}: ok" if row["ok"] else f"error: {row['error']}", soft_wrap=True
        )
    if not all(r["ok"] for r in rows):
        raise typer.Exit(ExitCode.PARTIAL)


@app.command("xml")
def xml(
    path: Annotated[Path, typer.Argument(help="A JSON file of one report.")],
    as_json: Annotated[bool, typer.Option("--json", help='JSON output: {"xml": ...}.')] = False,
) -> None:
    """Print a report's CyberTipline XML (what /submit takes), in the schema's order.

    Example: vigil report xml report.json > report.xml
    """
    from vigil.errors import UsageError
    from vigil.triage import report_xml

    got = list(_reports([path]))
    if len(got) != 1:
        raise UsageError(f"{path} holds {len(got)} reports: give a file of one")
    report = got[0][1]
    if isinstance(report, Exception):
        raise report
    text = report_xml(report).decode()
    if as_json:
        emit_json({"xml": text})
    else:
        typer.echo(text)


@app.command("queue")
def queue(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="JSON files of reports.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Queue reports for the CyberTipline (each checked first; none queued if one is bad).

    Example: vigil report queue reports.jsonl
    """
    from vigil.triage.queue import TiplineQueue

    got = list(_reports(paths))
    if bad := next((r for _, r in got if isinstance(r, Exception)), None):
        raise bad
    state: State = ctx.obj
    q = TiplineQueue(state.store())
    ids = [q.add(r) for _, r in got if not isinstance(r, Exception)]
    if as_json:
        emit_json({"queued": ids})
    else:
        out_console.print(f"queued {len(ids)} reports: {', '.join(map(str, ids))}")


@app.command("send")
def send(
    ctx: typer.Context,
    credentials_file: Annotated[Path, typer.Option(help="A file holding user:password.")],
    environment: Annotated[str, typer.Option(help="test or production.")] = "test",
    base_url: Annotated[str | None, typer.Option(help="The API's URL instead.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Send the queued reports that are due (hashes only: content is not kept by default).

    Example: vigil report send --credentials-file /etc/vigil/cybertip --environment test
    """
    from vigil.errors import UsageError
    from vigil.exchanges.base import secret
    from vigil.triage.queue import TiplineQueue
    from vigil.triage.tipline import ENVIRONMENTS, TiplineClient

    if base_url is None and environment not in ENVIRONMENTS:
        raise UsageError(f"--environment is one of {', '.join(ENVIRONMENTS)}")
    user, sep, password = secret({"credentials_file": str(credentials_file)}).partition(":")
    if not sep:
        raise UsageError("the credentials file must hold user:password")
    client = TiplineClient(base_url or ENVIRONMENTS[environment], user, password)
    state: State = ctx.obj
    try:
        counts = TiplineQueue(state.store()).send_due(client, lambda _report: {})
    finally:
        client.close()
    if as_json:
        emit_json(counts)
    else:
        out_console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none due")


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="JSON files of reports.")],
    rules: Annotated[Path | None, typer.Option(help="Priority rules (TOML).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Take reports in: each file matched and clustered, each report given its priority and
    reasons. A report taken in before is skipped (an ingest run again resumes); a bad one is
    named with its error and the others go on (exit 7).

    Example: vigil report ingest reports.jsonl --rules rules.toml
    """
    from vigil.triage.cases import Triage
    from vigil.triage.rules import load_rules

    state: State = ctx.obj
    triage = Triage(state.store(), load_rules(rules) if rules else None)
    failed = 0
    for where, report in _reports(paths):
        if isinstance(report, Exception):
            failed += 1
            err_console.print(f"error: {report}", soft_wrap=True)
            continue
        done = triage.ingest(report, where)
        if as_json:
            typer.echo(json.dumps({"report": where, **done.as_dict()}))
            continue
        seen = " (taken in before)" if done.duplicate else ""
        out_console.print(f"{where}: report {done.id}, P{done.priority}{seen}", soft_wrap=True)
        for reason in done.reasons:
            out_console.print(f"  {reason}", soft_wrap=True)
    if failed:
        raise typer.Exit(ExitCode.PARTIAL)
