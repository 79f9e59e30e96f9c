"""StopNCII as an exchange: hash records become list entries as StopNCII files import
(``pdq:<hash>``, ``md5:<hash>`` for a video's MD5), with their cases, status and feedback in
``extra``; a record ``Withdrawn`` or ``Deleted`` (the hash, or every case) removes the entry, and
a later record for a hash replaces an earlier one. Each page is a window: its records are the
current snapshot of those hashes, so once a page is applied its ``nextSetTimestamp`` is the
checkpoint. A checkpoint older than StopNCII's retention (30 days since the last fetch) is
stale: the sync says so and fetches everything again rather than leave a silent gap."""

from __future__ import annotations

import json
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
from vigil.exchanges.clients.stopncii import BASE_URL, START, StopNciiClient
from vigil.lists import Entry
from vigil.lists.formats.stopncii import record_of

__all__ = ["StopNciiExchange"]

RETENTION = 30 * 86400
SIGNAL_TYPES = {"pdq": "ImagePDQ", "md5": "VideoMD5", "video_md5": "VideoMD5"}
SHARED = ("pdq", "video_md5")  # a local list's photo MD5 is not a video's: not sent


def keys(settings: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The subscription key and function keys: a JSON object in the credentials file or
    variable, ``{"subscription_key": ..., "fetch_function_key": ..., "submit_function_key":
    ..., "feedback_function_key": ...}`` (the last two only to send)."""
    try:
        raw = json.loads(secret(settings))
        sub = str(raw["subscription_key"])
    except (ValueError, KeyError, TypeError):
        raise UsageError("StopNCII credentials must be JSON with subscription_key and "
                         "fetch_function_key") from None  # fmt: skip
    names = {"fetch_function_key": "FetchHashes", "submit_function_key": "SubmitHashes",
             "feedback_function_key": "SubmitFeedback"}  # fmt: skip
    found = {endpoint: str(raw[k]) for k, endpoint in names.items() if raw.get(k)}
    if "FetchHashes" not in found:
        raise UsageError("StopNCII credentials need fetch_function_key")
    return sub, found


@exchanges.register
class StopNciiExchange(Exchange):
    name = "stopncii"
    description = "StopNCII hash API (FetchHashes; SubmitHashes and SubmitFeedback to send)"
    settings_help: ClassVar[dict[str, str]] = {
        "base_url": f"the API's base URL (default {BASE_URL})",
        "credentials_file": "a file holding the keys as JSON (subscription_key, "
        "fetch_function_key, ...)",
        "credentials_env": "an environment variable holding that JSON",
        "page_size": "records a page (default 800)",
        **COMMON_SETTINGS,
    }

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super().check_settings(settings)
        keys(settings)
        return settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.config.settings
        self.client = StopNciiClient(s.get("base_url", BASE_URL), *keys(s))
        self.client.http.backoff = float(s.get("retry_backoff", 1.0))
        self.page_size = int(s.get("page_size", 800))

    def close(self) -> None:
        self.client.close()

    def windows(self, checkpoint: dict[str, Any]) -> Iterator[Window]:
        start = int(checkpoint.get("start", START))
        stale = is_stale(checkpoint, RETENTION)
        if stale:
            start = START  # past retention: a gap could hide withdrawals; fetch it all again
        token = ""
        while True:
            page = self.client.fetch(start, token, self.page_size)
            records = [record_of(r, f"record {n}", "stopncii") for n, r in enumerate(page.records)]
            mark = {"start": page.next_timestamp, "fetched_at": time.time()}
            if stale:
                mark["refetched_stale"] = True
            yield Window(records, mark, len(page.records), done=not page.more)
            if not page.more:
                return
            token = page.next_token

    def feedback(self, items: list[Feedback]) -> int:
        """``SubmitFeedback``: a true positive is ``Blocked``, a false one ``NotBlocked``; the
        reason goes as a tag."""
        out = []
        for f in items:
            if f.signal_type not in SIGNAL_TYPES:
                raise UsageError(f"StopNCII has no signal type for {f.signal_type}")
            out.append({"signalType": SIGNAL_TYPES[f.signal_type], "hashValue": f.value,
                        "feedbackValue": "Blocked" if f.positive else "NotBlocked",
                        "tags": [f.reason] if f.reason else []})  # fmt: skip
        if out:
            self.client.submit_feedback(out)
        return len(out)

    def share(self, entries: list[Entry]) -> int:
        """``SubmitHashes``: each entry's PDQ and video MD5, as pytx submits them (with this
        platform's feedback ``Blocked``), in batches of a page."""
        now = int(time.time())
        records = [{"lastModtimestamp": now, "signalType": SIGNAL_TYPES[t], "hashValue": v,
                    "CSPFeedbacks": [{"tags": list(e.tags), "feedbackValue": "Blocked"}]}
                   for e in entries for t, v in e.signals if t in SHARED]  # fmt: skip
        for at in range(0, len(records), self.page_size):
            self.client.submit_hashes(records[at : at + self.page_size])
        return len(records)
