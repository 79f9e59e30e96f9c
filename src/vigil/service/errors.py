"""The one place that maps Vigil's errors to HTTP status codes (the CLI's counterpart is
:mod:`vigil.cli.errors`)."""

from __future__ import annotations

from vigil import errors

__all__ = ["status_for"]

_STATUS: list[tuple[type[errors.VigilError], int]] = [
    (errors.FetchRefused, 403),
    (errors.MediaTooLarge, 413),
    (errors.UnsupportedMedia, 415),
    (errors.EmptyFile, 400),
    (errors.InputError, 422),
    (errors.UsageError, 400),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.StoreError, 503),
    (errors.ExchangeBusy, 409),
    (errors.ExchangeUnavailable, 502),
    (errors.ReportRefused, 422),
    (errors.ReportUndelivered, 502),
    (errors.NotSignedIn, 401),
    (errors.ExposureCapped, 429),
    (errors.Forbidden, 403),
]


# HMA's routes answer as HMA does: a bad signal or file is 400 there, an existing bank 403
_HMA_STATUS: list[tuple[type[errors.VigilError], int]] = [
    (errors.FetchRefused, 403),
    (errors.MediaTooLarge, 413),
    (errors.InputError, 400),
    (errors.Conflict, 403),
]


def status_for(exc: errors.VigilError, hma: bool = False) -> int:
    """The status of ``exc`` on Vigil's routes, or (``hma``) on the HMA-compatible ones."""
    table = [*_HMA_STATUS, *_STATUS] if hma else _STATUS
    return next((code for cls, code in table if isinstance(exc, cls)), 500)
