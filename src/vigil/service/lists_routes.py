"""List management over HTTP (role ``curator``): create, list, delete, add and remove entries,
import (the body is streamed to a private temporary file, imported in one transaction by a
low-priority child process, then deleted) and export. Every call is written to the audit
log."""

import hashlib
import shutil
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import FileResponse
from prometheus_client import Gauge
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError, MediaTooLarge, UnknownFormat, UsageError
from vigil.lists import Entry, Removal, RowProblem, detect, formats
from vigil.lists.model import normalized_signal
from vigil.service.importer import import_in_child, work_folder
from vigil.service.keys import ApiKey
from vigil.service.schemas import (
    DeletedOut,
    ImportOut,
    ListOut,
    ListsOut,
    RemovedOut,
    RuleOut,
    doc,
    error_responses,
)

__all__ = ["SignalIn", "list_routes"]

MAX_IMPORT = 4 * 2**30  # bytes of one imported list file
# an import's body: the list file as it is, in any format Vigil reads
LIST_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}  # fmt: skip
EXPORT = {"description": "the list file", "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}  # fmt: skip


class SignalIn(BaseModel):
    """One signal value, as a client sends it (matching, or a list entry)."""

    type: str = Field(max_length=40)
    value: str = Field(max_length=2_000_000)


class EntryIn(BaseModel):
    key: str = Field(min_length=1, max_length=300)
    signals: list[SignalIn] = Field(max_length=64)
    category: int | None = None
    series: str | None = None
    victim_identified: bool | None = None
    source: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=100)
    comments: str | None = None


class EntriesIn(BaseModel):
    entries: list[EntryIn] = Field(max_length=10_000)


class ActionIn(BaseModel):
    outcome: str = Field(max_length=20)
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, max_length=500)
    keep_days: float | None = None  # keep matching uploads (encrypted) this long, for review


class RenameIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ListIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    pdq_threshold: int | None = None
    category_labels: dict[str, str] | None = None
    negative: bool = False  # known-benign hashes that suppress other matches


def _record(n: int, e: EntryIn) -> Entry | RowProblem:
    """An entry as sent, its signals checked (a bad one is that entry's problem, not the
    request's)."""
    try:
        sigs = [normalized_signal(s.type, s.value, f"entry {n}") for s in e.signals]
    except InputError as exc:
        return RowProblem(f"entry {n}", exc.reason)
    return Entry(e.key, sigs, e.category, e.series, e.victim_identified, e.source, e.tags,
                 e.comments)  # fmt: skip


