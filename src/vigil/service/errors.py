"""The one place that maps Vigil's errors to HTTP status codes (the CLI's counterpart is
:mod:`vigil.cli.errors`)."""

from __future__ import annotations

from vigil import errors

__all__ = ["status_for"]

_STATUS: list[tuple[type[errors.VigilError], int]] = [
    (errors.MediaTooLarge, 413),
    (errors.UnsupportedMedia, 415),
    (errors.EmptyFile, 400),
    (errors.InputError, 422),
    (errors.UsageError, 400),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.StoreError, 503),
]


def status_for(exc: errors.VigilError) -> int:
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
