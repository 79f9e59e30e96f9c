"""Exchanges over HTTP (role ``curator``): their state, a sync now (its changes matchable when
it returns), feedback on upstream hashes, and a local list shared out. Every call is written
to the audit log."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from vigil.service.keys import ApiKey
from vigil.service.schemas import ExchangesOut, QuarantineOut, ReleasedOut, SentOut, SyncOut, doc

__all__ = ["exchange_routes"]


class FeedbackItem(BaseModel):
    type: str = Field(max_length=40)
    value: str = Field(max_length=2000)
    verdict: Literal["true_positive", "false_positive"]
    reason: str = Field(default="", max_length=500)


class FeedbackIn(BaseModel):
    items: list[FeedbackItem] = Field(min_length=1, max_length=1000)


class ReleaseIn(BaseModel):
    list: str = Field(max_length=200)
    entry: str = Field(max_length=300, description="the entry's key")


class ShareIn(BaseModel):
    list: str = Field(max_length=200, description="the local list whose hashes to send")


def exchange_routes(svc: Any, role: Callable[[str], Callable[..., Awaitable[ApiKey]]]
                    ) -> APIRouter:  # fmt: skip
    router = APIRouter(prefix="/v1/exchanges")
    curator = Annotated[ApiKey, Depends(role("curator"))]

    @router.get("", **doc(ExchangesOut))
    def listing(key: curator) -> dict[str, Any]:
        from vigil.exchanges import ExchangeStore

        rows = ExchangeStore(svc.store).all()
        return {"exchanges": [{"name": c.name, "kind": c.kind, "list": c.list_name,
                               "status": c.status} for c in rows]}  # fmt: skip

    @router.get("/quarantine", **doc(QuarantineOut))
    def quarantined(key: curator, released: bool = False) -> dict[str, Any]:
        from vigil.exchanges.flood import Quarantine

        return {"quarantine": [q.as_dict() for q in Quarantine(svc.store).all(released)]}

    @router.post("/quarantine/release", **doc(ReleasedOut))
    def release(body: ReleaseIn, key: curator) -> dict[str, Any]:
        from vigil.exchanges.flood import Quarantine

        Quarantine(svc.store).release(body.list, body.entry, key.name)
        svc.floods.read_at = -float("inf")  # this worker answers with it released at once
        svc.keys.audit(key.name, "quarantine.release", f"{body.list}:{body.entry}", {})
        return {"released": f"{body.list}:{body.entry}"}

    @router.post("/{name}/sync", **doc(SyncOut))
    def sync_now(name: str, key: curator) -> dict[str, Any]:
        status: dict[str, Any] = svc.syncer.sync(name)  # matchable when this returns
        svc.keys.audit(key.name, "exchange.sync", name, {"fetched": status["fetched"]})
        return status

    @router.post("/{name}/feedback", **doc(SentOut))
    def send_feedback(name: str, body: FeedbackIn, key: curator) -> dict[str, Any]:
        from vigil.exchanges import Feedback, feedback

        items = [Feedback(i.type, i.value, i.verdict == "true_positive", i.reason)
                 for i in body.items]  # fmt: skip
        svc.keys.audit(key.name, "exchange.feedback", name,
                       {"items": [i.model_dump() for i in body.items]})  # fmt: skip
        return {"sent": feedback(svc.store, name, items)}

    @router.post("/{name}/share", **doc(SentOut))
    def share_list(name: str, body: ShareIn, key: curator) -> dict[str, Any]:
        from vigil.exchanges import share

        sent = share(svc.store, name, body.list)
        svc.keys.audit(key.name, "exchange.share", name, {"list": body.list, "sent": sent})
        return {"sent": sent}

    return router
