"""The file of an HMA hashing or lookup call: uploaded (a multipart field named ``photo`` or
``video``, HMA's content types) or, where the operator allows it, fetched from ``?url=``; and the
small fields that came with it (query, form or JSON body)."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from vigil.errors import UsageError
from vigil.service.hma.fetch import fetch
from vigil.service.uploads import Upload, read_upload

__all__ = ["CONTENT_TYPES", "json_body", "read_media"]

CONTENT_TYPES = ("photo", "video")


async def read_media(svc: Any, request: Request, url: str | None) -> tuple[Upload, dict[str, Any]]:
    fields: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "url"}
    if url:
        got = await run_in_threadpool(fetch, url, svc.config.fetch)
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await json_body(request)
            fields.update(body if isinstance(body, dict) else {})
        return Upload("url", got.name, got.data), fields
    upload = await read_upload(request, svc.config.max_upload, CONTENT_TYPES)
    fields.update(upload.fields)
    return upload, fields


async def json_body(request: Request) -> Any:
    """The request's JSON body (``{}`` when empty); UsageError when it is not JSON."""
    try:
        return json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError):
        raise UsageError("the request body must be JSON") from None
