"""HMA's curation routes (``/c``): banks (Vigil's lists), their content (entries, by integer
content id) and the signal and content types. Every change is written to the audit log."""

import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from vigil.errors import ListNotFound, UsageError
from vigil.lists import Removal
from vigil.service.hma.content import bank_of, content_entry, content_of, get_content, new_entry
from vigil.service.hma.matching import require_media
from vigil.service.hma.media import json_body, read_media
from vigil.service.hma.models import (
    BankConfig,
    BankCreate,
    BankUpdate,
    ContentMetadata,
    Deleted,
    Message,
    hma_errors,
)
from vigil.service.keys import ApiKey
from vigil.signals import registry

__all__ = ["bank_routes"]

HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")  # what HMA accepts; Vigil's own rule is wider
Role = Callable[[str], Callable[..., Awaitable[ApiKey]]]


def _check_name(name: str) -> str:
    if not HMA_BANK_NAME.fullmatch(name) or len(name) > 100:
        raise UsageError("Bank names must be UPPER_WITH_UNDERSCORE (HMA's rule)")
    return name


def bank_routes(svc: Any, role: Role) -> APIRouter:
    router = APIRouter(prefix="/c", tags=["HMA: curation"], responses=hma_errors())
    curator = Annotated[ApiKey, Depends(role("curator"))]
    reader = Annotated[ApiKey, Depends(role("match"))]
    store = svc.store

    def changed(key: ApiKey, action: str, target: str, detail: dict[str, Any]) -> None:
        svc.changed()
        svc.keys.audit(key.name, action, target, {**detail, "api": "hma"})

    @router.get("/banks")
    def banks(key: curator) -> list[BankConfig]:
        return [bank_of(info) for info in store.all_lists(counts=False)]

    @router.post("/banks", status_code=201)
    def create(body: BankCreate, key: curator) -> BankConfig:
        ratio = body.enabled_ratio
        if ratio is None:
            ratio = 1.0 if body.enabled in (None, True) else 0.0
        store.create_list(_check_name(body.name))
        info = store.set_enabled_ratio(body.name, ratio)
        changed(key, "list.create", body.name, {"enabled_ratio": ratio})
        return bank_of(info)

    @router.get("/bank/{bank_name}", responses={404: {"model": Message}})
    def show(bank_name: str, key: curator) -> BankConfig:
        return bank_of(store.get_list(bank_name))

    @router.put("/bank/{bank_name}", responses={404: {"model": Message}})
    def update(bank_name: str, body: BankUpdate, key: curator) -> BankConfig:
        info = store.get_list(bank_name)
        if body.name is not None and body.name != info.name:
            info = store.rename_list(info.name, _check_name(body.name))
            changed(key, "list.rename", info.name, {"from": bank_name})
        ratio = body.enabled_ratio
        if ratio is None and body.enabled is not None:
            ratio = 1.0 if body.enabled else 0.0
        if ratio is not None:
            info = store.set_enabled_ratio(info.name, ratio)
            changed(key, "list.enabled_ratio", info.name, {"enabled_ratio": ratio})
        return bank_of(info)

    @router.delete("/bank/{bank_name}")
    def delete(bank_name: str, key: curator) -> Message:
        try:  # HMA answers 200 for a bank that is not there
            removed = store.delete_list(bank_name)
        except ListNotFound:
            return Message(message="Done")
        changed(key, "list.delete", bank_name, {"entries": removed})
        return Message(message="Done")

    def add(key: ApiKey, bank: str, signals: dict[str, str], metadata: ContentMetadata | None,
            note: str | None) -> dict[str, Any]:  # fmt: skip
        store.get_list(bank)
        entry = new_entry(signals, metadata, note, f"HMA API by {key.name}")
        report = store.apply(bank, [entry], source=f"HMA API by {key.name}")
        if report.problems:
            raise UsageError(report.problems[0].reason)
        changed(key, "entries.add", bank, {"entries": 1})
        return {"id": store.entry_id(bank, entry.key), "signals": dict(entry.signals)}

    @router.post("/bank/{bank_name}/signal")
    async def add_signals(bank_name: str, request: Request, key: curator) -> dict[str, Any]:
        body = await _json_object(request)
        note = _note(body.pop("note", None))
        signals = {str(t): v for t, v in body.items()}
        if not all(isinstance(v, str) for v in signals.values()):
            raise UsageError("each signal must be a string")
        return await run_in_threadpool(add, key, bank_name, signals, None, note)

    @router.post("/bank/{bank_name}/content")
    async def add_content(bank_name: str, request: Request, key: curator,
                          url: str | None = None) -> dict[str, Any]:  # fmt: skip
        await run_in_threadpool(store.get_list, bank_name)  # 404 before reading the upload
        upload, fields = await read_media(svc, request, url)
        result = await svc.hash_upload(key, upload, None, False)
        require_media(upload.name, result)
        signals = {t: sv.value for t, sv in result.signals.items()}
        metadata, note = _metadata(fields), _note(fields.get("note"))
        return await run_in_threadpool(add, key, bank_name, signals, metadata, note)

    @router.get("/bank/{bank_name}/content/{content_id}", responses={404: {"model": Message}})
    def get(bank_name: str, content_id: int, key: curator, include_signals: bool = False,
            include_metadata: bool = True) -> dict[str, Any]:  # fmt: skip
        info, entry = get_content(store, bank_name, content_id)
        return content_of(info, entry, include_signals, include_metadata)

    @router.put("/bank/{bank_name}/content/{content_id}", responses={404: {"model": Message}})
    async def update_content(bank_name: str, content_id: int, request: Request,
                             key: curator) -> dict[str, Any]:  # fmt: skip
        body = await _json_object(request)

        def run() -> dict[str, Any]:
            info, entry = get_content(store, bank_name, content_id)
            until = body.get("disable_until_ts")
            if until is not None and not (isinstance(until, int) or str(until).isdigit()):
                raise UsageError("disable_until_ts must be a non-negative integer")
            entry = content_entry(entry, None if until is None else int(until),
                                  _note(body.get("note")), "note" in body)  # fmt: skip
            store.apply(info.name, [entry], source=f"HMA API by {key.name}")
            changed(key, "entries.update", info.name, {"content_id": content_id})
            return content_of(*get_content(store, bank_name, content_id), True, True)

        return await run_in_threadpool(run)

    @router.delete("/bank/{bank_name}/content/{content_id}")
    def delete_content(bank_name: str, content_id: int, key: curator) -> Deleted:
        info, entry = get_content(store, bank_name, content_id)
        report = store.apply(info.name, [Removal(entry.key, f"removed by {key.name}")])
        changed(key, "entries.remove", info.name, {"content_id": content_id})
        return Deleted(deleted=report.removed)

    @router.get("/signal_type")
    def signal_types(key: reader) -> list[dict[str, Any]]:
        return [{"name": name, "enabled_ratio": 1.0} for name in registry.names()]

    @router.get("/content_type")
    def content_types(key: reader) -> list[dict[str, Any]]:
        return [{"name": "photo", "enabled": True}, {"name": "video", "enabled": True}]

    return router


async def _json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body


def _note(note: Any) -> str | None:
    if not note:
        return None
    if not isinstance(note, str) or len(note) > 255:
        raise UsageError("note must be a string of at most 255 characters")
    return note


def _metadata(fields: dict[str, Any]) -> ContentMetadata | None:
    """What a client said about the content: HMA's ``metadata`` object (JSON body or form
    field), or Coop's way, ``content_id`` and ``content_uri`` fields beside a ``metadata``
    field that holds the free-form ``json`` part."""
    raw = fields.get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise UsageError("metadata must be valid JSON") from None
    if raw is not None and not isinstance(raw, dict):
        raise UsageError("metadata should be a json object")
    raw = dict(raw or {})
    raw.pop("collab", None)
    coop = "content_id" in fields or "content_uri" in fields  # Coop: 'metadata' is the json part
    if raw and coop and not set(raw) <= {"content_id", "content_uri", "json"}:
        raw = {"json": raw}
    for name in ("content_id", "content_uri"):
        if isinstance(fields.get(name), str):
            raw.setdefault(name, fields[name])
    if not raw:
        return None
    try:
        return ContentMetadata(**raw)
    except ValueError as exc:
        raise UsageError(f"Invalid metadata: {str(exc)[:300]}") from None
