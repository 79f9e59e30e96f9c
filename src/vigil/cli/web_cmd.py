"""`vigil web`: Vigil's pages as files (docs/hashing.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from vigil.cli.context import emit_json, out_console

__all__ = ["app"]

app = typer.Typer(
    rich_markup_mode=None, help="Vigil's web pages as files: the hashing page for any static host."
)

# a copy has no server to send its headers: its policy travels in the page (frame-ancestors
# cannot; a static host should send that one)
META_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "worker-src blob:; connect-src {connect}; base-uri 'none'; form-action 'none'"
)


@app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(help="Where to write the page's files.")],
    submit_url: Annotated[
        str | None,
        typer.Option(
            help="Where it sends fingerprints (a Vigil's /v1/submissions); "
            "none: it sends nothing, and saves them as a file instead."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Write the hashing page as a self-contained folder of static files: it works from
    file:// (opened from a USB stick, with no network) or from any static host. Everything it
    needs is in the folder; it loads nothing from elsewhere.

    Example: vigil web export ./hash-page --submit-url https://hotline.example/v1/submissions
    """
    from vigil.errors import UsageError
    from vigil.web.submissions import HASH_PAGE

    if submit_url is not None:
        parts = urlsplit(submit_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise UsageError("--submit-url must be an http(s) URL, such as "
                             "https://hotline.example/v1/submissions")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for path in HASH_PAGE.iterdir():
        if path.is_file():
            shutil.copyfile(path, folder / path.name)
    config = {"submitUrl": submit_url}
    (folder / "config.js").write_text(
        f"// Written by `vigil web export`.\nwindow.VIGIL_CONFIG = {json.dumps(config)};\n"
    )
    connect = "'none'"
    if submit_url:
        parts = urlsplit(submit_url)
        connect = f"{parts.scheme}://{parts.netloc}"
    page = (folder / "index.html").read_text()
    meta = (
        f'<meta http-equiv="Content-Security-Policy" content="{META_CSP.format(connect=connect)}">'
    )
    (folder / "index.html").write_text(
        page.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n  {meta}', 1)
    )
    files = sorted(p.name for p in folder.iterdir())
    if as_json:
        emit_json({"folder": str(folder), "files": files, "submit_url": submit_url})
    else:
        out_console.print(f"wrote {len(files)} files to {folder}; open {folder / 'index.html'}")
