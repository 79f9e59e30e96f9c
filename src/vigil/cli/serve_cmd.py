"""`vigil serve` (the HTTP API) and `vigil keys` (its API keys)."""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.context import State, emit_json, out_console
from vigil.cli.workers import supervise

if TYPE_CHECKING:
    from vigil.service.reports import ReportSettings

__all__ = ["content_app", "keys_app", "serve_command"]

GRACE = 10  # seconds a stopping server waits for requests in flight

keys_app = typer.Typer(
    rich_markup_mode=None, help="API keys of the HTTP service (stored hashed; shown once)."
)
content_app = typer.Typer(
    rich_markup_mode=None, help="Uploads kept by list rules for review (sealed, expiring)."
)


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    fd: Annotated[
        int | None, typer.Option(help="Serve on this already-listening socket instead.")
    ] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted, in MiB.")] = 32,
    rate_limit: Annotated[
        float, typer.Option(help="Requests per second per API key (0: no limit).")
    ] = 0.0,
    webhook_backoff: Annotated[
        float, typer.Option(help="Seconds before a failed webhook is retried (doubling).")
    ] = 1.0,
    webhook_attempts: Annotated[
        int, typer.Option(help="Webhook attempts before a delivery becomes a dead letter.")
    ] = 8,
    workers: Annotated[
        int, typer.Option(help="Server processes sharing the port: one per core to use.")
    ] = 1,
    content_key_file: Annotated[
        Path | None,
        typer.Option(help="Key (64 hex digits) sealing content that list rules keep."),
    ] = None,
    hash_workers: Annotated[
        int | None,
        typer.Option(
            help="Sandboxed processes hashing uploads, per server process "
            "(default: cores / workers)."
        ),
    ] = None,
    cpu_budget: Annotated[
        float, typer.Option(help="CPU seconds one upload may cost before it is stopped.")
    ] = 2.0,
    uploads_per_key: Annotated[
        int, typer.Option(help="Uploads one API key may have in flight at once (0: any).")
    ] = 4,
    fetch_allow: Annotated[
        list[str] | None,
        typer.Option(
            help="A host HMA's ?url= routes may fetch from (with its subdomains; an IP address "
            "also allows that private address); repeat for more. None: fetching is off."
        ),
    ] = None,
    hma_key_header: Annotated[
        str, typer.Option(help="Header an HMA client's API key comes in (Bearer works too).")
    ] = "X-API-Key",
    sync_every: Annotated[
        float, typer.Option(help="Seconds between exchange syncs (0: only when asked).")
    ] = 60.0,
    sync_lease: Annotated[
        float,
        typer.Option(
            help="Seconds an instance holds an exchange without renewing it: "
            "when it dies mid-sync, another takes over after this."
        ),
    ] = 60.0,
    hma_open: Annotated[
        str | None,
        typer.Option(
            help="Let keyless HMA calls from loopback act with this role (match or curator); "
            "refused unless the server listens on loopback."
        ),
    ] = None,
    report_contact: Annotated[
        str, typer.Option(help="Reports the service makes: the platform's contact email.")
    ] = "",
    platform: Annotated[str, typer.Option(help="Reports the service makes: the platform.")] = "",
    triage_rules: Annotated[Path | None, typer.Option(help="Priority rules (TOML).")] = None,
    geoip: Annotated[
        Path | None, typer.Option(help="A MaxMind database for the reports' IP addresses.")
    ] = None,
    tipline_credentials_file: Annotated[
        Path | None,
        typer.Option(help="CyberTipline user:password: the queue is then sent on a schedule."),
    ] = None,
    tipline_environment: Annotated[
        str, typer.Option(help="The CyberTipline's test or production environment.")
    ] = "test",
    tipline_url: Annotated[
        str | None, typer.Option(help="The Reporting API's URL instead of an environment.")
    ] = None,
    tipline_every: Annotated[
        float, typer.Option(help="Seconds between sends of the CyberTipline queue.")
    ] = 300.0,
    review_user_header: Annotated[
        str | None,
        typer.Option(
            help="The review console trusts this header to name the person, from "
            "--review-proxy addresses only (a reverse proxy's sign-in)."
        ),
    ] = None,
    review_proxy: Annotated[
        list[str] | None, typer.Option(help="An address of that proxy (default: loopback).")
    ] = None,
    secure_cookie: Annotated[
        bool, typer.Option(help="Mark the review session cookie Secure (behind HTTPS).")
    ] = False,
    submissions_list: Annotated[
        str, typer.Option(help="The list survivors' submissions go into (/hash).")
    ] = "submissions",
    submissions_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Another origin whose copy of the hashing page may submit "
            "(vigil web export --submit-url); repeat for more."
        ),
    ] = None,
) -> None:
    """Serve the matching API over HTTP (OpenAPI at /openapi.json, interactive docs at /docs).

    Every /v1 route needs an API key: create the first with `vigil keys create NAME --role
    admin`. Listens on 127.0.0.1 unless told otherwise. With --workers N, N processes serve
    the port, each with its own listening socket (SO_REUSEPORT: the kernel spreads connections
    evenly; with --fd they share the one socket) and its own copy of the indexes (the rate
    limit is shared out between them); a worker that dies is replaced. Content is kept only
    where a list's action sets keep_days, sealed with the key in --content-key-file (default
    <home>/content.key, created on first use). Uploads are hashed in sandboxed processes, each
    file stopped past --cpu-budget seconds or 1 GiB; on SIGTERM the server stops accepting,
    finishes what is in flight (at most 10 s) and exits.

    HMA's routes (/m, /h, /c, /status) are served beside /v1 for HMA clients: they need a key
    too, in --hma-key-header, unless --hma-open lets loopback callers in without one.

    Example: vigil serve --host 0.0.0.0 --port 8080
    """
    import uvicorn
    from threadpoolctl import threadpool_limits

    from vigil.errors import UsageError
    from vigil.service import ServiceConfig, create_app
    from vigil.service.hma.fetch import FetchPolicy
    from vigil.web.people import PeopleConfig
    from vigil.web.submissions import SubmissionSettings

    _few_malloc_arenas()
    # requests run in parallel threads (and processes): a BLAS that also starts a thread per
    # core for each small matrix product spins them against each other (4x slower uploads)
    threadpool_limits(1)
    # a CPU-bound thread (the index follower) hands the interpreter to the event loop every
    # 0.5 ms instead of every 5 (no measurable change in bench.service either way)
    sys.setswitchinterval(0.0005)
    state: State = ctx.obj
    config_ = ServiceConfig(
        max_upload=max_upload_mb * 2**20,
        rate_limit=rate_limit / max(workers, 1),
        webhook_backoff=webhook_backoff,
        webhook_attempts=webhook_attempts,
        freeze_gc=True,
        content_key_file=content_key_file,
        hash_workers=hash_workers or max(1, (os.cpu_count() or 1) // max(workers, 1)),
        cpu_budget=cpu_budget,
        uploads_per_key=uploads_per_key,
        fetch=FetchPolicy(tuple(fetch_allow or ()), max_upload_mb * 2**20),
        hma_key_header=hma_key_header,
        hma_open_role=hma_open,
        sync_every=sync_every,
        sync_lease=sync_lease,
        people=PeopleConfig(
            review_user_header, tuple(review_proxy or ("127.0.0.1", "::1")), secure_cookie
        ),
        submissions=SubmissionSettings(submissions_list, origins=tuple(submissions_origin or ())),
        reports=_report_settings(
            report_contact,
            platform,
            triage_rules,
            geoip,
            tipline_credentials_file,
            tipline_url or _tipline_url(tipline_environment),
            tipline_every,
        ),
    )
    if hma_open is not None and hma_open not in ("match", "curator"):
        raise UsageError("--hma-open takes match or curator")
    own_sockets = fd is None and workers > 1 and hasattr(socket, "SO_REUSEPORT")
    if fd is not None:  # a socket handed over already listening (systemd, tests)
        sock = socket.socket(fileno=fd)
    elif own_sockets:  # the port, held (bound, not listening) for the workers' sockets
        sock = _reserve(host, port)
        port = sock.getsockname()[1]
    else:
        sock = socket.create_server((host, port), backlog=2048)
    if hma_open is not None and not _loopback(sock):
        raise UsageError("--hma-open needs the server to listen on loopback (--host 127.0.0.1)")
    store = state.store()  # opened (and migrated) once, before any worker starts

    def run() -> None:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(store, config_),
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=GRACE,
            )
        )
        # each worker listens on its own socket of one SO_REUSEPORT group, and the kernel
        # spreads connections over them evenly; on one shared socket the worker that wakes
        # first accepts a whole burst of connections and the other idles
        if own_sockets:
            server.run(sockets=[socket.create_server((host, port), backlog=2048, reuse_port=True)])
        else:
            server.run(sockets=[sock])

    if workers <= 1:
        run()
    else:
        store.engine.dispose()  # each worker opens its own connections
        supervise(workers, run)


