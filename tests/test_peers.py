"""Peers read what Vigil writes: python-threatexchange's own clients and parsers, not a copy
of our idea of them (issue 17)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vigil.lists import Entry, formats
from vigil.signals.pdq import EXAMPLE_PDQ

hash_api = pytest.importorskip(
    "threatexchange.exchanges.clients.ncmec.hash_api", reason="pytx is in the peers extra"
)


@pytest.fixture
def serve_once() -> Iterator[tuple[list[bytes], str]]:
    """A loopback server answering every GET with the body put in the list (the last one)."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(bodies[-1])))
            self.end_headers()
            self.wfile.write(bodies[-1])

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bodies, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pytx_ncmec_client_reads_vigils_ncmec_export(serve_once: tuple[list[bytes], str]) -> None:
    bodies, url = serve_once
    entries = [
        Entry("ncmec:42:1001", [("md5", "900150983cd24fb0d6963f7d28e17f72"),
                                ("pdq", EXAMPLE_PDQ[0])],
              extra={"member": "Example ESP", "timestamp": "2024-01-02T03:04:05Z",
                     "classification": "A1"}),
        Entry("ncmec:42:1002", [("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d")],
              extra={"timestamp": "2024-03-01T00:00:00Z"}),
        Entry("ncmec:7:55", [("md5", "d41d8cd98f00b204e9800998ecf8427e")],
              extra={"media_type": "video", "timestamp": "2023-05-06T07:08:09Z"}),
    ]  # fmt: skip
    out = io.BytesIO()
    assert formats.get("ncmec").write(entries, out).written == 3
    bodies.append(out.getvalue())
    client = hash_api.NCMECHashAPI("user", "pass", hash_api.NCMECEnvironment.Industry)
    client._base_url = url  # the peer's own request and parsing code, against loopback
    response = client.get_entries(start_timestamp=0, end_timestamp=2_000_000_000)
    got = {(u.member_id, u.id, u.entry_type.value): u for u in response.updates}
    assert set(got) == {(42, "1001", "image"), (42, "1002", "image"), (7, "55", "video")}
    first = got[(42, "1001", "image")]
    assert first.classification == "A1"
    assert first.fingerprints == {"md5": "900150983cd24fb0d6963f7d28e17f72", "pdq": EXAMPLE_PDQ[0]}
    assert response.max_timestamp == 1709251200  # 2024-03-01T00:00:00Z, the latest image
    again = list(formats.get("ncmec").read(io.BytesIO(out.getvalue()), "export"))
    assert sorted(e.key for e in again if isinstance(e, Entry)) == sorted(e.key for e in entries)


def test_pytx_stopncii_client_reads_vigils_stopncii_export(
    serve_once: tuple[list[bytes], str],
) -> None:
    api = pytest.importorskip("threatexchange.exchanges.clients.stopncii.api")
    bodies, url = serve_once
    feedback = [{"source": "csp-1", "feedbackValue": "Blocked", "tags": ["t"]}]
    source = {"hashRecords": [
        {"lastModtimestamp": 1700000000, "signalType": "ImagePDQ", "hashValue": EXAMPLE_PDQ[0],
         "hashStatus": "Received", "caseNumbers": {"c1": "Received"}, "CSPFeedbacks": feedback},
        {"lastModtimestamp": 1700000005, "signalType": "VideoMD5",
         "hashValue": "900150983cd24fb0d6963f7d28e17f72", "hashStatus": "Active",
         "caseNumbers": {"c2": "Active"}}]}  # fmt: skip
    imported = list(formats.get("stopncii").read(io.BytesIO(json.dumps(source).encode()), "s"))
    photo = Entry("md5:d41d8cd98f00b204e9800998ecf8427e",  # an image's MD5: not StopNCII's
                  [("md5", "d41d8cd98f00b204e9800998ecf8427e")])  # fmt: skip
    out = io.BytesIO()
    written = formats.get("stopncii").write([*imported, photo], out)
    assert (written.written, [k for k, _ in written.skipped]) == (2, [photo.key])
    bodies.append(out.getvalue())
    client = api.StopNCIIAPI("sub", "fetch", base_url_override=url)
    response = client.fetch_hashes()
    assert (response.count, response.hasMoreRecords, response.nextSetTimestamp) == (
        2, False, 1700000005)  # fmt: skip
    by_type = {r.signalType.value: r for r in response.hashRecords}
    assert by_type["ImagePDQ"].hashStatus.value == "Received"
    assert [f.feedbackValue.value for f in by_type["ImagePDQ"].CSPFeedbacks] == ["Blocked"]
    assert by_type["VideoMD5"].hashValue == "900150983cd24fb0d6963f7d28e17f72"


def test_pytx_local_file_api_reads_vigils_te_lines_export(tmp_path: Path) -> None:
    """pytx reads the signals it knows and passes over Vigil's annotation lines."""
    from threatexchange.exchanges.impl.file_api import (
        FileCollaborationConfig,
        LocalFileSignalExchangeAPI,
    )
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from tests.test_formats import RICH

    path = tmp_path / "export.txt"
    with path.open("wb") as fh:
        formats.get("te-lines").write(RICH, fh)
    collab = FileCollaborationConfig(filename=str(path), name="vigil")
    api = LocalFileSignalExchangeAPI.for_collab(collab)
    (delta,) = api.fetch_iter([], None)
    types = [PdqSignal, VideoMD5Signal, VPDQSignal]
    by_type = api.naive_convert_to_signal_type(types, collab, delta.updates)
    assert set(by_type[PdqSignal]) == {EXAMPLE_PDQ[0], EXAMPLE_PDQ[1]}
    assert set(by_type[VideoMD5Signal]) == {"e2fc714c4727ee9395f324cd2e7f331f"}
    assert len(by_type[VPDQSignal]) == 1
    (vpdq,) = by_type[VPDQSignal]
    VPDQSignal.validate_signal_str(vpdq)  # pytx's own check of the value


def test_pytx_csv_readers_see_pytx_columns(tmp_path: Path) -> None:
    """What ``threatexchange dataset --csv`` writes, a csv.DictReader reads; so it reads
    Vigil's te-csv, whose signal rows pytx's signal types all accept."""
    import csv

    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from tests.test_formats import RICH

    out = io.BytesIO()
    formats.get("te-csv").write(RICH, out)
    known = {t.get_name(): t for t in (PdqSignal, VideoMD5Signal, VPDQSignal)}
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert {r["signal_type"] for r in rows} == set(known)  # every pytx type RICH holds, only
    for row in rows:
        assert known[row["signal_type"]].validate_signal_str(row["signal_str"])
