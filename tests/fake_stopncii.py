"""A fake StopNCII hash API on 127.0.0.1, shaped on the protocol as python-threatexchange's client
speaks it (``stopncii/api.py``): both keys on every call, ``FetchHashes`` in time order with
``nextPageToken``, ``nextSetTimestamp`` and ``hasMoreRecords``, records that a later one for the
same hash replaces, ``Withdrawn``/``Deleted`` statuses, ``SubmitFeedback`` and ``SubmitHashes``
recorded; 429 with Retry-After on demand."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import JsonHandler, served

SUBSCRIPTION, FETCH_KEY, FEEDBACK_KEY = "sub-key", "fetch-key", "feedback-key"


def record(n: int, stamp: int, status: str = "Active", video: bool = False) -> dict[str, Any]:
    digest = hashlib.sha256(f"stopncii-{n}".encode()).hexdigest()
    return {"lastModtimestamp": stamp, "signalType": "VideoMD5" if video else "ImagePDQ",
            "hashValue": digest[:32] if video else digest, "hashStatus": status,
            "caseNumbers": {f"case-{n}": status}, "CSPFeedbacks": []}  # fmt: skip


@dataclass
class FakeStopNcii:
    records: list[dict[str, Any]]
    faults: deque[str] = field(default_factory=deque)
    posted: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fetch(self, query: dict[str, list[str]]) -> dict[str, Any]:
        start = int(query.get("startTimestamp", ["10"])[0])
        size = int(query.get("pageSize", ["800"])[0])
        offset = int(query.get("nextPageToken", ["tok-0"])[0].removeprefix("tok-"))
        with self.lock:
            chosen = sorted((r for r in self.records if r["lastModtimestamp"] >= start),
                            key=lambda r: r["lastModtimestamp"])  # fmt: skip
        page = chosen[offset : offset + size]
        more = offset + size < len(chosen)
        last = page[-1]["lastModtimestamp"] if page else start
        return {"count": len(page), "hashRecords": page, "hasMoreRecords": more,
                "nextPageToken": f"tok-{offset + size}" if more else None,
                "nextSetTimestamp": last}  # fmt: skip


@contextmanager
def serving(fake: FakeStopNcii) -> Iterator[str]:
    keys = {"/v1/FetchHashes": FETCH_KEY, "/v1/SubmitFeedback": FEEDBACK_KEY,
            "/v1/SubmitHashes": FEEDBACK_KEY}  # fmt: skip

    class Handler(JsonHandler):
        def _allowed(self, path: str) -> bool:
            return (self.headers.get("Ocp-Apim-Subscription-Key") == SUBSCRIPTION
                    and self.headers.get("x-functions-key") == keys.get(path))  # fmt: skip

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            with fake.lock:
                fault = fake.faults.popleft() if fake.faults else ""
            if not self._allowed(url.path):
                return self._send(401, {"message": "bad keys"})
            if fault:
                return self._send(int(fault), {"message": "busy"}, {"Retry-After": "0"})
            self._send(200, fake.fetch(parse_qs(url.query)))

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if not self._allowed(url.path):
                return self._send(401, {"message": "bad keys"})
            with fake.lock:
                fake.posted.append((url.path, body))
            self._send(200, {})

    with served(Handler, "/v1") as url:
        yield url
