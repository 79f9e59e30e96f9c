"""Fast bulk inserts: straight to the driver's ``executemany``, past SQLAlchemy's per-row
parameter processing (a third of an import's time otherwise), in the driver's paramstyle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

__all__ = ["bulk_insert", "db_value", "rows_by_key"]

_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":{n}"}


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
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)


def rows_by_key(
    conn: Connection, list_id: int, keys: list[str], columns: str = "key, id, digest"
) -> list[Any]:
    """``columns`` of the entries of a list whose key is in ``keys`` (one statement)."""
    if not keys:
        return []
    mark = _PLACEHOLDER[conn.dialect.paramstyle]
    marks = ", ".join(mark.format(n=i + 2) for i in range(len(keys)))
    sql = f"SELECT {columns} FROM entries WHERE list_id = {mark.format(n=1)} AND key IN ({marks})"
    return list(conn.exec_driver_sql(sql, (list_id, *keys)).all())


def db_value(conn: Connection, table: Table, column: str, value: Any) -> Any:
    """``value`` as the driver should receive it for ``table.column``."""
    process = table.c[column].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value
