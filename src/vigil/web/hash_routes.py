"""The survivor-side hashing page and its API (issue 21). ``/hash/`` serves the page (static
files: it hashes on the person's device, in a Web Worker; nothing but hashes ever leaves).
``POST /v1/submissions`` takes hashes only, as JSON (any other body, an image above all, is
refused with 415), and answers a receipt; ``GET`` and ``DELETE /v1/submissions/{receipt}``
check and withdraw. No key, no account, no cookie: a rate limit per client address instead.
Another origin (a copy of the page on a static host) may call the API only where the operator
names it (``--submissions-origin``)."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vigil.errors import MediaTooLarge, UnsupportedMedia, UsageError
from vigil.service.answers import HttpError
from vigil.service.limits import RateLimiter
from vigil.web.submissions import HASH_PAGE, Submissions, SubmissionSettings

__all__ = ["HASH_PAGE", "SubmissionSettings", "hash_routes"]

BODY_LIMIT = 64 * 1024  # a submission of 100 files' hashes is a few kilobytes


def hash_routes(svc: Any, settings: SubmissionSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/submissions", include_in_schema=True, tags=["submissions"])
    limiter = RateLimiter(settings.rate, settings.burst)
    desk = Submissions(svc.store, settings.list_name)

    def gate(request: Request) -> None:
        client = request.client.host if request.client else "?"
        if not limiter.allow(client):
            raise HttpError(429, "too many requests from this address: try again in a minute")

    def cors(request: Request, answer: Response) -> Response:
        origin = request.headers.get("origin")
        if origin and origin in settings.origins:
            answer.headers["Access-Control-Allow-Origin"] = origin
            answer.headers["Vary"] = "Origin"
        return answer

    @router.options("")
    @router.options("/{receipt}")
    def preflight(request: Request) -> Response:
        answer = Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, DELETE",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )
        return cors(request, answer)  # fmt: skip

    @router.post("", status_code=201)
    async def submit(request: Request) -> Response:
        """Hashes of a person's own files: ``{"items": [{"md5": ..., "pdq": ...}, ...],
        "label": "..."}``; answers the receipt that checks and withdraws them."""
        gate(request)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise UnsupportedMedia(
                "submission", "only hashes, as JSON, are taken here: never a file"
            )
        body = await request.body()
        if len(body) > BODY_LIMIT:
            raise MediaTooLarge("submission", f"at most {BODY_LIMIT:,} bytes of hashes")
        try:
            import json

            data = json.loads(body)
        except ValueError:
            raise UsageError("the body is not JSON") from None
        made = await run_in_threadpool(desk.take, data)
        svc.changed()  # matchable when this returns
        svc.keys.audit("submission", "submission.create", str(made.id), {"hashes": made.hashes})
        answer = JSONResponse({"receipt": made.receipt, "hashes": made.hashes}, 201)
        return cors(request, answer)

    @router.get("/{receipt}")
    def status(receipt: str, request: Request) -> Response:
        gate(request)
        return cors(request, JSONResponse(desk.status(receipt[:64])))

    @router.delete("/{receipt}")
    def withdraw(receipt: str, request: Request) -> Response:
        gate(request)
        done = desk.withdraw(receipt[:64])
        svc.changed()  # no longer matched when this returns
        svc.keys.audit("submission", "submission.withdraw", "", {"files": done["files"]})
        return cors(request, JSONResponse(done))

    return router
