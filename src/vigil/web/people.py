"""Who is asking, on the pages (issue 20): a session from its cookie, or a person named by the
operator's reverse proxy (a header trusted only from the proxy's own addresses), and the CSRF
check on every request that changes something."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from vigil.errors import CrossOrigin, NotFound, NotSignedIn
from vigil.review.accounts import Accounts, Session
from vigil.web.security import same_origin

__all__ = ["COOKIE", "PeopleConfig", "csrf_check", "session_of"]

COOKIE = "vigil_review"


@dataclass(frozen=True)
class PeopleConfig:
    user_header: str | None = None  # the reverse proxy's header naming the person
    proxies: tuple[str, ...] = ("127.0.0.1", "::1")  # where that header is trusted from
    secure_cookie: bool = False  # set Secure on the cookie (behind HTTPS)


def session_of(request: Request, accounts: Accounts, config: PeopleConfig) -> Session:
    """The signed-in person (NotSignedIn where there is none)."""
    host = request.client.host if request.client else ""
    if config.user_header and host in config.proxies:
        name = request.headers.get(config.user_header)
        if name:
            try:
                account = accounts.get(name)
            except NotFound:
                raise NotSignedIn(f"{name!r} has no review account") from None
            # behind the proxy there is no cookie session: the CSRF token is the account's
            # own, derived from its name and the session table's secret-free digest
            return Session(account, _proxy_csrf(request, name))
    token = request.cookies.get(COOKIE)
    session = accounts.session(token) if token else None
    if session is None:
        raise NotSignedIn("sign in to review")
    return session


def _proxy_csrf(request: Request, name: str) -> str:
    secret: Any = getattr(request.app.state, "csrf_secret", b"")
    return hmac.new(secret, name.encode(), "sha256").hexdigest()


def csrf_check(request: Request, session: Session, token: str | None) -> None:
    """A change must come from this site and carry the session's CSRF token."""
    same_origin(request.headers, request.headers.get("host", ""))
    given = token or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(given, session.csrf):
        raise CrossOrigin("the form's token is missing or stale: reload the page")
