"""The survivor-side hashing page in a real browser (issue 21): headless Chromium (Debian's)
through a real `vigil serve`. Every request the page makes while hashing and submitting is
recorded, and none carries a byte of any image (only the hashes, and the receipt back); the
page's PDQ equals the server's on the same files and finds the same list entries; bad files
(corrupt, 20,000 x 20,000, not an image, empty) are each said and the rest still hash; the
reference vectors of Meta's in-browser hasher agree (PDQ within its tests' 16 bits, MD5
exactly); the exported copy works from file:// with the network off; axe-core finds no serious
or critical problem, at a desktop's and a phone's width, in English, Spanish and Portuguese."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.service_kit import PHOTOS, serving
from vigil.matching.hashing import hash_file
from vigil.store import Store

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright drives the browser")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip
KNOWN = sorted((PHOTOS / "known").glob("*.jpg"))
VIGIL = str(Path(sys.executable).with_name("vigil"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: scripts/setup-debian.sh installs Debian's chromium")
    with playwright.sync_playwright() as p:
        made = p.chromium.launch(executable_path=CHROMIUM, args=QUIET, headless=True)
        yield made
        made.close()


KEYS: dict[str, str] = {}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    from vigil.service import KeyStore

    store = Store.open(tmp_path / "home")
    KEYS["match"] = KeyStore(store).create("platform", "match")
    with serving(store) as served:
        yield served
    store.close()


def _bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    huge = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(huge, "PNG")  # a bomb by its size: never decoded
    made = {"corrupt.jpg": KNOWN[0].read_bytes()[:600] + b"\x00" * 64,
            "huge.png": huge.getvalue(), "notes.jpg": b"some text, not a picture\n" * 20,
            "empty.jpg": b""}  # fmt: skip
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


def _hashed(page: Any, count: int) -> list[dict[str, Any]]:
    page.wait_for_selector(f"body[data-files='{count}'][data-busy='no']", timeout=120_000)
    rows: list[dict[str, Any]] = page.evaluate("window.vigilPage.rows.map(r => r.result)")
    return rows


def _axe(page: Any, where: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    bad = [v["id"] for v in found if v.get("impact") in ("serious", "critical")]
    assert bad == [], f"{where}: {bad}"


def test_only_hashes_leave_the_page(url: str, browser: Any, tmp_path: Path) -> None:
    bad = _bad_files(tmp_path / "bad")
    sent: list[tuple[str, str, bytes]] = []
    page = browser.new_page()
    page.on("request", lambda r: sent.append((r.method, r.url, r.post_data_buffer or b"")))
    page.goto(url + "/hash/")
    _axe(page, "the page")
    page.set_input_files("#files", [str(p) for p in KNOWN[:4]] + [str(p) for p in bad.values()])
    rows = {r["name"]: r for r in _hashed(page, 8)}
    for photo in KNOWN[:4]:  # the same files: the browser's decoder, the same hash here
        server = hash_file(photo, ["md5", "pdq"]).signals
        assert rows[photo.name]["md5"] == server["md5"].value
        assert rows[photo.name]["hash"] == server["pdq"].value
    said = {name: page.locator("tbody tr", has_text=name).locator("td").nth(3).text_content()
            for name in bad}  # fmt: skip
    assert "could not be read as a picture" in (said["corrupt.jpg"] or "")
    assert "too large to read (20000 \u00d7 20000)" in (said["huge.png"] or "")
    assert "could not be read as a picture" in (said["notes.jpg"] or "")
    assert "empty" in (said["empty.jpg"] or "")
    page.click("#send")
    page.wait_for_selector(".receipt-code")
    receipt = page.text_content(".receipt-code") or ""
    assert len(receipt.replace("-", "")) == 24
    images = [p.read_bytes() for p in (*KNOWN[:4], bad["corrupt.jpg"], bad["huge.png"])]
    for method, where, body in sent:
        assert where.startswith((url, "blob:")), where  # no other site, ever
        assert len(body) < 4096, (method, where, len(body))
        assert not any(img[len(img) // 2 : len(img) // 2 + 32] in body for img in images)
    posts = [(w, b) for m, w, b in sent if m == "POST"]
    assert [w for w, _ in posts] == [url + "/v1/submissions"]
    import json

    payload = json.loads(posts[0][1])
    assert set(payload) == {"items"}
    assert all(set(item) <= {"md5", "pdq"} for item in payload["items"])
    import httpx

    with httpx.Client(base_url=url, timeout=30) as anyone:
        assert anyone.get(f"/v1/submissions/{receipt}").json()["files"] == len(payload["items"])
    with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": KEYS["match"]}) as platform:
        for photo in KNOWN[:4]:  # the page's PDQ finds what server-side hashing finds
            pdq = hash_file(photo, ["pdq"]).signals["pdq"].value
            found = platform.post(
                "/v1/match/signals", json={"signals": [{"type": "pdq", "value": pdq}]}
            ).json()
            assert [m["list"] for m in found["matches"]] == ["submissions"], photo.name
    page.close()


def test_the_page_speaks_three_languages_and_fits_a_phone(url: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url + "/hash/")
    _axe(page, "phone, English")
    for lang, title in (("es", "Crea huellas"), ("pt", "Crie impressões digitais")):
        page.select_option("#lang", lang)
        assert (page.text_content("h1") or "").startswith(title)
        assert page.evaluate("document.documentElement.lang") == lang
        _axe(page, f"phone, {lang}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    page.close()


def test_the_reference_vectors_of_metas_in_browser_hasher(
    url: str, browser: Any, shared: Path
) -> None:
    vectors = shared / "pdq-reference" / "EXPECTED_PDQ_MD5_from_pdq_wasm_test.csv"
    rows = list(csv.DictReader(io.StringIO(vectors.read_text())))
    wanted: dict[str, tuple[Path, str]] = {}
    for row in rows:
        rel = row["FilePath"].replace("../../../../data/", "pdq-reference/data/")
        rel = rel.replace("../../../../../tmk/sample-videos/", "videos/threatexchange-tmk/")
        if (shared / rel).exists():
            wanted[Path(rel).name] = (shared / rel, row["Hash"])
    assert len(wanted) >= 15  # b.jpg and one clip are not in the shared copy
    page = browser.new_page()
    page.goto(url + "/hash/")
    page.set_input_files("#files", [str(p) for p, _ in wanted.values()])
    got = {r["name"]: r for r in _hashed(page, len(wanted))}
    for name, (_, expected) in wanted.items():
        if len(expected) == 32:
            assert got[name]["md5"] == expected, name
        else:
            distance = bin(int(got[name]["hash"], 16) ^ int(expected, 16)).count("1")
            assert distance <= 16, (name, distance)  # the reference tests' own tolerance
    page.close()


def test_the_exported_copy_works_from_a_file_with_no_network(browser: Any, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    subprocess.run([VIGIL, "web", "export", str(folder)], check=True, capture_output=True)
    context = browser.new_context()
    context.set_offline(True)
    asked: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: asked.append(r.url))
    page.goto(folder.joinpath("index.html").as_uri())
    page.set_input_files("#files", [str(p) for p in KNOWN[:2]])
    rows = _hashed(page, 2)
    assert [r["hash"] for r in rows] == [hash_file(p, ["pdq"]).signals["pdq"].value
                                         for p in KNOWN[:2]]  # fmt: skip
    assert page.is_disabled("#send")  # this copy sends nothing ...
    assert page.is_visible("#download")  # ... and saves the fingerprints instead
    assert all(a.startswith(("file:", "blob:")) for a in asked), asked
    context.close()


def test_on_the_same_pixels_the_pages_pdq_is_the_servers(url: str, browser: Any) -> None:
    """Pixels Pillow decoded, hashed by the page's own code in the browser and by the
    server's: the same 256 bits and the same quality, for photos, a greyscale image, an image
    of an odd size, and a soft (enlarged) one."""
    import numpy as np

    from vigil.signals.pdq_algo import hash_rgb_or_l

    images = [Image.open(p).convert("RGB") for p in KNOWN[:3]]
    # (a featureless image is left out: its coefficients are all rounding noise, its bits
    # follow the order of additions, and at quality 0 it is never matched anyway)
    images += [images[0].convert("L").convert("RGB"), images[1].resize((77, 131)),
               images[2].resize((40, 40)).resize((300, 200))]  # fmt: skip
    page = browser.new_page()
    page.goto(url + "/hash/")
    for img in images:
        rgb = np.asarray(img)
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]).tobytes()
        got = page.evaluate(
            "([b, w, h]) => window.vigil.pdqOfPixels(Uint8ClampedArray.from(b), w, h)",
            [list(rgba), img.width, img.height],
        )
        grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
        want = hash_rgb_or_l(rgb[..., 0] if grey else rgb)
        assert (got["hash"], got["quality"]) == (want.hex, want.quality)
    page.close()