def _tipline_url(environment: str) -> str:
    from vigil.errors import UsageError
    from vigil.triage.tipline import ENVIRONMENTS

    if environment not in ENVIRONMENTS:
        raise UsageError(f"--tipline-environment is one of {', '.join(ENVIRONMENTS)}")
    return ENVIRONMENTS[environment]


def _report_settings(
    contact: str, platform: str, rules: Path | None, geoip: Path | None,
    credentials: Path | None, url: str, every: float,
) -> ReportSettings:  # fmt: skip
    from vigil.service.reports import ReportSettings
    from vigil.triage.geo import Geo
    from vigil.triage.rules import load_rules

    if rules is not None:
        load_rules(rules)  # a bad rules file is refused at start, named
    if geoip is not None:
        Geo(geoip)
    return ReportSettings(contact, platform, rules, geoip, tipline_url=url if credentials else None,
                          tipline_credentials=credentials, tipline_every=every)  # fmt: skip


def _loopback(sock: socket.socket) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(sock.getsockname()[0]).is_loopback
    except (ValueError, OSError):
        return False


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` in an SO_REUSEPORT group but not listening, so that
    it takes no connections: it fixes the port (also when ``port`` is 0) for the workers."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own arena and keeps freed memory there, so a
    server whose worker threads decode uploads grows without bound; two arenas keep it flat."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    role: Annotated[str, typer.Option(help="match, curator or admin.")] = "match",
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Create an API key and print it (the only time it is shown).

    Example: vigil keys create upload-path --role match
    """
    from vigil.service import KeyStore

    state: State = ctx.obj
    keys = KeyStore(state.store())
    secret = keys.create(name, role)
    keys.audit("cli", "key.create", name, {"role": role})
    if as_json:
        emit_json({"name": name, "role": role, "key": secret})
    else:
        out_console.print(secret, highlight=False)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """List API keys (names and roles, never the keys).

    Example: vigil keys list --json
    """
    from vigil.service import KeyStore

    state: State = ctx.obj
    rows = KeyStore(state.store()).all()
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            out_console.print(f"{r['name']}\t{r['role']}\t{'revoked' if r['revoked'] else ''}")


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Revoke an API key: it stops working at once.

    Example: vigil keys revoke old-upload-path
    """
    from vigil.service import KeyStore

    state: State = ctx.obj
    keys = KeyStore(state.store())
    keys.revoke(name)
    keys.audit("cli", "key.revoke", name, {})
    if as_json:
        emit_json({"revoked": name})
    else:
        out_console.print(f"revoked {name}")


@content_app.command("purge")
def purge_content(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Delete kept uploads whose term has passed. A running service does this every minute;
    run it from cron where no service runs. Audited as `content.purge`.

    Example: vigil content purge
    """
    from vigil.service import KeyStore
    from vigil.service.locker import ContentLocker

    state: State = ctx.obj
    store = state.store()
    deleted = ContentLocker(store).purge()
    KeyStore(store).audit("cli", "content.purge", "", {"deleted": deleted})
    if as_json:
        emit_json({"deleted": deleted})
    else:
        out_console.print(f"deleted {deleted} expired upload(s)", highlight=False)
