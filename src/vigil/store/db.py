"""The data directory and database connection: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from vigil.errors import StoreError

__all__ = ["connect", "resolve_home"]

MIGRATIONS = Path(__file__).parent / "migrations"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """``home`` if given, else ``$VIGIL_HOME``, else ``~/.vigil``; created if missing."""
    chosen = Path(home or os.environ.get("VIGIL_HOME") or Path.home() / ".vigil").expanduser()
    try:
        chosen.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot use data directory {chosen}: {exc.strerror}") from exc
    return chosen


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-1048576")  # 1 GiB at most: random index inserts thrash less
    cur.execute("PRAGMA mmap_size=1073741824")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def connect(home: Path, url: str | None = None) -> Engine:
    """An engine for ``url`` (or ``$VIGIL_DATABASE_URL``, or SQLite in ``home``), migrated to
    the newest schema."""
    url = url or os.environ.get("VIGIL_DATABASE_URL") or f"sqlite:///{home / 'vigil.db'}"
    try:
        engine = create_engine(url, future=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        where = url.rsplit("@", 1)[-1]  # never print a password
        raise StoreError(f"cannot open database {where}: {exc}") from exc
    return engine
