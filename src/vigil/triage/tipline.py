"""Filing a report with NCMEC's CyberTipline Reporting API (issue 19): HTTP Basic, XML
(``text/xml``). ``POST /submit`` (the ``report``) gives a report id; ``POST /upload``
(multipart ``id`` and ``file``) a file id and the file's MD5; ``POST /fileinfo`` takes each
file's ``fileDetails``; ``POST /finish`` (``id``) closes it, ``POST /retract`` (``id``)
withdraws it. Every answer carries ``responseCode`` (0: done). A non-zero code is permanent
(:class:`ReportRefused`: the report must be mended); an unreachable or failing server is not
(:class:`ReportUndelivered`: retry later; a report left unfinished is retracted first)."""

from __future__ import annotations

import contextlib
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from vigil.errors import ExchangeUnavailable, ReportRefused, ReportUndelivered
from vigil.exchanges.http import Retrying
from vigil.triage.cybertip import file_details_xml, report_xml
from vigil.triage.model import Report

__all__ = ["ENVIRONMENTS", "Filed", "TiplineClient", "file_report"]

ENVIRONMENTS = {"production": "https://report.cybertip.org/ispws",
                "test": "https://exttest.cybertip.org/ispws"}  # fmt: skip
XML = {"Content-Type": "text/xml; charset=utf-8"}


@dataclass
class Filed:
    """What was sent: the report id, each file's id, and the documents themselves."""

    report_id: int
    file_ids: dict[str, str] = field(default_factory=dict)  # file name -> file id
    documents: list[bytes] = field(default_factory=list)  # the report, then each fileDetails


class TiplineClient:
    def __init__(self, base_url: str, user: str, password: str, backoff: float = 1.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = Retrying(httpx.Client(auth=(user, password), timeout=120), backoff=backoff)

    def close(self) -> None:
        self.http.client.close()

    def _post(self, path: str, **kwargs: Any) -> dict[str, str]:
        try:
            response = self.http.request("POST", f"{self.base_url}{path}", **kwargs)
        except ExchangeUnavailable as exc:
            raise ReportUndelivered(str(exc)) from None
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError:
            raise ReportUndelivered(f"the CyberTipline's answer to {path} was not XML") from None
        answer = {c.tag: (c.text or "").strip() for c in root}
        code = int(answer.get("responseCode", "-1") or -1)
        if code != 0:
            raise ReportRefused(code, answer.get("responseDescription", ""))
        return answer

    def submit(self, document: bytes) -> int:
        return int(self._post("/submit", content=document, headers=XML)["reportId"])

    def upload(self, report_id: int, name: str, data: bytes) -> str:
        answer = self._post("/upload", data={"id": str(report_id)}, files={"file": (name, data)})
        if answer.get("hash") and answer["hash"].lower() != hashlib.md5(data).hexdigest():
            raise ReportUndelivered(f"{name} arrived damaged (its MD5 differs)")
        return answer["fileId"]

    def file_info(self, document: bytes) -> None:
        self._post("/fileinfo", content=document, headers=XML)

    def finish(self, report_id: int) -> None:
        self._post("/finish", data={"id": str(report_id)})

    def retract(self, report_id: int) -> None:
        self._post("/retract", data={"id": str(report_id)})


def file_report(client: TiplineClient, report: Report, contents: dict[str, bytes]) -> Filed:
    """Submit ``report``, upload each of its files whose content is at hand (``contents``,
    by file name: what an operator's rule kept) with its details, and finish. A file whose
    content is not kept is named, with its hashes, in the report's text instead. Where a step
    fails after the submit, the report is retracted (never left half-filed) and the error
    raised."""
    missing = [f for f in report.files if f.name not in contents]
    if missing:
        listed = "; ".join(f"{f.name}: " + ", ".join(f"{k} {v}" for k, v in f.hashes.items())
                           for f in missing)  # fmt: skip
        text = (report.text + "\n" if report.text else "") + f"Files not kept: {listed}"
        report = replace(report, text=text)
    document = report_xml(report)
    filed = Filed(client.submit(document), documents=[document])
    try:
        for f in report.files:
            if f.name in contents:
                file_id = client.upload(filed.report_id, f.name, contents[f.name])
                details = file_details_xml(filed.report_id, file_id, f)
                client.file_info(details)
                filed.file_ids[f.name], filed.documents = file_id, [*filed.documents, details]
        client.finish(filed.report_id)
    except (ReportRefused, ReportUndelivered):
        # a retract that fails too is left for later; the first error is the one to tell
        with contextlib.suppress(ReportRefused, ReportUndelivered):
            client.retract(filed.report_id)
        raise
    return filed
