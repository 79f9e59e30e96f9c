"""One registry class for every extension point (signal types, list formats, ...).

Built-ins register exactly as a plug-in would: by decorating their class with the registry's
:meth:`Registry.register`. Third-party packages add theirs through the entry-point group named by
the registry (for signal types, ``vigil.signals``), loaded the first time the registry is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from vigil.errors import UsageError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named classes of one kind. ``error`` is raised for an unknown name."""

    def __init__(self, what: str, group: str, error: type[UsageError] = UsageError) -> None:
        self.what = what
        self.group = group
        self.error = error
        self._items: dict[str, type[T]] = {}
        self._plugins_loaded = False

    def register(self, cls: type[T]) -> type[T]:
        name: str = getattr(cls, "name", "")
        if not name:
            raise TypeError(f"{cls.__name__} has no 'name' to register a {self.what} under")
        if name in self._items and self._items[name] is not cls:
            raise TypeError(f"{self.what} {name!r} is registered twice")
        self._items[name] = cls
        return cls

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            loaded = ep.load()
            if isinstance(loaded, type):
                self.register(loaded)

    def get(self, name: str) -> type[T]:
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise self.error(f"unknown {self.what} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def __iter__(self) -> Iterator[type[T]]:
        self._load_plugins()
        return iter(dict(sorted(self._items.items())).values())

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items
