"""The review console's pages (issue 20), under ``/review``: sign in; the queue (counts by
stage and priority, filters, take the next item); one item (everything known first, softened
renders of kept content with the matched regions boxed, reveal by holding a key or button or
by region, never by hover; the decision form with keyboard shortcuts); a neutral image between
items at the chosen rate; one's own exposure and settings; the organisation's settings (leads)
and recent decisions (leads and auditors). Every reveal and render is audited; a reveal past
the reviewer's cap is refused (HTTP 429)."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from vigil.errors import ExposureCapped, Forbidden, NotFound, NotSignedIn, UsageError, VigilError
from vigil.review.accounts import Accounts, Session
from vigil.review.decisions import VERDICTS, Decision, Decisions
from vigil.review.items import Filters, ReviewQueue
from vigil.review.render import render, reveal
from vigil.review.view import item_view
from vigil.review.wellness import (
    MIN_REVEAL,
    PERSONAL,
    effective,
    exposure,
    organisation,
    save_organisation,
    validated,
)
from vigil.store.schema import review_decisions
from vigil.triage.model import ANNOTATIONS, CLASSIFICATIONS, INCIDENT_TYPES
from vigil.web.people import COOKIE, PeopleConfig, csrf_check, session_of

__all__ = ["error_page", "review_routes"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
NEUTRAL = sorted(p.name for p in (HERE / "static" / "neutral").glob("*.jpg"))
GRADES = dict(zip("1234", CLASSIFICATIONS, strict=True))


class Console:
    """What the pages share: the store, accounts, queue, audit and kept content."""

    def __init__(self, svc: Any, people: PeopleConfig) -> None:
        self.svc, self.store, self.people = svc, svc.store, people
        self.accounts = Accounts(svc.store)

    def who(self, request: Request) -> Session:
        return session_of(request, self.accounts, self.people)

    def settings(self, session: Session) -> dict[str, Any]:
        return effective(organisation(self.store), session.account.settings)

    def queue(self, settings: dict[str, Any]) -> ReviewQueue:
        return ReviewQueue(self.store, timedelta(minutes=float(settings["lease_minutes"])))

    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        self.svc.keys.audit(actor, action, target, detail)

    def page(self, request: Request, name: str, session: Session | None,
             status: int = 200, **values: Any) -> HTMLResponse:  # fmt: skip
        return templates.TemplateResponse(request, name, {"session": session, **values},
                                          status_code=status)  # fmt: skip

    def kept(self, session: Session, view: dict[str, Any], n: int) -> tuple[str, bytes]:
        """File ``n`` of an item's page: its kept content (each opening audited)."""
        files = view["files"]
        if not 0 <= n < len(files) or not files[n]["kept"]:
            raise NotFound("no kept content for this file: decide from what is known")
        meta, data = self.svc.locker.open(int(files[n]["kept"]))
        return str(meta["name"]), data


def _decided_today(console: Console, account: str) -> int:
    d = review_decisions.c
    with console.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(d.account == account)).scalar() or 0)


def review_routes(svc: Any, people: PeopleConfig) -> APIRouter:
    router = APIRouter(prefix="/review", include_in_schema=False)
    console = Console(svc, people)
    _sign_in_routes(router, console)
    _queue_routes(router, console)
    _item_routes(router, console)
    _settings_routes(router, console)
    return router


def _sign_in_routes(router: APIRouter, console: Console) -> None:
    @router.get("/login")
    def login_page(request: Request) -> HTMLResponse:
        return console.page(request, "login.html", None, error=None)

    @router.post("/login")
    def login(request: Request, name: str = Form(max_length=200),
              password: str = Form(max_length=500)) -> Response:  # fmt: skip
        from vigil.web.security import same_origin

        same_origin(request.headers, request.headers.get("host", ""))
        account = console.accounts.verify(name, password)
        if account is None:
            console.audit(name[:200], "review.login_failed", "", {})
            return console.page(
                request,
                "login.html",
                None,
                status=401,
                error="That name and password do not match an account.",
            )
        token, _ = console.accounts.open_session(account)
        console.audit(account.name, "review.login", "", {})
        out = RedirectResponse("/review/", status_code=303)
        out.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/review",
                       secure=console.people.secure_cookie, max_age=12 * 3600)  # fmt: skip
        return out

    @router.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        session = console.who(request)
        csrf_check(request, session, csrf)
        console.accounts.close_session(request.cookies.get(COOKIE, ""))
        out = RedirectResponse("/review/login", status_code=303)
        out.delete_cookie(COOKIE, path="/review")
        return out


def _filters(form: dict[str, Any]) -> Filters:
    priority = form.get("priority") or None
    return Filters(str(form.get("list") or "")[:200], str(form.get("series") or "")[:300],
                   str(form.get("kind") or "")[:40], str(form.get("evidence") or "")[:20],
                   int(priority) if priority else None)  # fmt: skip


