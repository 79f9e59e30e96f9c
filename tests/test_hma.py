"""The HMA-compatible routes, against a real `vigil serve`: the calls of HMA's own API tests
(OpenMediaMatch/tests/test_api*.py, test_match_api.py) and of ROOST's Coop (hmaService), replayed
with the answers those tests expect (issue 17)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.service_kit import PHOTOS, serving
from vigil.service import KeyStore
from vigil.store import Store

SPECIMEN1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
SPECIMEN2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"
PHOTO = sorted((PHOTOS / "known").glob("*.jpg"))[0]
OTHER = sorted((PHOTOS / "known").glob("*.jpg"))[1]


class Hma:
    def __init__(self, url: str, keys: dict[str, str]) -> None:
        self.url, self.keys = url, keys

    def client(self, role: str | None = "curator", header: str = "X-API-Key") -> httpx.Client:
        headers = {header: self.keys[role]} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[tuple[Store, dict[str, str]]]:
    store = Store.open(tmp_path / "home")
    keys = KeyStore(store)
    yield store, {role: keys.create(f"{role}-key", role) for role in ("match", "curator")}
    store.close()


@pytest.fixture
def hma(empty: tuple[Store, dict[str, str]]) -> Iterator[Hma]:
    store, keys = empty
    with serving(store) as url:
        yield Hma(url, keys)


def _photo(path: Path = PHOTO, field: str = "photo") -> dict[str, tuple[str, bytes, str]]:
    return {field: (path.name, path.read_bytes(), "image/jpeg")}


def test_status_and_banks_as_hma_tests_expect(hma: Hma) -> None:
    with hma.client() as c:
        assert c.get("/status").text in ("I-AM-ALIVE", "INDEX-NOT-LOADED")  # 503 while loading
        assert c.get("/m/lookup", params={"signal_type": "pdq", "signal": SPECIMEN1}).json() == {}
        status = c.get("/status")  # a lookup waits for the indexes: they are loaded now
        assert (status.status_code, status.text) == (200, "I-AM-ALIVE")
        assert c.get("/c/banks").json() == []
        for bad in ("01_TEST_BANK", "my_test_bank"):
            refused = c.post("/c/banks", json={"name": bad})
            assert refused.status_code == 400
            assert "message" in refused.json()
        made = c.post("/c/banks", json={"name": "MY_TEST_BANK_01"})
        assert made.status_code == 201
        assert made.json() == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}
        assert c.get("/c/banks").json() == [made.json()]
        assert c.post("/c/banks", json={"name": "MY_TEST_BANK_01"}).status_code == 403
        assert c.put("/c/bank/MY_TEST_BANK_01", json={"name": "1_invalid"}).status_code == 400
        renamed = c.put("/c/bank/MY_TEST_BANK_01", json={"name": "RENAMED"})
        assert renamed.json()["name"] == "RENAMED"
        off = c.put("/c/bank/RENAMED", json={"enabled": False})
        assert off.json()["matching_enabled_ratio"] == 0
        half = c.put("/c/bank/RENAMED", json={"enabled_ratio": 0.5})
        assert half.json()["matching_enabled_ratio"] == 0.5
        assert c.get("/c/banks").json() == [{"name": "RENAMED", "matching_enabled_ratio": 0.5}]
        assert c.get("/c/bank/NOPE").status_code == 404
        assert c.delete("/c/bank/RENAMED").status_code == 200
        assert c.delete("/c/bank/RENAMED").status_code == 200  # HMA: deleting nothing is fine
        types = {t["name"] for t in c.get("/c/signal_type").json()}
        assert {"pdq", "video_md5", "vpdq"} <= types
        assert [t["name"] for t in c.get("/c/content_type").json()] == ["photo", "video"]


def test_content_by_upload_and_signal_then_lookups(hma: Hma) -> None:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    with hma.client() as c:
        c.post("/c/banks", json={"name": "BANK_A"})
        c.post("/c/banks", json={"name": "BANK_B"})
        added = c.post("/c/bank/BANK_A/content", files=_photo()).json()
        pdq = PdqSignal.hash_from_bytes(PHOTO.read_bytes())  # pytx's own PDQ of the file
        assert added["signals"]["pdq"] == pdq
        cid = added["id"]
        assert isinstance(cid, int)
        again = c.post("/c/bank/BANK_A/content", files=_photo()).json()
        assert again["id"] == cid  # the same content is one content id
        other = c.post("/c/bank/BANK_B/signal", json={"pdq": pdq, "note": "benign note"}).json()
        assert other["id"] != cid
        raw = c.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}).json()
        assert sorted(raw["matches"]) == sorted([cid, other["id"]])
        only_a = {"signal_type": "pdq", "signal": pdq, "banks": "BANK_A", "include_distance": True}
        assert c.get("/m/raw_lookup", params=only_a).json() == {
            "matches": [{"bank_content_id": cid, "distance": "0"}]
        }
        found = c.get("/m/lookup", params={"signal_type": "pdq", "signal": pdq}).json()
        assert found == {"BANK_A": [{"bank_content_id": cid, "distance": "0"}],
                         "BANK_B": [{"bank_content_id": other["id"], "distance": "0"}]}  # fmt: skip
        by_file = c.post("/m/lookup", files=_photo()).json()
        assert by_file["pdq"]["BANK_A"] == [{"bank_content_id": cid, "distance": "0"}]
        assert by_file["md5"]["BANK_A"][0]["bank_content_id"] == cid
        hashed = c.post("/h/hash", files=_photo()).json()
        assert hashed["pdq"] == pdq
        assert c.post("/m/lookup", files=_photo(OTHER)).json()["pdq"] == {}


def test_enabled_ratio_and_disabled_content_as_in_hma(hma: Hma) -> None:
    pdq = "f" * 16 + "0" * 16 + "f" * 16 + "0" * 16
    with hma.client() as c:
        c.post("/c/banks", json={"name": "OFF"})
        cid = c.post("/c/bank/OFF/signal", json={"pdq": pdq}).json()["id"]
        c.put("/c/bank/OFF", json={"enabled_ratio": 0})
        query = {"signal_type": "pdq", "signal": pdq}
        assert c.get("/m/lookup", params=query).json() == {}
        assert "OFF" in c.get("/m/lookup", params={**query, "bypass_coinflip": True}).json()
        assert c.get("/m/raw_lookup", params=query).json() == {"matches": [cid]}
        c.put("/c/bank/OFF", json={"enabled_ratio": 1})
        later = int(time.time()) + 365 * 86400
        updated = c.put(f"/c/bank/OFF/content/{cid}", json={"disable_until_ts": later})
        assert updated.json()["disable_until_ts"] == later
        assert c.get("/m/lookup", params=query).json() == {}  # disabled for a year
        assert c.get("/m/raw_lookup", params=query).json() == {"matches": [cid]}
        too_far = c.put(f"/c/bank/OFF/content/{cid}", json={"disable_until_ts": 9999999999})
        assert too_far.status_code == 400
        assert c.put(f"/c/bank/OFF/content/{cid}", json={"disable_until_ts": 1}).status_code == 200
        assert "OFF" in c.get("/m/lookup", params=query).json()
        assert c.delete(f"/c/bank/OFF/content/{cid}").json() == {"deleted": 1}
        assert c.get(f"/c/bank/OFF/content/{cid}").status_code == 404
        assert c.get(f"/c/bank/NOPE/content/{cid}").status_code == 404


def test_content_metadata_hma_way_and_coop_way(hma: Hma) -> None:
    metadata = {"content_id": "ext-id-123", "content_uri": "https://example.com/item/123",
                "json": {"source": "test", "nested": {"key": "value"}}}  # fmt: skip
    with hma.client() as c:
        c.post("/c/banks", json={"name": "META"})
        sent = {"metadata": '{"invalid_metadata": 5}'}
        assert c.post("/c/bank/META/content", files=_photo(), data=sent).status_code == 400
        hma_way = c.post("/c/bank/META/content", files=_photo(),
                         data={"metadata": json_text(metadata)}).json()  # fmt: skip
        got = c.get(f"/c/bank/META/content/{hma_way['id']}").json()
        assert got["metadata"] == metadata
        assert "signals" not in got
        assert "pdq" in c.get(f"/c/bank/META/content/{hma_way['id']}",
                              params={"include_signals": "true"}).json()["signals"]  # fmt: skip
        bare = c.get(f"/c/bank/META/content/{hma_way['id']}", params={"include_metadata": "false"})
        assert "metadata" not in bare.json()
        # Coop's addContentToBank: the file under its content type, content_id and content_uri
        # as fields, and 'metadata' holding only the free-form json part
        coop = c.post("/c/bank/META/content", files=_photo(OTHER),
                      data={"content_id": "coop-1", "metadata": '{"k": 1}'}).json()  # fmt: skip
        got = c.get(f"/c/bank/META/content/{coop['id']}").json()
        assert got["metadata"] == {"content_id": "coop-1", "json": {"k": 1}}


def json_text(value: object) -> str:
    import json

    return json.dumps(value)


def test_compare_as_hma_tests_expect(hma: Hma) -> None:
    with hma.client("match") as c:
        assert c.post("/m/compare", json={"pdq": [SPECIMEN1, SPECIMEN2]}).json() == {
            "pdq": [True, {"distance": 9}]
        }
        a, b = "0" * 32, "f" * 32  # an exact type: equal or not, no distance (pytx's md5)
        assert c.post("/m/compare", json={"md5": [a, a.upper()], "video_md5": [a, b]}).json() == {
            "md5": [True, {}],
            "video_md5": [False, {}],
        }
        for bad in (["banana"], {"pdq": "banana"}, {"pdq": []}, {"pdq": ["banana", "banana"]},
                    {"pdq": [SPECIMEN1, SPECIMEN2, SPECIMEN1]}):  # fmt: skip
            assert c.post("/m/compare", json=bad).status_code == 400
        status = c.get("/m/index/status").json()
        assert set(status["pdq"]) == {"present", "built_to", "size"}


def test_coop_calls(hma: Hma) -> None:
    """hmaService: createBank sends enabled_ratio as a string; updateBank PUTs the ratio;
    getBank's GET decides whether the bank still exists (404); lookupContent by signal."""
    with hma.client() as c:
        made = c.post("/c/banks", json={"name": "ORG1_CSAM", "enabled_ratio": "1"})
        assert made.status_code == 201
        assert c.put("/c/bank/ORG1_CSAM", json={"enabled_ratio": 0.25}).status_code == 200
        assert c.get("/c/bank/ORG1_CSAM").json()["matching_enabled_ratio"] == 0.25
        assert c.get("/c/bank/ORG1_GONE").status_code == 404
        params = {"signal_type": "pdq", "signal": SPECIMEN1}
        assert c.get("/m/lookup", params=params).json() == {}