def list_routes(svc: Any, role: Callable[[str], Callable[..., Awaitable[ApiKey]]]) -> APIRouter:
    router = APIRouter(prefix="/v1/lists")
    curator = Annotated[ApiKey, Depends(role("curator"))]
    store = svc.store

    @router.get("", **doc(ListsOut))
    def all_lists(key: curator) -> dict[str, Any]:
        return {"lists": [info.as_dict() for info in store.all_lists()]}

    @router.post("", **doc(ListOut, 201))
    def create(body: ListIn, key: curator) -> dict[str, Any]:
        info = store.create_list(body.name, body.description, body.pdq_threshold,
                                 body.category_labels, body.negative)  # fmt: skip
        svc.changed()
        svc.keys.audit(key.name, "list.create", body.name, body.model_dump())
        result: dict[str, Any] = info.as_dict()
        return result

    @router.post("/{name}/rename", **doc(ListOut))
    def rename(name: str, body: RenameIn, key: curator) -> dict[str, Any]:
        info = store.rename_list(name, body.name)
        svc.changed()
        svc.keys.audit(key.name, "list.rename", info.name, {"from": name})
        result: dict[str, Any] = info.as_dict()
        return result

    @router.delete("/{name}", **doc(DeletedOut))
    def delete(name: str, key: curator) -> dict[str, Any]:
        removed = store.delete_list(name)
        svc.changed()
        svc.keys.audit(key.name, "list.delete", name, {"entries": removed})
        return {"deleted": name, "entries": removed}

    @router.post("/{name}/entries", **doc(ImportOut))
    def add(name: str, body: EntriesIn, key: curator) -> dict[str, Any]:
        records = [_record(n, e) for n, e in enumerate(body.entries)]
        report = store.apply(name, records, source=f"HTTP by {key.name}")
        svc.changed()
        svc.keys.audit(key.name, "entries.add", name, {"entries": len(records)})
        result: dict[str, Any] = report.as_dict()
        return result

    @router.delete("/{name}/entries/{entry}", **doc(RemovedOut))
    def remove(name: str, entry: str, key: curator) -> dict[str, Any]:
        report = store.apply(name, [Removal(entry, f"removed by {key.name}")])
        svc.changed()
        svc.keys.audit(key.name, "entries.remove", name, {"key": entry})
        return {"removed": report.removed}

    @router.post("/{name}/import", **doc(ImportOut), openapi_extra=LIST_BODY)
    async def import_file(name: str, request: Request, key: curator, format: str | None = None,
                          signal_type: str | None = None) -> dict[str, Any]:  # fmt: skip
        store.get_list(name)  # NotFound before reading the body
        folder = work_folder()
        path = folder / "upload"
        try:
            await _save(request, path)
            with path.open("rb") as fh:
                fmt = format or detect(fh.read(4096))
            if fmt is None:
                raise UnknownFormat("cannot tell the list's format: give ?format=")
            formats.get(fmt)  # UnknownFormat now rather than in the import process
            options = {"signal_type": signal_type} if signal_type else {}

            def run() -> dict[str, Any]:
                with _progress(svc.metrics.import_rows) as progress:
                    return import_in_child(store, name, path, fmt, options,
                                           f"HTTP import by {key.name}", progress)  # fmt: skip

            result = await run_in_threadpool(run)
            await run_in_threadpool(svc.changed)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        svc.keys.audit(key.name, "list.import", name, {"format": fmt, "rows": result["rows"]})
        return result

    @router.put("/{name}/action", **doc(RuleOut))
    def set_action(name: str, body: ActionIn, key: curator) -> dict[str, Any]:
        store.get_list(name)
        svc.actions.set(name, body.outcome, body.webhook_url, body.webhook_secret, body.keep_days)
        shown = {"outcome": body.outcome, "webhook_url": body.webhook_url,
                 "keep_days": body.keep_days}  # fmt: skip
        svc.keys.audit(key.name, "list.action", name, shown)
        return shown

    @router.get("/{name}/export", responses={200: EXPORT, **error_responses()})
    def export(name: str, key: curator, format: str = "vics",
               if_none_match: Annotated[str | None, Header()] = None) -> Response:  # fmt: skip
        writer = formats.get(format)
        if not writer.can_write:
            raise UsageError(f"{format} is an import-only format")
        version = hashlib.sha256(f"{format}:{store.list_version(name)}".encode()).hexdigest()
        etag = f'"{version[:32]}"'
        if if_none_match == etag:  # a peer following the list: nothing changed
            return Response(status_code=304, headers={"ETag": etag})
        folder = work_folder()
        tmp = folder / "export"
        try:
            with tmp.open("wb") as fh:
                result = writer.write(store.iter_entries(name), fh)
        except BaseException:
            shutil.rmtree(folder)
            raise
        svc.keys.audit(key.name, "list.export", name, {"format": format, "entries": result.written})
        # what the format could not hold is counted, never dropped unsaid
        counts = {"X-Vigil-Written": str(result.written),
                  "X-Vigil-Skipped": str(len(result.skipped)), "ETag": etag}  # fmt: skip
        return FileResponse(tmp, filename=f"{name}.{format}", headers=counts,
                            background=BackgroundTask(shutil.rmtree, folder, True))  # fmt: skip

    return router


@contextmanager
def _progress(gauge: Gauge) -> Iterator[Callable[[int], None]]:
    """A progress callback (rows written so far) that counts them into ``gauge`` while the
    import runs."""
    shown = 0

    def update(rows: int) -> None:
        nonlocal shown
        gauge.inc(rows - shown)
        shown = rows

    try:
        yield update
    finally:
        gauge.dec(shown)


async def _save(request: Request, path: Path) -> None:
    size = 0
    with path.open("wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_IMPORT:
                raise MediaTooLarge("import", f"over the limit of {MAX_IMPORT:,} bytes")
            fh.write(chunk)
