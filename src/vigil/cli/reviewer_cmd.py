"""`vigil reviewer`: the people who use the review console (docs/review.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.context import State, emit_json, out_console

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, help="Review console accounts: add, list, disable.")


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The person's sign-in name.")],
    role: Annotated[str, typer.Option(help="reviewer, lead or auditor.")] = "reviewer",
    password_file: Annotated[
        Path | None, typer.Option(help="A file holding the password (else asked for).")
    ] = None,
    proxy_only: Annotated[
        bool, typer.Option(help="No password: signs in through the reverse proxy only.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Add a review account (a password of 12 characters or more, stored as scrypt).

    Example: vigil reviewer add alex --role lead --password-file /run/secrets/alex
    """
    from vigil.review.accounts import Accounts

    password = None
    if not proxy_only:
        if password_file is not None:
            password = password_file.read_text().strip()
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    state: State = ctx.obj
    Accounts(state.store()).add(name, role, password)
    if as_json:
        emit_json({"added": name, "role": role})
    else:
        out_console.print(f"added {name} ({role})")


@app.command("list")
def list_accounts(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """The review accounts: names, roles, whether disabled.

    Example: vigil reviewer list
    """
    from vigil.review.accounts import Accounts

    rows = Accounts(ctx.obj.store()).all()
    if as_json:
        emit_json({"accounts": rows})
        return
    for r in rows:
        flags = ", ".join(x for x in ("disabled" if r["disabled"] else "",
                                      "" if r["password"] else "proxy only") if x)  # fmt: skip
        out_console.print(f"{r['name']}  {r['role']}{'  (' + flags + ')' if flags else ''}")


@app.command("disable")
def disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Disable an account and end its sessions (its decisions stay, audited).

    Example: vigil reviewer disable alex
    """
    from vigil.review.accounts import Accounts

    Accounts(ctx.obj.store()).disable(name)
    if as_json:
        emit_json({"disabled": name})
    else:
        out_console.print(f"disabled {name}")
