"""The shapes of the triage routes' answers (issue 19), for /openapi.json and the fuzzing
test. Objects allow more fields than listed (see :mod:`vigil.service.schemas`)."""

from __future__ import annotations

from typing import Any

from vigil.service.schemas import _Open

__all__ = ["REPORT_BODY", "CaseOut", "CasesOut", "FiledOut", "IngestedOut", "ReportOut",
           "SentQueueOut", "SeriesOut"]  # fmt: skip


class IngestedOut(_Open):
    id: int
    duplicate: bool
    priority: int
    reasons: list[str]
    case: int | None = None
    files: list[dict[str, Any]]
    geolocation: dict[str, Any] | None = None
    kept: list[int | None]
    errors: list[dict[str, str]]


class CaseRow(_Open):
    id: int
    user: str | None
    priority: int
    reports: int
    files: int
    jurisdiction: str


class CasesOut(_Open):
    cases: list[CaseRow]


class CaseOut(CaseRow):
    reasons: list[str]
    report_list: list[dict[str, Any]]
    file_list: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    geolocation: dict[str, Any]


class ReportOut(_Open):
    id: int
    priority: int
    reasons: list[str]
    report: dict[str, Any]
    files: list[dict[str, Any]]


class FiledOut(_Open):
    case: int
    queued: list[int]


class SentQueueOut(_Open):
    busy: bool
    sent: dict[str, int]


class SeriesOut(_Open):
    series: str
    clusters: list[dict[str, Any]]
    cases: list[int]


# a report: its JSON, or a multipart form of the JSON (``report``) and the files (``file``)
REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "report": {"type": "string", "description": "the report's JSON"},
                        "file": {"type": "array",
                                 "items": {"type": "string", "format": "binary"}},
                    },
                    "required": ["report"],
                }
            },
        },
    }
}  # fmt: skip
