"""Exchanges in the store's database: their configuration, checkpoint and last status, and the
lease that lets one fetcher at a time sync each of them, across workers and instances (a row
per exchange, taken by compare-and-swap: on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from vigil.errors import Conflict, NotFound
from vigil.exchanges.base import ExchangeConfig, exchanges
from vigil.lists.model import check_list_name
from vigil.store import Store
from vigil.store.schema import exchange_leases
from vigil.store.schema import exchanges as table

__all__ = ["ExchangeStore"]


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class ExchangeStore:
    def __init__(self, store: Store) -> None:
        self.store, self.engine = store, store.engine

    def add(self, config: ExchangeConfig) -> ExchangeConfig:
        check_list_name(config.name)
        settings = exchanges.get(config.kind).check_settings(config.settings)
        self.store.get_list(config.list_name)  # the list must exist
        with self.engine.begin() as conn:
            if conn.execute(select(table.c.id).where(table.c.name == config.name)).first():
                raise Conflict(f"an exchange named {config.name!r} exists")
            conn.execute(insert(table).values(
                name=config.name, kind=config.kind, list_name=config.list_name,
                settings=json.dumps(settings), checkpoint="{}", status="{}",
                created_at=_now()))  # fmt: skip
        return self.get(config.name)

    def get(self, name: str) -> ExchangeConfig:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).first()
        if row is None:
            raise NotFound(f"no exchange named {name!r}")
        return _config(row)

    def all(self) -> list[ExchangeConfig]:
        with self.engine.connect() as conn:
            return [_config(r) for r in conn.execute(select(table).order_by(table.c.name))]

    def remove(self, name: str) -> None:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.name == name))
            conn.execute(delete(exchange_leases).where(exchange_leases.c.name == name))

    def save(self, name: str, checkpoint: dict[str, Any] | None, status: dict[str, Any],
             finished: bool = False) -> None:  # fmt: skip
        values: dict[str, Any] = {"status": json.dumps(status, default=str)}
        if checkpoint is not None:
            values["checkpoint"] = json.dumps(checkpoint)
        if finished:
            values["synced_at"] = _now()
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.name == name).values(**values))

    # -- the fetcher's lease ---------------------------------------------------------------
    def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or renew) the lease of ``name`` for ``seconds``: True if ``holder`` has it."""
        until = _now() + timedelta(seconds=seconds)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(exchange_leases).where(exchange_leases.c.name == name)
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(exchange_leases).values(
                            name=name, holder=holder, expires_at=until))  # fmt: skip
                except IntegrityError:
                    return False  # another took it first
                return True
            if row.holder != holder and _aware(row.expires_at) > _now():
                return False
            same = (exchange_leases.c.name == name, exchange_leases.c.holder == row.holder,
                    exchange_leases.c.expires_at == row.expires_at)  # fmt: skip
            taken = conn.execute(
                update(exchange_leases).where(*same).values(holder=holder, expires_at=until)
            )
            return bool(taken.rowcount == 1)

    def release(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(exchange_leases).where(
                exchange_leases.c.name == name, exchange_leases.c.holder == holder))  # fmt: skip

    def holder(self, name: str) -> str | None:
        """Who holds the lease of ``name`` now, if anyone."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(exchange_leases).where(exchange_leases.c.name == name)
            ).first()
        if row is None or _aware(row.expires_at) <= _now():
            return None
        return str(row.holder)


def _config(row: Any) -> ExchangeConfig:
    cfg = ExchangeConfig(row.name, row.kind, row.list_name, json.loads(row.settings),
                         json.loads(row.checkpoint), json.loads(row.status))  # fmt: skip
    cfg.status.setdefault("synced_at", row.synced_at.isoformat() if row.synced_at else None)
    return cfg
