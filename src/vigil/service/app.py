"""`vigil serve`: the HTTP matching API (FastAPI on uvicorn). Routes are versioned under /v1;
/healthz, /readyz and /metrics are not. Every /v1 route needs an API key (``Authorization:
Bearer vgl_...`` or ``X-API-Key``) whose role allows it; uploads are read into memory up to
``max_upload`` bytes and never stored, unless a matched list's rule keeps them for review
(sealed, expiring, audited: :mod:`vigil.service.locker`). Matching goes through the same
:class:`Matcher` as the CLI, which brings each index up to date before a lookup, so a list
change is matchable as soon as its request returns, with no rebuild."""

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vigil.errors import UsageError
from vigil.exchanges.flood import FloodGuard
from vigil.matching.hashing import HashResult, applicable_types, hash_bytes
from vigil.matching.match import Matcher
from vigil.media import Limits
from vigil.sandbox import Budget, Sandbox
from vigil.service.actions import Actions
from vigil.service.answers import HttpError, install_error_handlers
from vigil.service.cache import CachedStore
from vigil.service.content_routes import content_routes
from vigil.service.exchange_routes import exchange_routes
from vigil.service.fair import Busy, FairSlots
from vigil.service.follower import Follower
from vigil.service.hma import hma_routes
from vigil.service.hma.fetch import FetchPolicy
from vigil.service.importer import sweep_work_folders
from vigil.service.keys import ApiKey, KeyStore
from vigil.service.limits import RateLimiter
from vigil.service.lists_routes import SignalIn, list_routes
from vigil.service.locker import ContentLocker
from vigil.service.measure import Measure, Metrics
from vigil.service.params import Limit
from vigil.service.report_routes import report_routes
from vigil.service.reports import ReportDesk, ReportSettings
from vigil.service.schemas import (
    UPLOAD_BODY,
    AuditOut,
    BatchOut,
    DeliveriesOut,
    HashOut,
    KeyMade,
    KeysOut,
    MatchOut,
    RevokedOut,
    doc,
)
from vigil.service.syncer import Syncer
from vigil.service.uploads import Upload, read_upload
from vigil.signals import registry
from vigil.store import Store
from vigil.web.people import PeopleConfig
from vigil.web.submissions import SubmissionSettings

__all__ = ["ServiceConfig", "create_app"]

TOO_MANY_FAILURES = "too many failed key checks from this address"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceConfig:
    max_upload: int = 32 * 2**20  # bytes of one uploaded file
    max_batch: int = 1000  # items in one batch match
    hash_workers: int = 4  # sandboxed processes hashing uploads (each under the budget below)
    cpu_budget: float = 2.0  # CPU seconds one upload may cost (videos earn more per frame)
    memory_budget: int = 2**30  # bytes of memory one upload may cost
    uploads_per_key: int = 4  # uploads one key may have in flight at once (more: 429)
    auth_failures: float = 10.0  # failed key checks a second per client address (more: 429)
    rate_limit: float = 0.0  # requests per second per key (0: none); bursts of 2 s allowed
    webhook_backoff: float = 1.0  # seconds before the first retry; doubled each time
    webhook_attempts: int = 8  # then the delivery stays as a dead letter
    freeze_gc: bool = False  # a server process: exempt what is loaded from full collections
    content_key_file: Path | None = None  # seals kept content (default: <home>/content.key)
    fetch: FetchPolicy = field(default_factory=FetchPolicy)  # HMA's ?url= (off: no hosts)
    hma_key_header: str = "X-API-Key"  # where an HMA client's key comes (Bearer works too)
    hma_open_role: str | None = None  # keyless HMA calls from loopback act with this role
    sync_every: float = 60.0  # seconds between exchange syncs (0: only when asked)
    sync_lease: float = 60.0  # seconds a dead instance's exchange lease outlives it
    reports: ReportSettings = field(default_factory=ReportSettings)  # triage (issue 19)
    people: PeopleConfig = field(default_factory=PeopleConfig)  # the review console's sign-in
    submissions: SubmissionSettings = field(default_factory=SubmissionSettings)  # issue 21


class MatchSignals(BaseModel):
    signals: list[SignalIn] = Field(default_factory=list, max_length=64)
    lists: list[str] | None = None


class BatchItem(BaseModel):
    id: str = Field(max_length=200)
    signals: list[SignalIn] = Field(max_length=64)


class MatchBatch(BaseModel):
    items: list[BatchItem]
    lists: list[str] | None = None


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str


