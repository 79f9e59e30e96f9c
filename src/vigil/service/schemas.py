"""The response shapes of the /v1 routes, declared for /openapi.json (so that clients can be
generated from it) and checked against real responses by the fuzzing test. Objects allow fields
beyond those listed: a newer server may add some, and a client must not break on them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "UPLOAD_BODY",
    "AuditOut",
    "BatchOut",
    "DeletedOut",
    "DeliveriesOut",
    "ErrorOut",
    "ExchangesOut",
    "HashOut",
    "ImportOut",
    "KeptOut",
    "KeyMade",
    "KeysOut",
    "ListOut",
    "ListsOut",
    "MatchOut",
    "QuarantineOut",
    "QuarantinedOut",
    "ReleasedOut",
    "RemovedOut",
    "RevokedOut",
    "RuleOut",
    "SentOut",
    "SyncOut",
    "doc",
    "error_responses",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Open):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorOut(_Open):
    """Every /v1 error: a type (the error's class) and a message naming the input."""

    error: ErrorDetail


class SignalOut(_Open):
    value: str
    quality: int | None = None
    usable: bool | None = None
    note: str | None = None


class HashError(_Open):
    type: str | None
    reason: str


class HashOut(_Open):
    size: int
    kind: str | None
    signals: dict[str, SignalOut]
    error: HashError | None = None
    warnings: list[str] | None = None


class MatchItem(_Open):
    list_name: str = Field(alias="list")
    entry: str
    kind: str = Field(description="exact, near_duplicate, altered_copy or shared_scene")
    signal_type: str
    distance: int
    variant: str
    category: int | None
    via: list[str]
    category_label: str | None = None
    action: str | None = None
    video: dict[str, Any] | None = None
    robust: dict[str, Any] | None = None
    tags: list[str] | None = None
    extra: dict[str, Any] | None = None
    negative: bool | None = Field(default=None, description="a match on a negative list")
    suppressed_by: str | None = Field(
        default=None, description="the negative list whose match suppressed this one"
    )


class MatchOut(_Open):
    outcome: str | None = Field(description="the most severe action of the matched lists")
    matches: list[MatchItem]
    kind: str | None = None
    error: str | None = None
    kept: int | None = None


class BatchResult(_Open):
    id: str
    outcome: str | None
    matches: list[MatchItem]


class BatchOut(_Open):
    results: list[BatchResult]


class ListOut(_Open):
    name: str
    ref: str
    description: str
    entries: int
    pdq_threshold: int | None
    category_labels: dict[str, str]
    created_at: str
    enabled_ratio: float
    negative: bool


class ListsOut(_Open):
    lists: list[ListOut]


class Problem(_Open):
    where: str
    reason: str


class ImportOut(_Open):
    source: str
    rows: int
    added: int
    updated: int
    unchanged: int
    removed: int
    problems: list[Problem]


class DeletedOut(_Open):
    deleted: str | int
    entries: int | None = None


class RemovedOut(_Open):
    removed: int


class RevokedOut(_Open):
    revoked: str


class RuleOut(_Open):
    outcome: str
    webhook_url: str | None
    keep_days: float | None


class KeyOut(_Open):
    name: str
    role: str
    created_at: str
    revoked: bool


class KeysOut(_Open):
    keys: list[KeyOut]


class KeyMade(_Open):
    name: str
    role: str
    key: str = Field(description="the secret, shown this once")


class AuditEntry(_Open):
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditOut(_Open):
    entries: list[AuditEntry]


class Delivery(_Open):
    id: int
    list_name: str = Field(alias="list")
    url: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str


class DeliveriesOut(_Open):
    deliveries: list[Delivery]


class ExchangeOut(_Open):
    name: str
    kind: str
    list_name: str = Field(alias="list")
    status: dict[str, Any]


class ExchangesOut(_Open):
    exchanges: list[ExchangeOut]


class SyncOut(_Open):
    state: str
    fetched: int
    added: int
    updated: int
    removed: int
    problems: int


class SentOut(_Open):
    sent: int


class QuarantinedOut(_Open):
    list: str
    entry: str
    since: str
    reason: str
    released_at: str | None
    released_by: str | None


class QuarantineOut(_Open):
    quarantine: list[QuarantinedOut]


class ReleasedOut(_Open):
    released: str


class KeptOut(_Open):
    content: list[dict[str, Any]]


ERROR_CODES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


def error_responses() -> dict[int | str, dict[str, Any]]:
    """What the /v1 routes answer on error, for their ``responses``."""
    return {code: {"model": ErrorOut} for code in ERROR_CODES}


def doc(model: type[BaseModel], status: int = 200) -> dict[str, Any]:
    """A route's decorator arguments that document its answer (``model``) and its errors; the
    answer is built by the route as it is (no second validation on the way out)."""
    return {"response_model": None, "status_code": status,
            "responses": {status: {"model": model}, **error_responses()}}  # fmt: skip


# an upload: a multipart form with the file in ``file``, or the file as the raw body
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
