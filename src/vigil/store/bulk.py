"""Bulk statements straight on the driver's cursor, within the caller's transaction, in the
driver's paramstyle: SQLAlchemy's per-row parameter and Row handling was a third of an
import's time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

__all__ = ["bulk_insert", "chunks", "db_value", "rows_by_key", "signals_of_entries"]

_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":{n}"}


def _cursor(conn: Connection) -> Any:
    """A DBAPI cursor on the connection SQLAlchemy holds (same transaction)."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cur = _cursor(conn)
    cur.execute(sql, params)
    rows: list[Any] = cur.fetchall()
    cur.close()
    return rows


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order). Values must already be what the driver
    takes: use :func:`db_value` for types SQLAlchemy converts (datetimes on SQLite)."""
    if not rows:
        return
    style = conn.dialect.paramstyle
    marks = ", ".join(_PLACEHOLDER[style].format(n=i + 1) for i in range(len(columns)))
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    _cursor(conn).executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)


def rows_by_key(
    conn: Connection, list_id: int, keys: list[str], columns: str = "key, id, digest"
) -> list[Any]:
    """``columns`` of the entries of a list whose key is in ``keys``."""
    mark = _PLACEHOLDER[conn.dialect.paramstyle]
    first = mark.format(n=1)
    rows: list[Any] = []
    for part in chunks(keys):
        marks = ", ".join(mark.format(n=i + 2) for i in range(len(part)))
        sql = f"SELECT {columns} FROM entries WHERE list_id = {first} AND key IN ({marks})"
        rows += _fetch(conn, sql, (list_id, *part))
    return rows


def chunks(values: list[Any], size: int = 30_000) -> list[list[Any]]:
    """Pieces under SQLite's limit of 32,766 parameters per statement."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def signals_of_entries(conn: Connection, entry_ids: list[int]) -> list[tuple[int, str, str]]:
    """(id, type, value) of every signal of these entries. Selected by entry alone: a filter on
    type would lead SQLite to the (type, value) index and a scan of every signal of that type."""
    mark = _PLACEHOLDER[conn.dialect.paramstyle]
    rows: list[Any] = []
    for part in chunks(entry_ids):
        marks = ", ".join(mark.format(n=i + 1) for i in range(len(part)))
        sql = f"SELECT id, type, value FROM signals WHERE entry_id IN ({marks})"
        rows += _fetch(conn, sql, tuple(part))
    return rows


def db_value(conn: Connection, table: Table, column: str, value: Any) -> Any:
    """``value`` as the driver should receive it for ``table.column``."""
    process = table.c[column].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value
