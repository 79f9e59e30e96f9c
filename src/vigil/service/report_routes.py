"""Triage over HTTP (issue 19). ``POST /v1/reports`` (role ``match``: a platform reporting)
takes a report as JSON, or as a multipart body whose ``report`` field holds the JSON and whose
``file`` parts are the report's files (each part's file name is a file of the report): each
file is hashed and inspected once in a sandboxed worker, its hashes filled in, and kept only
where a matched list's rule says so. A file that cannot be hashed (over its budget, not an
image) stays in the report by the digests of its bytes, its error said in the answer. Cases,
reports, exports and filing need the ``curator`` role, and each read is audited (cases hold
personal data: IP addresses, accounts)."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from vigil.errors import UsageError, VigilError
from vigil.matching.hashing import HashResult
from vigil.service.answers import HttpError
from vigil.service.fair import Busy
from vigil.service.keys import ApiKey
from vigil.service.params import Limit, RowId
from vigil.service.report_schemas import (
    REPORT_BODY,
    CaseOut,
    CasesOut,
    FiledOut,
    IngestedOut,
    ReportOut,
    SentQueueOut,
    SeriesOut,
)
from vigil.service.schemas import doc
from vigil.service.uploads import Upload, read_uploads
from vigil.triage.content import FileContent, inspect_content

__all__ = ["report_routes"]

FIELD_LIMIT = 2**20  # bytes of a report's JSON in a multipart body


def _digested(up: Upload, exc: Exception) -> tuple[FileContent, dict[str, str]]:
    """A file that could not be hashed as media: the digests of its bytes, and its error."""
    result = HashResult(up.name, len(up.data), error=str(exc), error_type=type(exc).__name__)
    from vigil.signals import SignalValue

    for name in ("md5", "sha1", "sha256"):
        value = hashlib.new(name, up.data).hexdigest()
        result.signals[name] = SignalValue(name, value, None, True, None)
    return FileContent(result), {"file": up.name, "error": str(exc)}


def report_routes(svc: Any, role: Callable[[str], Callable[..., Awaitable[ApiKey]]]
                  ) -> APIRouter:  # fmt: skip
    router = APIRouter(prefix="/v1")
    matcher = Annotated[ApiKey, Depends(role("match"))]
    curator = Annotated[ApiKey, Depends(role("curator"))]

    async def inspected(key: ApiKey, up: Upload) -> tuple[FileContent, dict[str, str] | None]:
        job = partial(svc.sandbox.run, inspect_content, up.data, up.name, source=up.name)
        try:
            async with svc.turns.slot(key.name):
                got: FileContent = await anyio.to_thread.run_sync(job, limiter=svc.hashing)
        except Busy as exc:
            raise HttpError(429, str(exc)) from None
        except VigilError as exc:  # over its budget, or its worker died: said, not fatal
            return _digested(up, exc)
        return got, None

    @router.post("/reports", **doc(IngestedOut), openapi_extra=REPORT_BODY)
    async def take(request: Request, key: matcher) -> dict[str, Any]:
        settings = svc.reports.settings
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            total = svc.config.max_upload * max(1, settings.files)
            uploads, fields = await read_uploads(request, svc.config.max_upload, total,
                                                 settings.files, FIELD_LIMIT)  # fmt: skip
            text = fields.get("report")
            if text is None:
                raise UsageError("a multipart report needs its JSON in a field named 'report'")
        else:
            uploads, text = [], (await request.body()).decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"the report is not JSON: {exc}") from None
        if len({u.name for u in uploads}) < len(uploads):
            raise UsageError("two uploaded files have the same name")
        if not svc.follower.ready:
            await run_in_threadpool(svc.follower.require_ready)
        hashed = {u.name: await inspected(key, u) for u in uploads}
        contents = {name: got for name, (got, _) in hashed.items()}

        def ingest() -> dict[str, Any]:
            done = svc.reports.from_body(data, contents, f"POST /v1/reports by {key.name}")
            kept = _keep(svc, done, {u.name: u.data for u in uploads}, data)
            errors = [e for _, e in hashed.values() if e is not None]
            out: dict[str, Any] = done.as_dict()
            return out | {"kept": kept, "errors": errors}

        return await run_in_threadpool(ingest)

    @router.get("/reports/{report_id}", **doc(ReportOut))
    def report(report_id: RowId, key: curator) -> dict[str, Any]:
        from vigil.triage.views import report_view

        svc.keys.audit(key.name, "report.view", str(report_id), {})
        return report_view(svc.store, report_id)

    @router.get("/cases", **doc(CasesOut))
    def cases(key: curator, limit: Limit = 50, offset: Annotated[int, Query(ge=0)] = 0,
              priority: Annotated[int | None, Query(ge=1, le=5)] = None,
              jurisdiction: Annotated[str | None, Query(max_length=2)] = None
              ) -> dict[str, Any]:  # fmt: skip
        from vigil.triage.views import queue

        return {"cases": queue(svc.store, limit, offset, priority, jurisdiction)}

    @router.get("/cases/{case_id}", **doc(CaseOut))
    def case(case_id: RowId, key: curator, limit: Limit = 200) -> dict[str, Any]:
        from vigil.triage.views import case_view

        svc.keys.audit(key.name, "case.view", str(case_id), {})
        return case_view(svc.store, case_id, limit)

    @router.get("/cases/{case_id}/export")
    def export(case_id: RowId, key: curator,
               format: Literal["vics", "csv", "json"] = "vics") -> Response:  # fmt: skip
        from vigil.triage.exports import case_csv, case_vics
        from vigil.triage.views import case_view

        svc.keys.audit(key.name, "case.export", str(case_id), {"format": format})
        if format == "csv":
            return Response(case_csv(svc.store, case_id), media_type="text/csv")
        if format == "json":
            body = case_view(svc.store, case_id, limit=1_000_000)
            return Response(json.dumps(body), media_type="application/json")
        doc_, skipped = case_vics(svc.store, case_id)
        return Response(json.dumps(doc_), media_type="application/json",
                        headers={"X-Vigil-Skipped": str(skipped)})  # fmt: skip

    @router.post("/cases/{case_id}/tipline", **doc(FiledOut))
    def file(case_id: RowId, key: curator) -> dict[str, Any]:
        from vigil.triage.bundle import case_reports
        from vigil.triage.queue import TiplineQueue

        svc.keys.audit(key.name, "case.tipline", str(case_id), {})
        queue = TiplineQueue(svc.store)
        return {"case": case_id, "queued": [queue.add(r) for r in case_reports(svc.store, case_id)]}

    @router.post("/tipline/send", **doc(SentQueueOut))
    def send(key: curator) -> dict[str, Any]:
        """Send the CyberTipline queue now (as the schedule does): what was due, by the state
        it ended in; ``busy`` when another worker or instance is sending it."""
        if not svc.reports.settings.tipline_url:
            raise UsageError("no CyberTipline configured (vigil serve --tipline-credentials-file)")
        svc.keys.audit(key.name, "tipline.send", "", {})
        counts = svc.reports.send_queue()
        return {"busy": counts is None, "sent": counts or {}}

    @router.get("/series/{name}", **doc(SeriesOut))
    def series(name: str, key: curator) -> dict[str, Any]:
        from vigil.triage.views import series_view

        svc.keys.audit(key.name, "series.view", name[:300], {})
        return series_view(svc.store, name)

    return router


def _keep(svc: Any, done: Any, data: dict[str, bytes], body: dict[str, Any]) -> list[Any]:
    """Keep each uploaded file a matched list's rule keeps; per file, its kept id or None."""
    if done.duplicate:
        return []
    names = [str(f.get("name")) for f in body.get("files") or [] if isinstance(f, dict)]
    out: list[Any] = []
    rules = svc.actions.rules()
    for n, (name, matches) in enumerate(zip(names, done.matches, strict=False)):
        kept = svc.locker.keep(data[name], name, matches, rules) if name in data else None
        if kept is not None:
            svc.reports.triage().mark_kept(done.id, n, kept)
        out.append(kept)
    return out
