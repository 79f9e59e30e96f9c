"""API keys and the audit log. A key is ``vgl_`` and 43 random URL-safe characters, shown once
when created; the store keeps only its SHA-256 (a key has 256 bits of entropy, so a fast hash
is enough), its name and its role. Roles nest: ``match`` < ``curator`` < ``admin``."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from vigil.errors import Conflict, NotFound, UsageError
from vigil.store import Store
from vigil.store.schema import api_keys, audit_log

__all__ = ["ROLES", "ApiKey", "KeyStore"]

ROLES = ("match", "curator", "admin")
PREFIX = "vgl_"


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """Keys and audit entries in the store's database (SQLite or PostgreSQL)."""

    def __init__(self, store: Store, ttl: float = 1.0) -> None:
        self.engine = store.engine
        self.ttl = ttl  # how long an answer is reused: a revoked key stops within this
        self._seen: dict[str, tuple[float, ApiKey | None]] = {}

    def create(self, name: str, role: str) -> str:
        """A new key's secret (shown once). Conflict if the name is taken."""
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            taken = conn.execute(select(api_keys.c.id).where(api_keys.c.name == name)).first()
            if taken:
                raise Conflict(f"a key named {name!r} exists")
            conn.execute(insert(api_keys).values(name=name, role=role, key_hash=_digest(secret),
                                                 created_at=datetime.now(UTC)))  # fmt: skip
        return secret

    def remembered(self, secret: str) -> tuple[bool, ApiKey | None]:
        """(known, key) from the last second's checks alone, without the database: known is
        False when :meth:`authenticate` has to look the key up."""
        if not secret.startswith(PREFIX):
            return True, None
        return self._cached(_digest(secret))

    def _cached(self, digest: str) -> tuple[bool, ApiKey | None]:
        hit = self._seen.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def authenticate(self, secret: str) -> ApiKey | None:
        if not secret.startswith(PREFIX):
            return None
        digest = _digest(secret)
        known, key = self._cached(digest)
        if known:
            return key
        now = time.monotonic()
        if len(self._seen) > 10_000:  # bounded: unknown keys cannot fill memory
            self._seen.clear()
        key = self._lookup(digest)
        self._seen[digest] = (now, key)
        return key

    def _lookup(self, digest: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.name, api_keys.c.role).where(
                    api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        return ApiKey(row.name, row.role) if row else None

    def revoke(self, name: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_keys)
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
        if not done:
            raise NotFound(f"no active key named {name!r}")
        self._seen.clear()

    def all(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.name)).all()
        return [{"name": r.name, "role": r.role, "created_at": r.created_at.isoformat(),
                 "revoked": r.revoked_at is not None} for r in rows]  # fmt: skip

    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            row = {"at": datetime.now(UTC), "actor": actor, "action": action, "target": target,
                   "detail": json.dumps(detail)}  # fmt: skip
            conn.execute(insert(audit_log).values(**row))

    def audit_entries(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
            ).all()
        return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "target": r.target,
                 "detail": json.loads(r.detail)} for r in rows]  # fmt: skip
