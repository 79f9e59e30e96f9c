"""How the service answers an error: the one place that turns exceptions into responses,
with Vigil's body (``{"error": {"type", "message"}}``) on its routes and HMA's
(``{"message"}``) on HMA's; the status comes from :mod:`vigil.service.errors`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from vigil.errors import StoreError, VigilError
from vigil.service.errors import status_for
from vigil.service.hma import is_hma_path

__all__ = ["HttpError", "error_body", "install_error_handlers"]

log = logging.getLogger(__name__)


class HttpError(Exception):
    """A refusal before the route runs: 401 (no valid key), 403 (its role), 429 (too many)."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def error_body(request: Request, kind: str, message: str) -> dict[str, Any]:
    """An error's body: HMA's ``{"message": ...}`` on its routes, Vigil's own elsewhere."""
    if is_hma_path(request.url.path):
        return {"message": message}
    return {"error": {"type": kind, "message": message}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VigilError)
    async def _vigil(request: Request, exc: VigilError) -> Response:
        status = status_for(exc, hma=is_hma_path(request.url.path))  # HMA's codes on its routes
        if request.url.path.startswith("/review"):  # a page: a page (or sign in) in answer
            from vigil.web.review_pages import error_page

            return error_page(request, exc, status)
        return JSONResponse(error_body(request, type(exc).__name__, str(exc)), status)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> Response:
        # the database is away, or busy past its timeout (SQLite during a long import): a
        # store error (503), which a client retries; the SQL itself is not shown
        log.warning("%s %s: database error: %s", request.method, request.url.path, exc)
        return await _vigil(request, StoreError(f"the database failed ({type(exc).__name__})"))

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=400)  # nobody is there to read it; nothing to log

    @app.exception_handler(HttpError)
    async def _http(request: Request, exc: HttpError) -> JSONResponse:
        kind = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}[exc.status]
        headers = {"Retry-After": "1"} if exc.status == 429 else None
        return JSONResponse(error_body(request, kind, exc.message), exc.status,
                            headers=headers)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # where and why, never the values sent (an upload's bytes must not be echoed or logged)
        details = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:200]}
                   for e in exc.errors()[:20]]  # fmt: skip
        body = error_body(request, "InvalidRequest", "the request is not valid")
        (body.get("error", body))["details"] = details
        return JSONResponse(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _framework(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code)
        body = error_body(request, kind or "HTTPError", str(exc.detail)[:200])
        return JSONResponse(body, exc.status_code, headers=exc.headers)
