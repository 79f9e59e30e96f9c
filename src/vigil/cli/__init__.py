"""The `vigil` command line. Every command has --help with an example, and --json."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli import case_cmd, exchange_cmd, lists_cmd, report_cmd, reviewer_cmd, web_cmd
from vigil.cli.audit_cmd import audit_command
from vigil.cli.context import State, err_console
from vigil.cli.errors import ExitCode, exit_code_for
from vigil.cli.hash_cmd import hash_command
from vigil.cli.inspect_cmd import inspect_command
from vigil.cli.match_cmd import match_command, scan_command
from vigil.cli.serve_cmd import content_app, keys_app, serve_command
from vigil.errors import VigilError

__all__ = ["app", "main"]

app = typer.Typer(
    rich_markup_mode=None,
    name="vigil",
    help="Find known material and its altered copies by hash: hash files, keep lists, match; "
    "inspect what files say about how they were made.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    home: Annotated[
        Path | None, typer.Option(envvar="VIGIL_HOME", help="Data directory (default ~/.vigil).")
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            envvar="VIGIL_DATABASE_URL",
            help="Database URL (default SQLite in the data directory; "
            "postgresql+psycopg://... for PostgreSQL).",
        ),
    ] = None,
) -> None:
    ctx.obj = State(str(home) if home else None, db_url)


app.command("hash")(hash_command)
app.command("match")(match_command)
app.command("scan")(scan_command)
app.command("inspect")(inspect_command)
app.command("audit")(audit_command)
app.add_typer(lists_cmd.app, name="list")
app.add_typer(exchange_cmd.app, name="exchange")
app.add_typer(report_cmd.app, name="report")
app.add_typer(case_cmd.app, name="case")
app.add_typer(reviewer_cmd.app, name="reviewer")
app.add_typer(web_cmd.app, name="web")
app.command("serve")(serve_command)
app.add_typer(keys_app, name="keys")
app.add_typer(content_app, name="content")


def _reflow(text: str) -> str:
    """A docstring's paragraphs as single lines, for the terminal to wrap once (its hard line
    breaks, wrapped again at 80 columns, made every paragraph ragged)."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _reflow_all(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        fn = command.callback
        if fn is not None and fn.__doc__ and not getattr(fn, "_reflowed", False):
            fn.__doc__ = _reflow(fn.__doc__)
            fn._reflowed = True  # type: ignore[attr-defined]
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_all(group.typer_instance)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns Vigil's errors into messages and exit codes."""
    _reflow_all(app)
    try:
        app(args=argv, prog_name="vigil")
    except VigilError as exc:
        code = exit_code_for(exc)
        if "--json" in (argv if argv is not None else sys.argv):
            print(json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}}))
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(int(code))
    except Exception as exc:  # a bug, not "no match": its own exit code, with the trace
        import traceback

        traceback.print_exc()
        err_console.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {exc}", highlight=False
        )
        sys.exit(int(ExitCode.ERROR))
