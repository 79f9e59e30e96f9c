"""A fake CyberTipline Reporting API on 127.0.0.1, shaped on NCMEC's documented flow (as
FORMATS.md section 2a and the public clients describe it): HTTP Basic; ``/submit`` takes a
``report`` and validates it against the published schema (an invalid or out-of-order report
is answered ``responseCode`` 4100, as NCMEC does); ``/upload`` takes multipart ``id`` and
``file`` and answers the file id and its MD5; ``/fileinfo`` validates ``fileDetails``;
``/finish`` and ``/retract`` take ``id``. Faults on demand: a status such as 503, or
``refuse`` (responseCode 4100)."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.fake_http import served

USER, PASSWORD = "esp-user", "esp-pass"


@dataclass
class FakeTipline:
    schema_path: Path
    faults: deque[str] = field(default_factory=deque)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        from lxml import etree

        self.schema = etree.XMLSchema(etree.parse(str(self.schema_path)))

    def valid(self, body: bytes) -> bool:
        from lxml import etree

        try:
            return bool(self.schema.validate(etree.fromstring(body)))
        except etree.XMLSyntaxError:
            return False

    def answer(self, path: str, body: bytes, kind: str) -> tuple[int, dict[str, str]]:
        with self.lock:
            if path == "/submit":
                if not self.valid(body):
                    return 4100, {}
                rid = 9000 + len(self.reports)
                self.reports[rid] = {"report": body, "files": {}, "details": [], "state": "open"}
                return 0, {"reportId": str(rid)}
            if path == "/upload":
                form = _multipart(kind, body)
                rid = int(form["id"])
                fid = f"file-{len(self.reports[rid]['files'])}"
                self.reports[rid]["files"][fid] = form["file"]
                return 0, {"reportId": str(rid), "fileId": fid,
                           "hash": hashlib.md5(form["file"]).hexdigest()}  # fmt: skip
            if path == "/fileinfo":
                if not self.valid(body):
                    return 4100, {}
                self.reports[int(_text(body, "reportId"))]["details"].append(body)
                return 0, {}
            rid = int(parse_qs(body.decode())["id"][0])
            self.reports[rid]["state"] = "finished" if path == "/finish" else "retracted"
            return 0, {"reportId": str(rid)}


def _text(body: bytes, tag: str) -> str:
    import xml.etree.ElementTree as ET

    node = ET.fromstring(body).find(tag)
    return (node.text or "") if node is not None else ""


def _multipart(kind: str, body: bytes) -> dict[str, Any]:
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + body)
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        out[str(name)] = data if part.get_filename() else data.decode()
    return out


@contextmanager
def serving(fake: FakeTipline) -> Iterator[str]:
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with fake.lock:
                fault = fake.faults.popleft() if fake.faults else ""
            if self.headers.get("Authorization") != auth:
                return self._send(401, b"")
            if fault.isdigit():
                return self._send(int(fault), b"busy")
            code, more = fake.answer(self.path.removeprefix("/ispws"), body,
                                     self.headers.get("Content-Type", ""))  # fmt: skip
            if fault == "refuse":  # answered as NCMEC answers a report it will not take
                code, more = 4100, {}
            parts = "".join(f"<{k}>{v}</{k}>" for k, v in more.items())
            text = "Success" if code == 0 else "Report does not validate"
            self._send(200, (f"<reportResponse><responseCode>{code}</responseCode>"
                             f"<responseDescription>{text}</responseDescription>{parts}"
                             "</reportResponse>").encode())  # fmt: skip

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    with served(Handler, "/ispws") as url:
        yield url
