"""Kept content over HTTP (role ``curator``): what list rules kept for review, one upload's
bytes, and deletion. Every call is written to the audit log first: a view that cannot be
audited is not served."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from vigil.service.keys import ApiKey
from vigil.service.params import Limit, RowId
from vigil.service.schemas import DeletedOut, KeptOut, doc, error_responses

__all__ = ["content_routes"]

KEPT_FILE = {"description": "the kept upload's bytes", "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}  # fmt: skip


def content_routes(svc: Any, role: Callable[[str], Callable[..., Awaitable[ApiKey]]]) -> APIRouter:
    router = APIRouter(prefix="/v1/content")
    curator = Annotated[ApiKey, Depends(role("curator"))]

    @router.get("", **doc(KeptOut))
    def listing(key: curator, limit: Limit = 100) -> dict[str, Any]:
        svc.keys.audit(key.name, "content.list", "", {"limit": limit})
        return {"content": svc.locker.listing(min(limit, 1000))}

    @router.get("/{content_id}", responses={200: KEPT_FILE, **error_responses()})
    def view(content_id: RowId, key: curator) -> Response:
        svc.keys.audit(key.name, "content.view", str(content_id), {})
        meta, data = svc.locker.open(content_id)
        # an attachment of no particular type: a browser never shows it by itself; the review
        # tool decides how (blurred, greyscale) and when
        name = "".join(c for c in meta["name"] if c.isalnum() or c in "._-")[:100] or "upload"
        headers = {"Content-Disposition": f'attachment; filename="{name}"',
                   "Cache-Control": "no-store", "X-Vigil-SHA256": meta["sha256"]}  # fmt: skip
        return Response(data, media_type="application/octet-stream", headers=headers)

    @router.delete("/{content_id}", **doc(DeletedOut))
    def remove(content_id: RowId, key: curator) -> dict[str, Any]:
        svc.keys.audit(key.name, "content.delete", str(content_id), {})
        svc.locker.delete(content_id)
        return {"deleted": content_id}

    return router