class Service:
    """What the routes share: the store, keys, metrics, the follower that keeps the indexes
    current, and the lock that serialises lookups against the follower's changes."""

    def __init__(self, store: Store, config: ServiceConfig) -> None:
        self.store, self.config = store, config
        self.cached = CachedStore(store)
        self.lock = threading.Lock()
        self.follower = Follower(
            self.cached, self.lock, on_pass=self._refresh, freeze_gc=config.freeze_gc
        )
        self.keys = KeyStore(store)
        self.limiter = RateLimiter(config.rate_limit)
        self.failures = RateLimiter(config.auth_failures)  # by client address
        budget = Budget(config.cpu_budget, config.memory_budget)
        self.sandbox = Sandbox(config.hash_workers, budget)
        # uploads served key by key, in rotation; a key over its cap is answered 429
        self.turns = FairSlots(config.hash_workers, cap=config.uploads_per_key)
        # the threads that wait on the processes: not the default pool's (sync routes use it)
        self.hashing = anyio.CapacityLimiter(config.hash_workers)
        self.actions = Actions(store, config.webhook_backoff, config.webhook_attempts)
        self.locker = ContentLocker(store, config.content_key_file)
        self.metrics = Metrics()
        busy = self.metrics.exchange_busy
        self.syncer = Syncer(store, config.sync_every, self.changed, config.sync_lease,
                             lambda name: busy.labels(name).inc())  # fmt: skip
        self.floods = FloodGuard(store)
        self.reports = ReportDesk(self, config.reports)

    def matcher(self, lists: list[str] | None) -> Matcher:
        self.follower.require_ready()
        return Matcher(self.cached, lists)

    def _refresh(self) -> None:
        """After each follower pass: list metadata and action rules changed elsewhere."""
        self.cached.refresh()
        self.actions.refresh()

    def upload_types(self, data: bytes, asked: list[str] | None) -> list[str]:
        """The signal types worth computing to match an upload: those asked for (default: all
        that apply to it), less the indexed ones whose index is empty, which nothing could
        match (an index of PDQ hashes alone spares each upload the local-feature signal)."""
        self.follower.require_ready()
        for name in asked or []:
            registry.get(name)  # UnknownSignalType for a name that is not one
        sizes = self.follower.sizes
        types = [t for t in applicable_types(data) if asked is None or t in asked]
        return [t for t in types if sizes.get(t, 1) > 0]

    def changed(self) -> None:
        """A list changed through this service: return once the change is matchable."""
        self.cached.invalidate()
        self.follower.catch_up()

    async def hash_upload(self, key: ApiKey, upload: Upload, types: list[str] | None,
                          variants: bool) -> HashResult:  # fmt: skip
        """The upload hashed in a sandboxed process (its own pool: health checks, key checks
        and match-by-hash never wait behind uploads), at most ``uploads_per_key`` at once,
        keys taking turns for the processes."""
        job = partial(self.sandbox.run, hash_bytes, upload.data, upload.name, types, Limits(),
                      variants, source=upload.name)  # fmt: skip
        try:
            async with self.turns.slot(key.name):
                result: HashResult = await anyio.to_thread.run_sync(job, limiter=self.hashing)
        except Busy as exc:
            raise HttpError(429, str(exc)) from None
        return result

    def matches(self, found: list[Any], matcher: Matcher) -> list[dict[str, Any]]:
        """One item's matches as answered: a match on a negative list says so, the others say
        which negative list suppressed them, and a flood's say it is quarantined (none of them
        is actioned). Every item is counted by the flood guard, matched or not."""
        for m in found:
            self.metrics.matches.labels(m.list).inc()
        held = self.floods_in(found)
        answers = matcher.as_dicts(found)
        for m, answer in zip(found, answers, strict=True):
            if why := held.get((m.list, m.entry.key)):
                answer["quarantined"] = why  # answered, never actioned
        return answers

    def floods_in(self, found: list[Any]) -> dict[tuple[str, str], str]:
        """Count one item's matches for the flood guard (quarantines it starts are counted
        and audited); the quarantined entries among them, with why."""
        for list_name, key, started in self.floods.observe(found):
            self.metrics.quarantined.labels(list_name).inc()
            self.keys.audit("vigil", "quarantine", f"{list_name}:{key}", {"reason": started})
        reasons = {(m.list, m.entry.key): self.floods.reason(m.list, m.entry.key) for m in found}
        return {where: why for where, why in reasons.items() if why}


