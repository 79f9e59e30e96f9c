"""Reviewers' accounts and sessions (issue 20). Roles: ``reviewer`` (takes and decides items),
``lead`` (also settles disputes and sets the organisation's defaults) and ``auditor`` (reads
decisions and exposure, never content). A person signs in with a password (scrypt, a salt of
their own) or through the operator's reverse proxy, which names them in a header; a session is
a random token in an HttpOnly, SameSite=Strict cookie, stored only as its SHA-256, with a CSRF
token that every form and request that changes something must carry."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from vigil.errors import Conflict, NotFound, UsageError
from vigil.store import Store
from vigil.store.schema import review_accounts, review_sessions

__all__ = ["ROLES", "SESSION", "Account", "Accounts", "Session"]

ROLES = ("reviewer", "lead", "auditor")
SESSION = timedelta(hours=12)  # a session's life (a working day)
_N, _R, _P = 2**14, 8, 1  # scrypt's cost: about 50 ms a check


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    settings: dict[str, Any]

    def may(self, *roles: str) -> bool:
        return self.role in roles


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str


def _hash(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def _check(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=32)  # fmt: skip
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(got.hex(), digest)


_BY_NAME = select(review_accounts).where(review_accounts.c.name == bindparam("name"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def add(self, name: str, role: str, password: str | None) -> None:
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        if not name or len(name) > 200:
            raise UsageError("an account's name is 1 to 200 characters")
        if password is not None and len(password) < 12:
            raise UsageError("a password is at least 12 characters")
        row = {"name": name, "role": role, "created_at": datetime.now(UTC), "disabled": False,
               "settings": "{}",
               "password": _hash(password, os.urandom(16)) if password else None}  # fmt: skip
        with self.engine.begin() as conn:
            if conn.execute(select(review_accounts.c.name).where(
                    review_accounts.c.name == name)).first():  # fmt: skip
                raise Conflict(f"account {name!r} exists")
            conn.execute(insert(review_accounts).values(**row))

    def get(self, name: str) -> Account:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(review_accounts).where(review_accounts.c.name == name)
            ).first()
        if row is None or row.disabled:
            raise NotFound(f"no account {name!r}")
        return Account(row.name, row.role, json.loads(row.settings))

    def all(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(review_accounts).order_by(review_accounts.c.name)).all()
        return [{"name": r.name, "role": r.role, "disabled": r.disabled,
                 "password": r.password is not None} for r in rows]  # fmt: skip

    def disable(self, name: str) -> None:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(update(review_accounts).where(review_accounts.c.name == name)
                         .values(disabled=True))  # fmt: skip
            conn.execute(delete(review_sessions).where(review_sessions.c.account == name))

    def save_settings(self, name: str, settings: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(review_accounts).where(review_accounts.c.name == name)
                         .values(settings=json.dumps(settings)))  # fmt: skip

    def verify(self, name: str, password: str) -> Account | None:
        """The account, if ``password`` is its own (the same work is done for a name that is
        not one, so a wrong name takes as long as a wrong password)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(review_accounts).where(review_accounts.c.name == name)
            ).first()
        stored = row.password if row is not None and row.password else _hash("x", b"0" * 16)
        if not _check(password, stored) or row is None or row.disabled or not row.password:
            return None
        return Account(row.name, row.role, json.loads(row.settings))

    # -- sessions --------------------------------------------------------------------------
    def open_session(self, account: Account) -> tuple[str, str]:
        """A new session's cookie token and CSRF token."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(insert(review_sessions).values(
                digest=_digest(token), account=account.name, csrf=csrf, created_at=now,
                expires_at=now + SESSION))  # fmt: skip
        return token, csrf

    def session(self, token: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(review_sessions).where(
                review_sessions.c.digest == _digest(token))).first()  # fmt: skip
        if row is None or _aware(row.expires_at) <= datetime.now(UTC):
            return None
        try:
            return Session(self.get(row.account), row.csrf)
        except NotFound:
            return None

    def close_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(review_sessions).where(review_sessions.c.digest == _digest(token)))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
