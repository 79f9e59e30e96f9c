"""HMA's (OpenMediaMatch's) own routes beside ``/v1``, with its request and response shapes, so
that an HMA client (ROOST's Coop, a platform's upload path) moves to Vigil by changing its base
URL: ``/m`` matching, ``/h`` hashing, ``/c`` banks and content, ``/status``. A bank is a Vigil
list and a content id the entry's id. HMA has no keys; Vigil keeps them: an HMA client passes one
in the header ``vigil serve --hma-key-header`` names (default ``X-API-Key``; a proxy can add it),
or the operator lets keyless calls from loopback act with one role (``--hma-open ROLE``, refused
unless the server listens on loopback only). See docs/service.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter

from vigil.service.hma.banks import bank_routes
from vigil.service.hma.matching import matching_routes
from vigil.service.keys import ApiKey

__all__ = ["HMA_PREFIXES", "hma_routes", "is_hma_path"]

HMA_PREFIXES = ("/m/", "/h/", "/c/")


def is_hma_path(path: str) -> bool:
    """Whether a request is HMA's (its errors are answered as HMA answers them)."""
    return path.startswith(HMA_PREFIXES) or path in ("/status", "/status/live")


def hma_routes(svc: Any, role: Callable[[str], Callable[..., Awaitable[ApiKey]]]) -> APIRouter:
    router = APIRouter()
    router.include_router(matching_routes(svc, role))
    router.include_router(bank_routes(svc, role))
    return router
