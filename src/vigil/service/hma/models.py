"""Request and response shapes of HMA's (OpenMediaMatch's) API, as its blueprints and schemas
declare them (hasher-matcher-actioner/src/OpenMediaMatch/schemas/)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BankConfig",
    "BankContent",
    "BankCreate",
    "BankUpdate",
    "ContentMetadata",
    "ContentUpdate",
    "Deleted",
    "HmaError",
    "MatchWithDistance",
    "Message",
    "RawLookup",
    "hma_errors",
]


class Message(BaseModel):
    message: str


class HmaError(BaseModel):
    """HMA's error body (``api_error_handler``); Vigil adds ``details`` to a request that does
    not validate."""

    message: str
    details: list[dict[str, Any]] | None = None


def hma_errors() -> dict[int | str, dict[str, Any]]:
    return {code: {"model": HmaError} for code in (400, 401, 403, 404, 413, 422, 429, 503)}


class BankConfig(BaseModel):
    name: str
    matching_enabled_ratio: float


class BankCreate(BaseModel):
    name: str = Field(max_length=200)
    enabled_ratio: float | None = Field(default=None, ge=0, le=1)  # Coop sends it as a string
    enabled: bool | None = None


class BankUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    enabled_ratio: float | None = Field(default=None, ge=0, le=1)
    enabled: bool | None = None


class ContentMetadata(BaseModel):
    """What a client says about banked content (HMA's ``BankedContentMetadata``)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    content_id: str | None = Field(default=None, max_length=1000)
    content_uri: str | None = Field(default=None, max_length=4000)
    json_data: dict[str, Any] | None = Field(default=None, alias="json")


class BankContent(BaseModel):
    id: int
    disable_until_ts: int
    original_media_uri: str | None = None
    bank: BankConfig
    signals: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    note: str | None = None


class ContentUpdate(BaseModel):
    disable_until_ts: int | None = None
    note: str | None = Field(default=None, max_length=255)


class Deleted(BaseModel):
    deleted: int


class MatchWithDistance(BaseModel):
    bank_content_id: int
    distance: str


class RawLookup(BaseModel):
    matches: list[int | MatchWithDistance]
