"""Store: SQL tables for lists and entries (SQLite in the data directory, or PostgreSQL),
plus the Hamming index files beside them."""

from vigil.store.db import resolve_home
from vigil.store.reads import ListInfo
from vigil.store.store import Store

__all__ = ["ListInfo", "Store", "resolve_home"]