def _queue_routes(router: APIRouter, console: Console) -> None:
    @router.get("/")
    def queue_page(request: Request) -> HTMLResponse:
        session = console.who(request)
        settings = console.settings(session)
        seen = exposure(console.store, session.account.name, settings)
        held = console.queue(settings).held_by(session.account.name)
        return console.page(request, "queue.html", session, counts=console.queue(
            settings).counts(), exposure=seen.as_dict(), held=held,
            filters=dict(request.query_params))  # fmt: skip

    @router.post("/take")
    async def take(request: Request) -> Response:
        form = dict(await request.form())
        return await _run(console, _take, request, form)

    @router.get("/neutral/{n}")
    def neutral(request: Request, n: int, next_item: int = 0) -> HTMLResponse:
        session = console.who(request)
        image = NEUTRAL[n % len(NEUTRAL)] if NEUTRAL else None
        return console.page(request, "neutral.html", session, image=image, next_item=next_item)


async def _run(console: Console, fn: Any, *args: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    done: Response = await run_in_threadpool(fn, console, *args)
    return done


def _take(console: Console, request: Request, form: dict[str, Any]) -> Response:
    session = console.who(request)
    csrf_check(request, session, str(form.get("csrf", "")))
    settings = console.settings(session)
    name = session.account.name
    if session.account.role == "auditor":
        raise Forbidden("auditors read decisions; they do not take items")
    cluster = console.queue(settings).take(name, session.account.role, _filters(form))
    if cluster is None:
        return RedirectResponse("/review/?empty=1", status_code=303)
    console.audit(name, "review.take", str(cluster), {})
    every, done = int(settings["neutral_every"]), _decided_today(console, name)
    if every and done and done % every == 0 and form.get("after_neutral") != str(done):
        return RedirectResponse(f"/review/neutral/{done // every}?next_item={cluster}",
                                status_code=303)  # fmt: skip
    return RedirectResponse(f"/review/item/{cluster}", status_code=303)


def _item_routes(router: APIRouter, console: Console) -> None:
    @router.get("/item/{cluster}")
    def item_page(request: Request, cluster: int) -> HTMLResponse:
        session = console.who(request)
        settings = console.settings(session)
        holds = console.queue(settings).holds(session.account.name, cluster)
        if not holds and not session.account.may("lead", "auditor"):
            raise Forbidden("take this item from the queue first")
        view = item_view(console.store, cluster)
        seen = exposure(console.store, session.account.name, settings)
        console.audit(session.account.name, "review.view", str(cluster), {})
        return console.page(request, "item.html", session, view=view, holds=holds,
                            settings=settings, exposure=seen.as_dict(), verdicts=VERDICTS,
                            grades=GRADES, incident_types=INCIDENT_TYPES,
                            annotations=ANNOTATIONS)  # fmt: skip

    @router.get("/item/{cluster}/render/{n}")
    def softened(request: Request, cluster: int, n: int) -> Response:
        session = console.who(request)
        settings = console.settings(session)
        view = _viewable(console, session, settings, cluster)
        name, data = console.kept(session, view, n)
        regions = [tuple(m["robust"]["query_region"]) for m in view["files"][n]["matches"]
                   if m.get("robust")]  # fmt: skip
        console.audit(session.account.name, "review.render", str(cluster), {"file": n})
        shown = console.svc.sandbox.run(render, data, name, settings, regions, source=name)
        return Response(shown, media_type="image/jpeg")

    @router.post("/item/{cluster}/reveal/{n}")
    async def reveal_file(request: Request, cluster: int, n: int) -> Response:
        form = dict(await request.form())
        return await _run(console, _reveal, request, cluster, n, form)

    @router.post("/item/{cluster}/revealed")
    async def revealed(request: Request, cluster: int) -> Response:
        form = dict(await request.form())
        session = console.who(request)
        csrf_check(request, session, str(form.get("csrf", "")))
        held = max(0.0, min(600.0, _number(form.get("ms")) / 1000.0))
        console.audit(session.account.name, "review.revealed", str(cluster),
                      {"seconds": round(max(0.0, held - MIN_REVEAL), 1)})  # fmt: skip
        return Response(status_code=204)

    @router.post("/item/{cluster}/decide")
    async def decide(request: Request, cluster: int) -> Response:
        form = dict(await request.form())
        return await _run(console, _decide, request, cluster, form)

    @router.post("/item/{cluster}/release")
    async def release(request: Request, cluster: int) -> Response:
        form = dict(await request.form())
        session = console.who(request)
        csrf_check(request, session, str(form.get("csrf", "")))
        console.queue(console.settings(session)).release(session.account.name, cluster)
        console.audit(session.account.name, "review.release", str(cluster), {})
        return RedirectResponse("/review/", status_code=303)


def _number(value: Any) -> float:
    try:
        return float(str(value or 0))
    except ValueError:
        raise UsageError(f"not a number: {str(value)[:20]!r}") from None


def _viewable(console: Console, session: Session, settings: dict[str, Any],
              cluster: int) -> dict[str, Any]:  # fmt: skip
    """An item's view, for the reviewer who holds it (auditors never see content)."""
    if not console.queue(settings).holds(session.account.name, cluster):
        raise Forbidden("only the reviewer holding an item sees its content")
    return item_view(console.store, cluster)


def _reveal(console: Console, request: Request, cluster: int, n: int,
            form: dict[str, Any]) -> Response:  # fmt: skip
    session = console.who(request)
    csrf_check(request, session, str(form.get("csrf", "")))
    settings = console.settings(session)
    view = _viewable(console, session, settings, cluster)
    if why := exposure(console.store, session.account.name, settings).stopped:
        raise ExposureCapped(why)
    region = None
    if form.get("region"):
        try:
            region = tuple(float(v) for v in str(form["region"]).split(","))
        except ValueError:
            raise UsageError("a region is x0,y0,x1,y1 as fractions") from None
        if len(region) != 4:
            raise UsageError("a region is x0,y0,x1,y1 as fractions")
    name, data = console.kept(session, view, n)
    console.audit(session.account.name, "review.reveal", str(cluster),
                  {"file": n, "region": region, "seconds": MIN_REVEAL})  # fmt: skip
    try:  # decoded again in a sandboxed worker, under the upload's budget
        shown = console.svc.sandbox.run(reveal, data, name, settings, region, source=name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Response(shown, media_type="image/jpeg")


def _decide(console: Console, request: Request, cluster: int, form: dict[str, Any]) -> Response:
    session = console.who(request)
    csrf_check(request, session, str(form.get("csrf", "")))
    settings = console.settings(session)
    annotations = tuple(a for a in ANNOTATIONS if form.get(f"annotation_{a}"))
    decision = Decision(str(form.get("verdict", "")), str(form.get("grade") or "") or None,
                        str(form.get("incident_type") or "") or None, annotations,
                        str(form.get("reason", ""))[:2000])  # fmt: skip
    outcome = Decisions(console.store, console.audit).decide(session.account.name, cluster,
                                                             decision, settings)  # fmt: skip
    said = json.dumps(outcome.as_dict())
    return RedirectResponse(f"/review/?decided={cluster}&stage={outcome.stage}"
                            f"&effects={len(outcome.effects)}", status_code=303,
                            headers={"X-Vigil-Outcome": said})  # fmt: skip


def _settings_routes(router: APIRouter, console: Console) -> None:
    @router.get("/me")
    def me(request: Request) -> HTMLResponse:
        session = console.who(request)
        settings = console.settings(session)
        seen = exposure(console.store, session.account.name, settings)
        return console.page(request, "me.html", session, settings=settings,
                            exposure=seen.as_dict(), personal=PERSONAL)  # fmt: skip

    @router.post("/me")
    async def save_me(request: Request) -> Response:
        form = dict(await request.form())
        session = console.who(request)
        csrf_check(request, session, str(form.pop("csrf", "")))
        mine = validated({k: v for k, v in form.items() if k in PERSONAL}, PERSONAL)
        if "greyscale" in PERSONAL and "greyscale" not in form:
            mine["greyscale"] = False  # an unticked box is not sent
        console.accounts.save_settings(session.account.name, session.account.settings | mine)
        console.audit(session.account.name, "review.settings", "", mine)
        return RedirectResponse("/review/me", status_code=303)

    @router.get("/org")
    def org(request: Request) -> HTMLResponse:
        session = console.who(request)
        if not session.account.may("lead", "auditor"):
            raise Forbidden("leads and auditors only")
        d = review_decisions.c
        with console.store.engine.connect() as conn:
            recent = conn.execute(select(review_decisions).order_by(d.id.desc()).limit(50)).all()
        return console.page(request, "org.html", session, settings=organisation(console.store),
                            decisions=recent)  # fmt: skip

    @router.post("/org")
    async def save_org(request: Request) -> Response:
        form: dict[str, Any] = dict(await request.form())
        session = console.who(request)
        csrf_check(request, session, str(form.pop("csrf", "")))
        if not session.account.may("lead"):
            raise Forbidden("leads only")
        changes = {k: v for k, v in form.items() if v != ""}
        for flag in ("greyscale", "require_reason", "quarantine_false_positives"):
            changes[flag] = flag in form
        changes.pop("second_review", None)
        save_organisation(console.store, changes)
        console.audit(session.account.name, "review.org_settings", "", changes)
        return RedirectResponse("/review/org", status_code=303)


def error_page(request: Request, exc: VigilError, status: int) -> Response:
    """A page's error (the service's one error handler calls this for /review)."""
    if isinstance(exc, NotSignedIn) and request.method == "GET":
        return RedirectResponse("/review/login", status_code=303)
    wants_html = "text/html" in request.headers.get("accept", "")
    if not wants_html:
        return Response(str(exc), status_code=status, media_type="text/plain")
    return templates.TemplateResponse(request, "error.html", {"session": None, "status": status,
                                      "message": str(exc)}, status_code=status)  # fmt: skip


def csrf_secret() -> bytes:
    return secrets.token_bytes(32)