def create_app(store: Store, config: ServiceConfig | None = None) -> FastAPI:
    svc = Service(store, config or ServiceConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sweep_work_folders()  # left by an instance killed mid-import
        svc.actions.start()
        svc.locker.start()
        svc.follower.start()
        svc.syncer.start()
        svc.reports.start()
        yield
        svc.reports.stop()
        svc.syncer.stop()
        svc.sandbox.close()
        svc.follower.stop()
        svc.locker.stop()
        svc.actions.stop()

    # the interactive docs (/docs) load Swagger UI from files served here, not from a CDN:
    # Vigil runs on closed networks. (No /redoc: ReDoc fetches its logo from its CDN.)
    app = FastAPIOffline(
        redoc_url=None, title="Vigil", version="1", description=__doc__, lifespan=lifespan
    )

    def role(needed: str, hma: bool = False) -> Callable[..., Awaitable[ApiKey]]:
        # async: FastAPI would run a plain function in a worker thread, a hand-off per request
        # costing more than the check; the database (at most once a second per key) is read in
        # a thread, never on the event loop
        async def check(request: Request, authorization: Annotated[str | None, Header()] = None,
                        x_api_key: Annotated[str | None, Header()] = None) -> ApiKey:  # fmt: skip
            if hma:
                x_api_key = request.headers.get(svc.config.hma_key_header) or x_api_key
            secret = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
            client = request.client.host if request.client else "?"
            opened = _opened(svc.config, client) if hma and not secret else None
            known, key = svc.keys.remembered(secret) if secret else (True, opened)
            if not known:
                if not svc.failures.has_tokens(client):  # refused before the database
                    raise HttpError(429, TOO_MANY_FAILURES)
                key = await run_in_threadpool(svc.keys.authenticate, secret)
            if key is None:
                if not svc.failures.allow(client):
                    raise HttpError(429, TOO_MANY_FAILURES)
                raise HttpError(401, "a valid API key is needed")
            if not key.allows(needed):
                raise HttpError(403, f"this key's role ({key.role}) cannot do this")
            if not svc.limiter.allow(key.name):
                raise HttpError(429, f"over {svc.config.rate_limit:g} requests/s for this key")
            return key

        return check

    install_error_handlers(app)
    app.add_middleware(Measure, metrics=svc.metrics)
    _pages(app, svc)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:  # on the event loop: never waits for a thread
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        follower = svc.follower
        if not follower.ready or follower.error is not None:
            reason = "loading" if not follower.ready else f"cannot follow changes: {follower.error}"
            return JSONResponse({"ready": False, "reason": reason}, 503)
        sizes = follower.sizes
        for t, n in sizes.items():
            svc.metrics.index_size.labels(t).set(n)
        return JSONResponse({"ready": True, "change": follower.current, "indexes": sizes})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(svc.metrics.registry), media_type="text/plain")

    @app.post("/v1/hash", **doc(HashOut), openapi_extra=UPLOAD_BODY)
    async def hash_upload(request: Request, key: Annotated[ApiKey, Depends(role("match"))]
                          ) -> dict[str, Any]:  # fmt: skip
        upload = await read_upload(request, svc.config.max_upload)
        result = await svc.hash_upload(key, upload, None, False)
        body = result.as_dict()
        body.pop("path", None)
        return body

    @app.post("/v1/match", **doc(MatchOut), openapi_extra=UPLOAD_BODY)
    async def match_upload(request: Request, key: Annotated[ApiKey, Depends(role("match"))],
                           lists: str | None = None, signal_types: str | None = None,
                           user: Annotated[str | None, Query(max_length=200)] = None,
                           url: Annotated[str | None, Query(max_length=2000)] = None
                           ) -> dict[str, Any]:  # fmt: skip
        upload = await read_upload(request, svc.config.max_upload)
        data, name = upload.data, upload.name
        asked = signal_types.split(",") if signal_types else None
        if not svc.follower.ready:
            await run_in_threadpool(svc.follower.require_ready)
        result = await svc.hash_upload(key, upload, svc.upload_types(data, asked), True)
        if result.error and not result.signals:
            raise UsageError(f"{name}: {result.error}")

        def match() -> dict[str, Any]:
            with svc.lock:
                matcher = svc.matcher(lists.split(",") if lists else None)
                found = svc.matches(matcher.match_result(result), matcher)
            kept = svc.locker.keep(data, name, found, svc.actions.rules())
            if kept is not None:  # each match names the kept upload, webhook posts too
                for m in found:
                    m["kept"] = kept
            outcome = svc.actions.apply(found)
            answer: dict[str, Any] = {
                "kind": result.kind,
                "error": result.error,
                "outcome": outcome,
                "kept": kept,
                "matches": found,
            }
            if any(m.get("action") == "report" for m in found):  # the list action: a report
                done = svc.reports.from_match(result, name, found, kept, user, url)
                answer["report"] = {"id": done.id, "case": done.case, "priority": done.priority}
            return answer

        return await run_in_threadpool(match)

    @app.post("/v1/match/signals", **doc(MatchOut))
    async def match_signals(body: MatchSignals, key: Annotated[ApiKey, Depends(role("match"))]
                            ) -> Response:  # fmt: skip
        # runs on the event loop: a lookup costs well under a millisecond, less than a thread
        # hand-off would
        if not svc.follower.ready:
            await run_in_threadpool(svc.follower.require_ready)
        with svc.lock:
            matcher = svc.matcher(body.lists)
            found = _by_values(svc, matcher, body.signals)
        outcome, posts = svc.actions.plan(found)
        if posts:  # saved before the response, in a thread: never a write on the event loop
            await run_in_threadpool(svc.actions.enqueue, posts)
        return _json({"outcome": outcome, "matches": found})

    @app.post("/v1/match/batch", **doc(BatchOut))
    def match_batch(body: MatchBatch, key: Annotated[ApiKey, Depends(role("match"))]
                    ) -> dict[str, Any]:  # fmt: skip
        if len(body.items) > svc.config.max_batch:
            raise UsageError(f"at most {svc.config.max_batch} items in a batch")
        results = []
        with svc.lock:
            matcher = svc.matcher(body.lists)
            for it in body.items:
                found = _by_values(svc, matcher, it.signals)
                outcome = svc.actions.apply(found)
                results.append({"id": it.id, "outcome": outcome, "matches": found})
        return {"results": results}

    app.include_router(list_routes(svc, role))
    app.include_router(content_routes(svc, role))
    app.include_router(exchange_routes(svc, role))
    app.include_router(report_routes(svc, role))
    app.include_router(hma_routes(svc, partial(role, hma=True)))

    @app.get("/v1/keys", **doc(KeysOut))
    def keys(key: Annotated[ApiKey, Depends(role("admin"))]) -> dict[str, Any]:
        return {"keys": svc.keys.all()}

    @app.post("/v1/keys", **doc(KeyMade, 201))
    def create_key(body: KeyIn, key: Annotated[ApiKey, Depends(role("admin"))]) -> dict[str, str]:
        secret = svc.keys.create(body.name, body.role)
        svc.keys.audit(key.name, "key.create", body.name, {"role": body.role})
        return {"name": body.name, "role": body.role, "key": secret}

    @app.delete("/v1/keys/{name}", **doc(RevokedOut))
    def revoke_key(name: str, key: Annotated[ApiKey, Depends(role("admin"))]) -> dict[str, str]:
        svc.keys.revoke(name)
        svc.keys.audit(key.name, "key.revoke", name, {})
        return {"revoked": name}

    @app.get("/v1/deliveries", **doc(DeliveriesOut))
    def list_deliveries(key: Annotated[ApiKey, Depends(role("curator"))],
                        status: str | None = None, limit: Limit = 100
                        ) -> dict[str, Any]:  # fmt: skip
        return {"deliveries": svc.actions.list_deliveries(status, min(limit, 1000))}

    @app.get("/v1/audit", **doc(AuditOut))
    def audit(key: Annotated[ApiKey, Depends(role("admin"))], limit: Limit = 100) -> dict[str, Any]:
        return {"entries": svc.keys.audit_entries(min(limit, 1000))}

    return app


