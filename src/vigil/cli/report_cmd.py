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

app = typer.Typer(
    rich_markup_mode=None, help="CyberTipline reports: check, write as XML, queue and send."
)


def _reports(paths: list[Path]) -> Iterator[tuple[str, Report | Exception]]:
    from vigil.triage.sources import json_items, report_files

    for path in report_files(paths):
        for where, item in json_items(path):
            yield where, _one(item, where)


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


def _scan_base(reporter: str | None, incident_type: str, platform: str, user: str | None,
               path: Path) -> dict[str, Any]:  # fmt: skip
    """The report fields of a scan report's files, from the options. The incident's time is
    the scan report's (when it was last written): the same scan ingested again is the same
    report, skipped."""
    from datetime import UTC, datetime

    from vigil.errors import UsageError

    if not reporter:
        raise UsageError(f"{path} is a vigil scan report: give --reporter EMAIL for its reports")
    at = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    base: dict[str, Any] = {
        "incident_type": incident_type,
        "reporter": {"email": reporter},
        "incident_at": at,
        "platform": platform,
    }
    if user:
        base["users"] = [{"esp_id": user}]
    return base  # fmt: skip


def _taken(where: str, done: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"report": where, **done.as_dict()}))
        return
    seen = " (taken in before)" if done.duplicate else ""
    out_console.print(f"{where}: report {done.id}, case {done.case}, P{done.priority}{seen}",
                      soft_wrap=True)  # fmt: skip
    for reason in done.reasons:
        out_console.print(f"  {reason}", soft_wrap=True)


def _failed(exc: Exception, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}}))
    err_console.print(f"error: {exc}", soft_wrap=True)


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(help="JSON files of reports, folders of them, or vigil scan reports."),
    ],
    rules: Annotated[Path | None, typer.Option(help="Priority rules (TOML).")] = None,
    geoip: Annotated[
        Path | None,
        typer.Option(
            help="A MaxMind database for IP addresses (default: the data geoip2fast ships)."
        ),
    ] = None,
    reporter: Annotated[
        str | None, typer.Option(help="Scan reports: the reporter's email.")
    ] = None,
    incident_type: Annotated[str, typer.Option(help="Scan reports: the incident type.")] = "csam",
    platform: Annotated[str, typer.Option(help="Scan reports: the platform.")] = "",
    user: Annotated[str | None, typer.Option(help="Scan reports: the user's id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Take reports in: each file matched and clustered, each report given its geolocation
    hints, priority and reasons, and filed in its reported user's case. A report taken in
    before is skipped (an ingest run again resumes); a bad one is named with its error and
    the others go on (exit 7). The rows of a vigil scan report become reports of their files
    (1,000 a report), with --reporter.

    Example: vigil report ingest reports.jsonl --rules rules.toml
    """
    from vigil.triage.cases import Triage
    from vigil.triage.geo import Geo
    from vigil.triage.rules import load_rules
    from vigil.triage.sources import is_scan_row, json_items, report_files, scan_reports

    state: State = ctx.obj
    triage = Triage(state.store(), load_rules(rules) if rules else None, Geo(geoip))
    failed = 0
    for path in report_files(paths):
        scanned: list[tuple[str, Any]] = []
        for where, item in json_items(path):
            if is_scan_row(item):
                scanned.append((where, item))
                continue
            got = _one(item, where)
            if isinstance(got, Exception):
                failed += 1
                _failed(got, as_json)
            else:
                _taken(where, triage.ingest(got, where), as_json)
        if scanned:
            base = _scan_base(reporter, incident_type, platform, user, path)
            reports, errors = scan_reports(scanned, base, str(path))
            for exc in errors:
                _failed(exc, as_json)
            failed += len(errors)
            for n, report in enumerate(reports, 1):
                _taken(f"{path} part {n}", triage.ingest(report, str(path)), as_json)
    if failed:
        raise typer.Exit(ExitCode.PARTIAL)


def _one(item: Any, where: str) -> Report | Exception:
    from vigil.errors import InputError
    from vigil.triage import report_from_dict

    if isinstance(item, Exception):
        return item
    try:
        return report_from_dict(item, where)
    except InputError as exc:
        return exc
