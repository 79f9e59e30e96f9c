"""`vigil audit`: check a training dataset against the lists (docs/audit.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from vigil.cli.context import State, emit_json, err_console, out_console

__all__ = ["audit_command"]


def audit_command(
    ctx: typer.Context,
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A folder of images, of .tar shards or of .parquet files, or one such file."
        ),
    ],
    lists: Annotated[list[str], typer.Option("--list", help="A list to match (repeat).")],
    out: Annotated[
        Path, typer.Option(help="Where the results go (a folder; re-run to resume).")
    ] = Path("audit"),
    workers: Annotated[int | None, typer.Option(help="Processes hashing (default: cores).")] = None,
    robust: Annotated[bool, typer.Option(help="Also the robust signal (altered copies).")] = True,
    evidence: Annotated[bool, typer.Option(help="Also each image's evidence label.")] = True,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run on a Ray started on this machine.")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Run on this Ray cluster (its address: HOST:PORT).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Audit a dataset: every sample hashed and matched against the lists, shard by shard
    (a shard's results are written whole, so a run killed and started again redoes only the
    unfinished shards); then the removal list (removal.csv, removal.parquet), the hits'
    neighbours to review, results.parquet and report.html. Parquet of metadata only is
    matched by its MD5/SHA-256 columns, with nothing downloaded. A sample that cannot be read
    is a row with its error; the exit code is then 7.

    With --ray (a Ray on this machine) or --ray-address (a cluster), shards are spread over
    the cluster's CPUs; --out must then be a folder every node sees.

    Example: vigil audit ./shards --list ncmec --list iwf --out audit-2026-12
    """
    from vigil.audit import Run, finish, shards_of
    from vigil.cli.errors import ExitCode
    from vigil.matching.match import Matcher

    state: State = ctx.obj
    shards = shards_of(dataset)
    store = state.store()
    matcher = Matcher(store, lists)  # the lists are checked here, before any shard
    if ray or ray_address:
        from vigil.audit.ray_engine import audit_with_ray

        progress = audit_with_ray(shards, str(store.home), state.db_url, lists, out.resolve(),
                                  ray_address, workers, robust, evidence)  # fmt: skip
    else:
        run = Run(matcher, out, workers, robust, evidence)
        with _progress(shards, as_json) as tick:
            run.on_row = tick
            progress = run.shards(shards)
    summary = finish(out)
    summary |= {
        "shards": len(shards),
        "shards_skipped": progress.shards_skipped,
        "samples_this_run": progress.samples,
        "rate": round(progress.rate(), 1),
    }
    if as_json:
        emit_json(summary)
    else:
        counts = ", ".join(f"{n:,} {k}" for k, n in sorted(summary["counts"].items()))
        out_console.print(f"{len(shards)} shard(s) ({progress.shards_skipped} done before): "
                          f"{counts}; {summary['neighbours']:,} neighbour(s) to review; "
                          f"see {out / 'report.html'}", soft_wrap=True)  # fmt: skip
    if summary["counts"].get("error"):
        err_console.print(f"{summary['counts']['error']:,} sample(s) could not be read: "
                          "their rows say why (results.parquet)")  # fmt: skip
        raise typer.Exit(ExitCode.PARTIAL)


@contextmanager
def _progress(shards: list[Any], quiet: bool) -> Iterator[Callable[[object], None]]:
    """A progress bar of samples with their rate, and the time left where the shards say how
    many samples they hold (folders and parquet do; tars do not)."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from vigil.cli.context import err_console

    hints = [s.size_hint() for s in shards]
    total = sum(h for h in hints if h is not None) if None not in hints else None
    columns = (
        BarColumn(),
        TextColumn("{task.completed:,} samples"),
        TextColumn("{task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True,
                  disable=quiet or not err_console.is_terminal) as bar:  # fmt: skip
        task = bar.add_task("audit", total=total, rate="-")

        def tick(_row: object) -> None:
            bar.advance(task)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:,.0f}" if speed else "-")

        yield tick