LOOPBACK = ("127.", "::1", "localhost")


def _pages(app: FastAPI, svc: Service) -> None:
    """The review console (``/review``), the hashing page (``/hash``) and its API, their
    assets, and the pages' security headers."""
    from fastapi.staticfiles import StaticFiles

    from vigil.web import review_pages
    from vigil.web.security import Pages

    app.state.csrf_secret = review_pages.csrf_secret()
    app.add_middleware(Pages)
    static = Path(review_pages.__file__).parent / "static"
    app.mount("/review/static", StaticFiles(directory=str(static)), name="review-static")
    app.include_router(review_pages.review_routes(svc, svc.config.people))
    from vigil.web.hash_routes import hash_routes
    from vigil.web.submissions import HASH_PAGE

    app.include_router(hash_routes(svc, svc.config.submissions))
    app.mount("/hash", StaticFiles(directory=str(HASH_PAGE), html=True), name="hash-page")


def _opened(config: ServiceConfig, client: str) -> ApiKey | None:
    """The role keyless HMA calls act with (``--hma-open``), for callers on loopback only."""
    if config.hma_open_role is None or not client.startswith(LOOPBACK):
        return None
    return ApiKey("hma-open", config.hma_open_role)


def _by_values(svc: Service, matcher: Matcher, signals: list[SignalIn]) -> list[dict[str, Any]]:
    found = []
    for s in signals:
        found.extend(matcher.match_value(s.type, s.value))
    return svc.matches(found, matcher)


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body, default=str), media_type="application/json")