def test_keys_are_needed_and_errors_are_hma_shaped(hma: Hma) -> None:
    with hma.client(None) as c:
        refused = c.get("/m/lookup", params={"signal_type": "pdq", "signal": SPECIMEN1})
        assert refused.status_code == 401
        assert set(refused.json()) == {"message"}
        assert c.get("/status").status_code == 200  # health needs no key
    with hma.client("match") as c:
        assert c.get("/c/banks").status_code == 403
        bad = c.get("/m/lookup", params={"signal_type": "pdq", "signal": "xyz"})
        assert bad.status_code == 400
        assert "message" in bad.json()
        assert c.get("/m/lookup", params={"signal_type": "nope", "signal": "x"}).status_code == 400
    with hma.client("match", header="Authorization") as c:
        c.headers["Authorization"] = "Bearer " + hma.keys["match"]
        assert c.get("/c/content_type").status_code == 200


@pytest.fixture
def image_server() -> Iterator[str]:
    body = PHOTO.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/image1.jpg":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_fetching_is_off_unless_allowed_and_never_private(
    empty: tuple[Store, dict[str, str]], image_server: str
) -> None:
    store, keys = empty
    url = f"{image_server}/image1.jpg"
    with serving(store) as base, Hma(base, keys).client("match") as c:
        off = c.get("/h/hash", params={"url": url})
        assert off.status_code == 403
        assert "fetch" in off.json()["message"]
    with serving(store, "--fetch-allow", "localhost") as base, Hma(base, keys).client() as c:
        private = c.get("/h/hash", params={"url": url.replace("127.0.0.1", "localhost")})
        assert private.status_code == 403  # localhost is allowed by name, not its address
        assert c.get("/h/hash", params={"url": url}).status_code == 403  # not on the list
    with serving(store, "--fetch-allow", "127.0.0.1") as base, Hma(base, keys).client() as c:
        hashed = c.get("/h/hash", params={"url": url}).json()
        assert len(hashed["pdq"]) == 64
        moved = c.get("/h/hash", params={"url": f"{image_server}/elsewhere"})
        assert moved.status_code == 400  # a redirect is not followed
        c.post("/c/banks", json={"name": "BY_URL"})
        added = c.post("/c/bank/BY_URL/content", params={"url": url}).json()
        found = c.get("/m/lookup", params={"url": url}).json()
        assert found["pdq"]["BY_URL"] == [{"bank_content_id": added["id"], "distance": "0"}]


def test_open_loopback_role_and_custom_header(empty: tuple[Store, dict[str, str]]) -> None:
    store, keys = empty
    options = ("--hma-open", "match", "--hma-key-header", "X-Hma-Key")
    with serving(store, *options) as base, httpx.Client(base_url=base, timeout=60) as c:
        assert c.get("/m/index/status").status_code == 200  # keyless, from loopback
        assert c.get("/c/banks").status_code == 403  # the open role is match only
        assert c.get("/v1/lists").status_code == 401  # /v1 always needs a key
        c.headers["X-Hma-Key"] = keys["curator"]
        assert c.get("/c/banks").status_code == 200
        upload = c.post("/h/hash", files={"photo": ("x.jpg", io.BytesIO(b"not an image"))})
        assert upload.status_code == 400
