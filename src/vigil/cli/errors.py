"""Exit codes, and the one place that maps Vigil's errors to them."""

from __future__ import annotations

import enum

from vigil import errors

__all__ = ["ExitCode", "exit_code_for"]


class ExitCode(enum.IntEnum):
    OK = 0  # for `vigil match`: something matched
    NO_MATCH = 1  # `vigil match`: nothing matched (grep's convention)
    USAGE = 2
    INPUT = 3
    NOT_FOUND = 4
    CONFLICT = 5
    STORE = 6
    PARTIAL = 7  # a bulk command finished but some items failed
    EXCHANGE = 8  # an exchange could not be synced now (unavailable, or another fetcher runs)
    ERROR = 9


_CODES: list[tuple[type[errors.VigilError], ExitCode]] = [
    (errors.UsageError, ExitCode.USAGE),
    (errors.InputError, ExitCode.INPUT),
    (errors.NotFound, ExitCode.NOT_FOUND),
    (errors.Conflict, ExitCode.CONFLICT),
    (errors.StoreError, ExitCode.STORE),
    (errors.ExchangeError, ExitCode.EXCHANGE),
]


def exit_code_for(exc: errors.VigilError) -> ExitCode:
    return next((code for cls, code in _CODES if isinstance(exc, cls)), ExitCode.ERROR)
