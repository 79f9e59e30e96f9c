"""`vigil inspect`: what files say about how they were made (camera, editor, AI generator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vigil.cli.context import State, emit_json, out_console
from vigil.cli.errors import ExitCode
from vigil.cli.hash_cmd import expand_paths
from vigil.cli.sandboxed import each_file, failed_report

if TYPE_CHECKING:
    from vigil.evidence import Report

__all__ = ["inspect_command"]


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print(report: Report, matches: list[dict[str, Any]]) -> None:
    s = report.summary
    out_console.print(
        f"[bold]{report.source}[/bold]: {s.label} ({s.strength})", highlight=False, markup=True
    )
    for conflict in s.conflicts:
        out_console.print(f"  [yellow]conflict:[/yellow] {conflict}", highlight=False)
    if report.items:
        table = Table("claim", "strength", "value", "source", show_lines=False)
        for e in report.items:
            table.add_row(e.claim, e.strength, _short(e.value), _short(e.source, 50))
        out_console.print(table)
    for m in matches:
        out_console.print(
            f"  [red]listed:[/red] {m['variant']} {m['signal_type']}:{m['value']} "
            f"in list {m['list']} (entry {m['entry']})",
            highlight=False,
        )


def inspect_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    match: Annotated[
        bool, typer.Option("--match", help="Check model and LoRA hashes against the lists.")
    ] = False,
    trust_anchors: Annotated[
        Path | None, typer.Option(help="PEM file of C2PA trust anchors (else: not 'trusted').")
    ] = None,
    detector: Annotated[
        Path | None, typer.Option(help="ONNX synthetic-image detector (with its .json).")
    ] = None,
    extractor: Annotated[
        list[str] | None, typer.Option(help="Run only this extractor (repeatable).")
    ] = None,
) -> None:
    """Read the evidence in images and model files: C2PA, XMP source type, generator settings,
    SD watermarks, camera EXIF; for .safetensors/.ckpt files their hashes and header.

    Evidence is reported with where it was found and how far it can be trusted, plus a summary
    (ai_generated, ai_edited, edited, camera_original or unknown) and any conflicts: a summary
    of claims, not a verdict. Exit code 7: some files could not be inspected at all (each has
    an error item saying why).

    Example: vigil inspect suspect.png lora.safetensors --json
    """
    from vigil.evidence import EvidenceConfig, inspect_file
    from vigil.matching.match import Matcher

    config = EvidenceConfig(trust_anchors, detector, None, tuple(extractor) if extractor else None)
    matcher = Matcher((ctx.obj or State()).store()) if match else None
    files = expand_paths(paths)
    reports = each_file(files, inspect_file, lambda p: (str(p), config), failed_report)
    unreadable = 0
    for report in reports:
        unreadable += report.unreadable
        found = matcher.match_evidence(report.items) if matcher else []
        matches = [m.as_dict() | {"value": m.value} for m in found]
        if as_json:
            emit_json(report.as_dict() | {"matches": matches})
        else:
            _print(report, matches)
    if unreadable:
        raise typer.Exit(ExitCode.PARTIAL)
