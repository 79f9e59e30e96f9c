"""Triage in the service (issue 19): reports taken in over HTTP (hashes only, or with their
files, each hashed and inspected once in a sandboxed worker), reports made by the list action
``report`` from a matched upload, and the CyberTipline queue sent on a schedule by whichever
worker or instance holds its lease. Content is kept only where a matched list's rule says so
(sealed, expiring, audited, as for matches), and a kept file is uploaded with its report."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.errors import UsageError, VigilError
from vigil.matching.hashing import HashResult
from vigil.service.periodic import Periodic
from vigil.triage.cases import Ingested, Triage
from vigil.triage.content import FileContent
from vigil.triage.geo import Geo
from vigil.triage.intake import report_from_dict
from vigil.triage.model import Report
from vigil.triage.rules import load_rules

__all__ = ["ReportDesk", "ReportSettings"]

log = logging.getLogger(__name__)
LEASE = "~tipline"  # the queue's lease, beside the exchanges' (whose names cannot hold "~")
DIGESTS = ("md5", "sha1", "sha256", "pdq")


@dataclass(frozen=True)
class ReportSettings:
    contact: str = ""  # the platform's contact email for reports the service makes
    platform: str = ""
    rules: Path | None = None  # priority rules (TOML)
    geoip: Path | None = None  # an operator's MaxMind database
    files: int = 20  # files with content in one POST /v1/reports
    tipline_url: str | None = None  # the Reporting API (None: the queue is not sent)
    tipline_credentials: Path | None = None  # user:password
    tipline_every: float = 300.0  # seconds between sends of the queue


class ReportDesk:
    """The service's triage: one :class:`Triage` per process (made on first use), taking one
    report at a time."""

    def __init__(self, svc: Any, settings: ReportSettings) -> None:
        self.svc, self.settings = svc, settings
        self._triage: Triage | None = None
        self._one = threading.Lock()
        self._every = Periodic("vigil-tipline", settings.tipline_every, self._send_said)

    def triage(self) -> Triage:
        if self._triage is None:
            rules = load_rules(self.settings.rules) if self.settings.rules else None
            self._triage = Triage(self.svc.store, rules, Geo(self.settings.geoip), shared=True,
                                  lock=self.svc.lock)  # fmt: skip
        return self._triage

    def ingest(self, report: Report, source: str, contents: list[FileContent | None]) -> Ingested:
        with self._one:
            return self.triage().ingest(report, source, contents, self.svc.matcher(None))

    # -- reports over HTTP -----------------------------------------------------------------
    def from_body(self, data: Any, uploads: dict[str, FileContent], source: str) -> Ingested:
        """A report from its JSON (``data``) and the files uploaded with it (by name): their
        hashes filled in where the JSON gives none."""
        if not isinstance(data, dict):
            raise UsageError("a report is a JSON object (docs/triage.md)")
        listed = data.get("files")
        files = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
        named = {str(f.get("name")) for f in files}
        if stray := sorted(set(uploads) - named):
            raise UsageError(f"uploaded file {stray[0]!r} is not one of the report's files")
        for f in files:
            got = uploads.get(str(f.get("name")))
            if got is not None:
                f["hashes"] = {**_digests(got.result), **(f.get("hashes") or {})}
        report = report_from_dict(data, source)
        return self.ingest(report, source, [uploads.get(f.name) for f in report.files])

    def from_match(self, result: HashResult, name: str, matches: list[dict[str, Any]],
                   kept: int | None, user: str | None, url: str | None) -> Ingested:  # fmt: skip
        """The report a ``report`` list action makes of a matched upload."""
        lists = sorted({m["list"] for m in matches if m.get("action") == "report"})
        data: dict[str, Any] = {
            "incident_type": "csam", "incident_at": datetime.now(UTC).isoformat(),
            "platform": self.settings.platform, "reporter": {"email": self.settings.contact},
            "files": [{"name": name, "hashes": _digests(result)}],
            "text": f"Made by Vigil: the upload matched list(s) {', '.join(lists)}, whose "
                    "action is report.",
        }  # fmt: skip
        if url:
            data["urls"] = [url]
        if user:
            data["users"] = [{"esp_id": user}]
        report = report_from_dict(data, f"upload {name}")
        done = self.ingest(report, f"list action report: {name}", [FileContent(result)])
        if kept is not None and not done.duplicate:
            self.triage().mark_kept(done.id, 0, kept)
        return done

    # -- the CyberTipline queue on a schedule ----------------------------------------------
    def start(self) -> None:
        if self.settings.tipline_url:
            self._every.start()

    def stop(self) -> None:
        self._every.stop()

    def _send_said(self) -> None:
        try:
            self.send_queue()
        except VigilError as exc:  # said, and tried again at the next turn
            log.warning("CyberTipline queue: %s", exc)

    def send_queue(self) -> dict[str, int] | None:
        """Send what is due, if this process gets the queue's lease; how many ended in each
        state (None: another worker or instance holds it)."""
        from vigil.exchanges import ExchangeStore
        from vigil.exchanges.base import secret
        from vigil.exchanges.sync import holder_name
        from vigil.triage.queue import TiplineQueue
        from vigil.triage.tipline import TiplineClient

        leases, holder = ExchangeStore(self.svc.store), holder_name()
        if not leases.acquire(LEASE, holder, max(60.0, self.settings.tipline_every)):
            return None
        path = self.settings.tipline_credentials
        user, _, password = secret({"credentials_file": str(path)}).partition(":")
        client = TiplineClient(str(self.settings.tipline_url), user, password)
        try:
            return TiplineQueue(self.svc.store).send_due(client, self._contents)
        finally:
            client.close()
            leases.release(LEASE, holder)

    def _contents(self, report: Report) -> dict[str, bytes]:
        """The kept content of the report's files, each opening audited."""
        out = {}
        for f in report.files:
            if f.kept is not None:
                self.svc.keys.audit("vigil", "tipline.upload", str(f.kept), {"name": f.name})
                out[f.name] = self.svc.locker.open(f.kept)[1]
        return out


def _digests(result: HashResult) -> dict[str, str]:
    return {t: s.value for t, s in result.signals.items() if t in DIGESTS and s.usable}
