"""A fake ThreatExchange Graph API on 127.0.0.1, shaped on the protocol as python-threatexchange's
client speaks it (``fb_threatexchange/api.py``, ``threat_updates.py``): ``access_token`` on every
call, ``GET /<group>/threat_updates/`` in time order from ``start_time`` with ``limit``, the next
page a whole URL in ``paging.next``; updates with ``descriptors.data`` (owner, status, tags,
reactions) or ``should_delete``; ``POST /<descriptor>/`` reactions and ``POST
/threat_descriptors/`` recorded; 429 with Retry-After, 500 and garbled pages on demand."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fake_http import JsonHandler, served

TOKEN = "1234567890|fake-app-secret-abcdefghij"
GROUP = 303


def update(n: int, stamp: int, kind: str = "HASH_PDQ", deleted: bool = False,
           tags: tuple[str, ...] = ("csam",)) -> dict[str, Any]:  # fmt: skip
    digest = hashlib.sha256(f"te-{n}".encode()).hexdigest()
    value = digest if kind in ("HASH_PDQ", "HASH_SHA256", "HASH_VIDEO_SHA256") else (
        digest[:40] if kind == "HASH_SHA1" else digest[:32])  # fmt: skip
    out: dict[str, Any] = {"id": str(9000 + n), "indicator": value, "type": kind,
                           "last_updated": stamp, "should_delete": deleted}  # fmt: skip
    if not deleted:
        out["descriptors"] = {"data": [{
            "id": str(7000 + n), "owner": {"id": "555"}, "status": "MALICIOUS",
            "tags": list(tags), "added_on": "2026-01-01T00:00:00+0000",
            "reactions": [{"key": "HELPFUL", "value": "556,557"}]}]}  # fmt: skip
    return out


@dataclass
class FakeThreatExchange:
    updates: list[dict[str, Any]]
    faults: deque[str] = field(default_factory=deque)  # "429", "500", "garble"
    posted: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, base: str, path: str, query: dict[str, str]) -> dict[str, Any]:
        start = int(query.get("start_time") or 0)
        stop = int(query["stop_time"]) if query.get("stop_time") else None
        types = set(query["types"].split(",")) if query.get("types") else None
        limit, after = int(query.get("limit") or 100), int(query.get("after") or 0)
        with self.lock:
            chosen = sorted((u for u in self.updates if u["last_updated"] >= start
                             and (stop is None or u["last_updated"] < stop)
                             and (types is None or u["type"] in types)),
                            key=lambda u: u["last_updated"])  # fmt: skip
        out: dict[str, Any] = {"data": chosen[after : after + limit]}
        if after + limit < len(chosen):
            more = {**query, "after": str(after + limit)}
            out["paging"] = {"cursors": {"after": str(after + limit)},
                             "next": f"{base}{path}?{urlencode(more)}"}  # fmt: skip
        return out


@contextmanager
def serving(fake: FakeThreatExchange) -> Iterator[str]:
    """The fake's base URL (``http://127.0.0.1:PORT/v21.0``)."""

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with fake.lock:
                fault = fake.faults.popleft() if fake.faults else ""
            if query.get("access_token") != TOKEN:
                return self._send(400, {"error": {"message": "Invalid OAuth access token"}})
            if fault == "garble":  # a page cut off mid-JSON, said to be whole
                return self._raw(200, b'{"data": [{"id": "90')
            if fault:
                return self._send(int(fault), {"error": {"message": "busy"}}, {"Retry-After": "0"})
            if url.path != f"/v21.0/{GROUP}/threat_updates/":
                return self._send(404, {"error": {"message": "unknown path"}})
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            self._send(200, fake.page(base, url.path, query))

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            form |= {k: v[0] for k, v in parse_qs(url.query).items()}
            if form.pop("access_token", None) != TOKEN:
                return self._send(400, {"error": {"message": "Invalid OAuth access token"}})
            with fake.lock:
                fake.posted.append((url.path, form))
                made = len(fake.posted)
            self._send(200, {"id": str(8000 + made)} if "threat_descriptors" in url.path
                       else {"success": True})  # fmt: skip

    with served(Handler, "/v21.0") as url:
        yield url
