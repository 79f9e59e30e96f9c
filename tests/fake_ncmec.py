"""A fake NCMEC hash-sharing server on 127.0.0.1, speaking the v2 protocol as NCMEC documents it
and python-threatexchange's client reads it (``hash_api.py``): HTTP Basic, ``/v2/entries`` with
``from``/``to``, pages of ``size`` entries linked by ``<paging><next>``, entries of a range in no
time order, ``<deletedImage>`` tombstones, every fingerprint type. Faults on demand: 429 with
Retry-After, 500, a body cut short, garbled XML; and a hook called on every request (the tests
kill a sync from it)."""

from __future__ import annotations

import base64
import bisect
import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
EPOCH = 1_700_000_000


def _hex(seed: str, digits: int) -> str:
    out = ""
    while len(out) < digits:
        out += hashlib.sha256((seed + str(len(out))).encode()).hexdigest()
    return out[:digits]


@dataclass
class FakeEntry:
    member: int
    id: int
    stamp: int
    video: bool = False
    deleted: bool = False
    classification: str = "A1"

    def fingerprints(self) -> dict[str, str]:
        seed = f"{self.member}:{self.id}"
        fps = {"md5": _hex(seed + "m", 32), "sha1": _hex(seed + "s", 40)}
        if not self.video:
            fps["pdq"] = _hex(seed + "p", 64)
            fps["pdna"] = base64.b64encode(bytes.fromhex(_hex(seed + "d", 64))).decode()
            fps["netclean"] = _hex(seed + "n", 40)
        return fps

    def xml(self) -> str:
        tag = ("deletedVideo" if self.video else "deletedImage") if self.deleted else (
            "video" if self.video else "image")  # fmt: skip
        when = datetime.fromtimestamp(self.stamp, UTC).strftime(STAMP)
        head = (f'<{tag}><member id="{self.member}">Member {self.member}</member>'
                f"<timestamp>{when}</timestamp><id>{self.id}</id>")  # fmt: skip
        if self.deleted:
            return head + f"</{tag}>"
        fps = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.fingerprints().items())
        return (head + f"<classification>{self.classification}</classification>"
                f"<fingerprints>{fps}</fingerprints></{tag}>")  # fmt: skip


def entries(count: int, members: int = 3, start: int = EPOCH, span: int = 40 * 86400
            ) -> list[FakeEntry]:  # fmt: skip
    """``count`` entries spread over ``span`` seconds, every 7th a video."""
    step = max(1, span // max(count, 1))
    return [FakeEntry(40 + i % members, 1000 + i, start + i * step, video=i % 7 == 0)
            for i in range(count)]  # fmt: skip


@dataclass
class FakeNcmec:
    entries: list[FakeEntry]
    page_size: int = 1000
    user: str = "esp-user"
    password: str = "esp-pass"
    faults: deque[str] = field(default_factory=deque)  # "429", "500", "truncate", "garble"
    on_request: Callable[[int], None] | None = None
    requests: int = 0
    # negative-feedback reasons a fingerprint type offers (guid -> name), and votes received
    reasons: dict[str, str] = field(default_factory=lambda: {
        "0a6f4f0e-0000-4000-8000-000000000001": "Not CSAM",
        "0a6f4f0e-0000-4000-8000-000000000002": "Poor quality hash"})  # fmt: skip
    votes: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ranges: dict[tuple[int, int, int], list[FakeEntry]] = field(default_factory=dict)
    _ordered: tuple[int, list[FakeEntry], list[int]] = (-1, [], [])

    def _chosen(self, lo: int, hi: int) -> list[FakeEntry]:
        """The entries of [lo, hi] in no time order (cached while the entries stay the same:
        a range is asked once a page)."""
        with self.lock:
            key = (lo, hi, len(self.entries))
            if key not in self._ranges:
                if self._ordered[0] != len(self.entries):
                    ordered = sorted(self.entries, key=lambda e: e.stamp)
                    self._ordered = (len(self.entries), ordered, [e.stamp for e in ordered])
                _, ordered, stamps = self._ordered
                part = ordered[bisect.bisect_left(stamps, lo) : bisect.bisect_right(stamps, hi)]
                part.sort(key=lambda e: hashlib.md5(str(e.id).encode()).digest())
                self._ranges = {key: part}
            return self._ranges[key]

    def reasons_xml(self) -> bytes:
        # attributes, as pytx reads them (``reason.str("guid")``)
        items = "".join(f'<reason guid="{g}" name="{escape(n)}"/>' for g, n in self.reasons.items())
        return (f'<?xml version="1.0" encoding="UTF-8"?><feedbackReasonsResult xmlns="{NS}">'
                f"<availableFeedbackReasons>{items}</availableFeedbackReasons>"
                "</feedbackReasonsResult>").encode()  # fmt: skip

    def page(self, query: dict[str, list[str]]) -> bytes:
        lo = int(datetime.strptime(query["from"][0], STAMP).replace(tzinfo=UTC).timestamp())
        hi = int(datetime.strptime(query["to"][0], STAMP).replace(tzinfo=UTC).timestamp())
        chosen = self._chosen(lo, hi)
        start = int(query.get("start", ["0"])[0])
        size = int(query.get("size", [str(self.page_size)])[0])
        part = chosen[start : start + size]
        body = [f'<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{NS}">']
        for video in (False, True):
            mine = [e for e in part if e.video == video]
            tag = "videos" if video else "images"
            if mine:
                top = datetime.fromtimestamp(max(e.stamp for e in mine), UTC).strftime(STAMP)
                body.append(f'<{tag} count="{len(mine)}" maxTimestamp="{top}">')
                body.extend(e.xml() for e in mine)
                body.append(f"</{tag}>")
        if start + size < len(chosen):
            nxt = (f"/v2/entries?from={query['from'][0]}&amp;to={query['to'][0]}"
                   f"&amp;start={start + size}&amp;size={size}&amp;max={len(chosen)}")  # fmt: skip
            body.append(f"<paging><next>{nxt}</next></paging>")
        body.append("</queryResult>")
        return "".join(body).encode()


@contextmanager
def serving(fake: FakeNcmec) -> Iterator[str]:
    """The fake's base URL (``http://127.0.0.1:PORT/hashsharing``), stopped afterwards."""
    auth = "Basic " + base64.b64encode(f"{fake.user}:{fake.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with fake.lock:
                fake.requests += 1
                count = fake.requests
                fault = fake.faults.popleft() if fake.faults else ""
            if fake.on_request is not None:
                fake.on_request(count)
            if self.headers.get("Authorization") != auth:
                return self._send(401, b"")
            url = urlsplit(self.path)
            if url.path.startswith("/hashsharing/v2/feedback/"):
                return self._send(200, fake.reasons_xml())
            if url.path != "/hashsharing/v2/entries":
                return self._send(404, b"")
            if fault in ("429", "500"):
                return self._send(int(fault), b"busy", {"Retry-After": "0"})
            body = fake.page(parse_qs(url.query))
            if fault == "garble":
                body = body[: len(body) // 2] + b"<<<" + body[len(body) // 2 :]
            if fault == "truncate":  # says it sends all of it, then stops halfway
                self._send(200, body[: len(body) // 2], length=len(body))
                self.close_connection = True
                return
            self._send(200, body)

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Authorization") != auth:
                return self._send(401, b"")
            if not self.path.endswith("/feedback"):
                return self._send(404, b"")
            with fake.lock:
                fake.votes.append((self.path.removeprefix("/hashsharing"), body))
            self._send(200, b"")

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                  length: int | None = None) -> None:  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hashsharing"
    finally:
        server.shutdown()
        server.server_close()
