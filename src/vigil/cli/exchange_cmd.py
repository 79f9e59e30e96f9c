"""`vigil exchange`: lists that keep themselves current from an upstream exchange."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from vigil.cli.context import State, emit_json, out_console

__all__ = ["app"]

app = typer.Typer(
    rich_markup_mode=None, help="Exchanges: lists kept current from NCMEC hash sharing and others."
)


def _settings(pairs: list[str]) -> dict[str, Any]:
    from vigil.errors import UsageError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)  # numbers and lists as JSON: start=0, members=[42]
        except ValueError:
            out[key] = value
    return out


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    kind: Annotated[str, typer.Option(help="The exchange's kind (ncmec).")],
    list_name: Annotated[str, typer.Option("--list", help="The list it keeps current.")],
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A setting, KEY=VALUE (repeat). Credentials: name a file or "
            "variable, e.g. credentials_file=/etc/vigil/ncmec (user:password).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Add an exchange that keeps a list current (no secret is stored: the credentials file or
    variable is read at each sync).

    Example: vigil exchange add ncmec --kind ncmec --list ncmec --set credentials_file=ncmec.txt
    """
    from vigil.exchanges import ExchangeConfig, ExchangeStore

    state: State = ctx.obj
    cfg = ExchangeStore(state.store()).add(
        ExchangeConfig(name, kind, list_name, _settings(setting or []))
    )
    if as_json:
        emit_json({"name": cfg.name, "kind": cfg.kind, "list": cfg.list_name})
    else:
        out_console.print(f"added exchange {cfg.name} ({cfg.kind}) for list {cfg.list_name}")


@app.command("list")
def list_exchanges(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """List the exchanges, their lists and the state of their last sync.

    Example: vigil exchange list --json
    """
    from vigil.exchanges import ExchangeStore

    state: State = ctx.obj
    rows = ExchangeStore(state.store()).all()
    if as_json:
        emit_json([{"name": c.name, "kind": c.kind, "list": c.list_name, "status": c.status}
                   for c in rows])  # fmt: skip
        return
    for c in rows:
        out_console.print(f"{c.name}\t{c.kind}\t{c.list_name}\t{c.status.get('state', 'new')}")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Show an exchange's settings, checkpoint and last sync.

    Example: vigil exchange show ncmec --json
    """
    from vigil.exchanges import ExchangeStore

    state: State = ctx.obj
    c = ExchangeStore(state.store()).get(name)
    shown = {"name": c.name, "kind": c.kind, "list": c.list_name, "settings": c.settings,
             "checkpoint": c.checkpoint, "status": c.status}  # fmt: skip
    if as_json:
        emit_json(shown)
        return
    for key, value in shown.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out_console.print(f"{key}: {text}", highlight=False, markup=False, soft_wrap=True)


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """One line per exchange: its state, when it last finished, what it did.

    Example: vigil exchange status
    """
    from vigil.exchanges import ExchangeStore

    state: State = ctx.obj
    rows = ExchangeStore(state.store()).all()
    if as_json:
        emit_json({c.name: c.status for c in rows})
        return
    for c in rows:
        s = c.status
        out_console.print(f"{c.name}: {s.get('state', 'never synced')}, finished "
                          f"{s.get('synced_at') or '-'}; fetched {s.get('fetched', 0)}, added "
                          f"{s.get('added', 0)}, removed {s.get('removed', 0)}"
                          + (f"; {s['error']}" if s.get("error") else ""))  # fmt: skip


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Fetch an exchange until it is caught up. Resumes from the last checkpoint; exits 8 when
    the exchange keeps failing or another fetcher holds it.

    Example: vigil exchange sync ncmec
    """
    from vigil.exchanges import sync

    state: State = ctx.obj
    done = sync(state.store(), name)
    if as_json:
        emit_json(done)
    else:
        out_console.print(f"{name}: fetched {done['fetched']}, added {done['added']}, updated "
                          f"{done['updated']}, removed {done['removed']}, problems "
                          f"{done['problems']}")  # fmt: skip


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Remove an exchange (its list and entries stay).

    Example: vigil exchange remove partner
    """
    from vigil.exchanges import ExchangeStore

    state: State = ctx.obj
    ExchangeStore(state.store()).remove(name)
    if as_json:
        emit_json({"removed": name})
    else:
        out_console.print(f"removed exchange {name}")


@app.command("feedback")
def feedback_command(
    ctx: typer.Context,
    name: str,
    signal: Annotated[str, typer.Argument(help="TYPE:VALUE of the upstream hash.")],
    false_positive: Annotated[
        bool, typer.Option("--false-positive/--true-positive", help="The verdict.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (sent as the exchange takes it).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Tell the exchange what a hash it sent turned out to be (StopNCII: SubmitFeedback;
    NCMEC: a vote, --reason naming one of its reasons; ThreatExchange: a reaction).

    Example: vigil exchange feedback stopncii pdq:9c73e3... --false-positive --reason benign
    """
    from vigil.errors import UsageError
    from vigil.exchanges import Feedback, feedback

    kind, sep, value = signal.partition(":")
    if not sep or not value:
        raise UsageError(f"give the hash as TYPE:VALUE, got {signal!r}")
    state: State = ctx.obj
    sent = feedback(state.store(), name, [Feedback(kind, value, not false_positive, reason)])
    if as_json:
        emit_json({"sent": sent})
    else:
        out_console.print(f"{name}: sent {sent} feedback")


@app.command("share")
def share_command(
    ctx: typer.Context,
    name: str,
    list_name: Annotated[str, typer.Option("--list", help="The local list to send.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Send a local list's hashes to an exchange (StopNCII: SubmitHashes; ThreatExchange:
    descriptors in the privacy group). Entries the exchange sent are not sent back.

    Example: vigil exchange share stopncii --list confirmed
    """
    from vigil.exchanges import share

    state: State = ctx.obj
    sent = share(state.store(), name, list_name)
    if as_json:
        emit_json({"sent": sent})
    else:
        out_console.print(f"{name}: sent {sent} hashes from {list_name}")


@app.command("quarantine")
def quarantine_command(
    ctx: typer.Context,
    release: Annotated[
        str | None, typer.Option(help="LIST:KEY of an entry to release (never held again).")
    ] = None,
    released: Annotated[bool, typer.Option("--released", help="Also those released.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """The exchange entries quarantined as floods (each matched more than its exchange's
    flood_rate of uploads: answered, never actioned), or release one.

    Example: vigil exchange quarantine --release ncmec:ncmec:42:1001
    """
    from vigil.errors import UsageError
    from vigil.exchanges.flood import Quarantine

    state: State = ctx.obj
    table = Quarantine(state.store())
    if release is not None:
        list_name, sep, key = release.partition(":")
        if not sep or not key:
            raise UsageError(f"give the entry as LIST:KEY, got {release!r}")
        table.release(list_name, key, "cli")
        out_console.print(f"released {list_name}:{key}")
        return
    rows = [q.as_dict() for q in table.all(released)]
    if as_json:
        emit_json({"quarantine": rows})
        return
    for q in rows:
        out_console.print(
            f"{q['list']}:{q['entry']}\n  since {q['since']}: {q['reason']}"
            + (f"\n  released by {q['released_by']}" if q["released_by"] else "")
        )
    if not rows:
        out_console.print("nothing is quarantined")
