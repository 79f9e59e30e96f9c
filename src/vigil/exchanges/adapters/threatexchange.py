"""Meta's ThreatExchange as an exchange: a privacy group's ``threat_updates`` become list
entries keyed ``te:<indicator id>``, with each descriptor (its id, owner, status, tags) and the
reactions in ``extra``; a tombstone (``should_delete``, or no descriptor left: pytx issue #834)
removes the entry. Updates come in time order, so each page is applied and then its latest
``last_updated`` is the checkpoint. A checkpoint older than ThreatExchange's retention (85 days
since the last fetch, as pytx counts) is stale: the sync says so and fetches everything again.

Indicator types become Vigil's signals as pytx maps them: ``HASH_PDQ`` is ``pdq``,
``HASH_VIDEO_MD5`` (or ``HASH_MD5`` tagged ``media_type_video``) ``video_md5``, ``HASH_MD5``
``md5`` (pytx drops photo MD5; Vigil does not), ``HASH_SHA1``, ``HASH_SHA256`` and
``HASH_VIDEO_SHA256`` the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from vigil.errors import UsageError
from vigil.exchanges.base import (
    COMMON_SETTINGS,
    Exchange,
    Feedback,
    Window,
    exchanges,
    is_stale,
    secret,
)
from vigil.exchanges.clients.threatexchange import BASE_URL, ThreatExchangeClient
from vigil.lists import Entry, Record, Removal, RowProblem
from vigil.lists.formats.base import signal_or_problem

__all__ = ["ThreatExchangeExchange", "update_record"]

RETENTION = 85 * 86400
VIDEO_TAG = "media_type_video"
SIGNALS = {
    "HASH_PDQ": "pdq",
    "HASH_VIDEO_MD5": "video_md5",
    "HASH_MD5": "md5",
    "HASH_SHA1": "sha1",
    "HASH_SHA256": "sha256",
    "HASH_VIDEO_SHA256": "video_sha256",
}
VIDEO_OF = {"md5": "video_md5", "sha256": "video_sha256"}
INDICATOR_OF = {"pdq": "HASH_PDQ", "video_md5": "HASH_VIDEO_MD5", "md5": "HASH_MD5",
                "sha1": "HASH_SHA1", "sha256": "HASH_SHA256",
                "video_sha256": "HASH_VIDEO_SHA256"}  # fmt: skip


def _tags(descriptor: dict[str, Any]) -> list[str]:
    tags = descriptor.get("tags") or []
    if isinstance(tags, dict):  # the Graph API's edge shape: {"data": [{"text": ...}]}
        tags = [t.get("text", "") for t in tags.get("data") or [] if isinstance(t, dict)]
    return sorted(str(t) for t in tags if t)


def update_record(update: Any, where: str) -> tuple[int, Record]:
    """One ``threat_updates`` item: (its time, the record it makes)."""
    if not isinstance(update, dict) or "id" not in update:
        return 0, RowProblem(where, "an update that is not an object with an id")
    stamp = int(update.get("last_updated") or 0)
    key = f"te:{update['id']}"
    descriptors = [d for d in (update.get("descriptors") or {}).get("data") or []
                   if isinstance(d, dict) and "owner" in d]  # fmt: skip
    if update.get("should_delete") or not descriptors:
        return stamp, Removal(key, "ThreatExchange deleted it")
    kind = str(update.get("type", ""))
    if kind not in SIGNALS:
        return stamp, RowProblem(where, f"indicator type {kind!r} is not one Vigil has")
    tags = sorted({t for d in descriptors for t in _tags(d)})
    signal_type = SIGNALS[kind]
    if VIDEO_TAG in tags and signal_type in VIDEO_OF:
        signal_type = VIDEO_OF[signal_type]
    got = signal_or_problem(signal_type, str(update.get("indicator", "")), where, "threatexchange")
    if isinstance(got, RowProblem):
        return stamp, got
    extra = {"te_type": kind, "last_updated": stamp, "descriptors": [
        {"id": str(d.get("id")), "owner": str((d.get("owner") or {}).get("id", "")),
         "status": d.get("status"), "tags": _tags(d), "reactions": d.get("reactions") or []}
        for d in descriptors]}  # fmt: skip
    return stamp, Entry(key=key, signals=[got], tags=tags, extra=extra)


@exchanges.register
class ThreatExchangeExchange(Exchange):
    name = "threatexchange"
    description = "Meta ThreatExchange: a privacy group's threat_updates (Graph API)"
    settings_help: ClassVar[dict[str, str]] = {
        "privacy_group": "the ThreatPrivacyGroup id",
        "base_url": f"the Graph API's base URL (default {BASE_URL})",
        "credentials_file": "a file holding the app's access token (<app id>|<secret>)",
        "credentials_env": "an environment variable holding it (pytx's is TX_ACCESS_TOKEN)",
        "page_size": "updates a page (default 500)",
        "share_level": "the share level of descriptors shared out (default AMBER)",
        **COMMON_SETTINGS,
    }

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super().check_settings(settings)
        if not str(settings.get("privacy_group", "")).isdigit():
            raise UsageError("a threatexchange exchange needs privacy_group (its id)")
        secret(settings)
        return settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.config.settings
        self.group = int(s["privacy_group"])
        self.client = ThreatExchangeClient(secret(s), s.get("base_url", BASE_URL))
        self.client.http.backoff = float(s.get("retry_backoff", 1.0))
        self.page_size = int(s.get("page_size", 500))

    def close(self) -> None:
        self.client.close()

    def windows(self, checkpoint: dict[str, Any]) -> Iterator[Window]:
        latest = int(checkpoint.get("update_time", 0))
        stale = is_stale(checkpoint, RETENTION)
        if stale:
            latest = 0  # past retention: deletions may be gone upstream; fetch it all again
        # from a second before the last update applied: updates of that second on the page
        # after it are fetched again (harmless), never skipped however start_time counts
        start = max(0, latest - 1)
        for n, page in enumerate(self.client.updates(self.group, start, None, self.page_size)):
            records: list[Record] = []
            for i, update in enumerate(page.updates):
                stamp, rec = update_record(update, f"page {n} update {i}")
                latest = max(latest, stamp)
                records.append(rec)
            mark: dict[str, Any] = {"update_time": latest, "fetched_at": time.time()}
            if stale:
                mark["refetched_stale"] = True
            yield Window(records, mark, len(page.updates), done=not page.next)

    def feedback(self, items: list[Feedback]) -> int:
        """A reaction on each of the entry's descriptors: ``HELPFUL`` for a true positive,
        ``DISAGREE_WITH_TAGS`` for a false one (what pytx reads as a negative opinion)."""
        sent = 0
        for f in items:
            for entry in f.entries:
                for d in entry.extra.get("descriptors") or []:
                    self.client.react(d["id"], "HELPFUL" if f.positive else "DISAGREE_WITH_TAGS")
                    sent += 1
        return sent

    def share(self, entries: list[Entry]) -> int:
        """Each entry's signals ThreatExchange has a type for, as descriptors in the privacy
        group (status MALICIOUS, the entry's tags)."""
        sent = 0
        for e in entries:
            for signal_type, value in e.signals:
                if signal_type not in INDICATOR_OF:
                    continue
                self.client.share({
                    "indicator": value, "type": INDICATOR_OF[signal_type],
                    "description": f"shared from Vigil ({e.key})",
                    "share_level": self.config.settings.get("share_level", "AMBER"),
                    "status": "MALICIOUS", "privacy_type": "HAS_PRIVACY_GROUP",
                    "privacy_members": self.group, "tags": ",".join(e.tags)})  # fmt: skip
                sent += 1
        return sent
