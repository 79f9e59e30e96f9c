"""The review console in a real browser (issue 20): headless Chromium (Debian's) driven by
Playwright through a real `vigil serve`, with the keyboard alone: sign in, take an item, see
it softened (asserted from the rendered pixels: the image on screen has a fraction of the
detail it shows when revealed), hold R to reveal and let go to hide, grade and decide, see a
neutral image between items, and be stopped at the exposure cap. axe-core checks every page
for serious or critical accessibility problems, at a desktop and a phone's width. With
``VIGIL_SCREENSHOTS=DIR`` each page is saved there (docs/review/ holds the published ones)."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.service_kit import PHOTOS, serving
from vigil.lists import Entry
from vigil.matching.hashing import hash_file
from vigil.review.accounts import Accounts
from vigil.review.wellness import save_organisation
from vigil.service.actions import Actions
from vigil.store import Store
from vigil.triage import report_from_dict
from vigil.triage.cases import Triage
from vigil.triage.content import inspect_content

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright drives the browser")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip
PASSWORD = "correct horse battery"


def _detail(png: bytes) -> float:
    with Image.open(io.BytesIO(png)) as im:
        edges = im.convert("L").filter(ImageFilter.FIND_EDGES)
        return float(np.asarray(edges, np.float32)[3:-3, 3:-3].var())


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """A service whose queue holds two images with kept content (one known, one new)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: scripts/setup-debian.sh installs Debian's chromium")
    store = Store.open(tmp_path / "home")
    known, unrelated = (sorted((PHOTOS / d).glob("*.jpg"))[0] for d in ("known", "unrelated"))
    store.create_list("known")
    res = hash_file(known)
    store.apply("known", [Entry("photo-0", [(s.type, s.value) for s in res.signals.values()],
                                series="S1", victim_identified=False)])  # fmt: skip
    Actions(store).set("known", "review", None, None, keep_days=7)
    Accounts(store).add("alex", "reviewer", PASSWORD)
    save_organisation(store, {"items_per_hour": 1, "neutral_every": 1,
                              "second_review": []})  # fmt: skip
    _kept_report(store, {"known.jpg": known.read_bytes(), "new.jpg": unrelated.read_bytes()})
    with serving(store) as url:
        yield url, store
    store.close()


def _kept_report(store: Store, files: dict[str, bytes]) -> None:
    """A report taken in with its files, each kept (as the service keeps matched uploads)."""
    from vigil.service.locker import ContentLocker

    report = report_from_dict({"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
                               "reporter": {"email": "safety@example.org"},
                               "users": [{"esp_id": "user-1"}],
                               "files": [{"name": n, "hashes": {"sha256": "00" * 32}}
                                         for n in files]}, "test")  # fmt: skip
    for f in report.files:
        f.hashes.clear()
    triage = Triage(store)
    done = triage.ingest(report, "test", [inspect_content(d, n) for n, d in files.items()])
    locker = ContentLocker(store)
    for n, data in enumerate(files.values()):
        kept = locker.keep(data, f"file-{n}.jpg", [{"list": "known"}], {"known": {"keep_days": 7}})
        assert kept is not None
        triage.mark_kept(done.id, n, kept)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        made = p.chromium.launch(executable_path=CHROMIUM, args=QUIET, headless=True)
        yield made
        made.close()


def _axe(page: Any, where: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    bad = [v["id"] for v in found if v.get("impact") in ("serious", "critical")]
    assert bad == [], f"{where}: {bad}"


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("VIGIL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_the_keyboard_flow_reveals_nothing_before_it_is_asked(
    console: tuple[str, Store], browser: Any
) -> None:
    url, store = console
    outside: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
               else (outside.append(route.request.url), route.abort()))  # fmt: skip
    page.goto(url + "/review/")
    assert page.url.endswith("/review/login")  # signed out: sent to sign in
    _axe(page, "login")
    _shot(page, "login")
    page.keyboard.type("alex")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/review/")
    _axe(page, "queue")
    _shot(page, "queue")
    page.keyboard.press("n")
    page.wait_for_url("**/review/item/*")
    softened = page.locator("img.softened").first
    softened.wait_for()
    page.wait_for_function("document.querySelector('img.softened').complete")
    _axe(page, "item")
    _shot(page, "item")
    before = _detail(softened.screenshot())
    revealed = page.locator("img.revealed").first
    assert revealed.is_hidden()
    page.keyboard.down("r")
    revealed.wait_for(state="visible")
    page.wait_for_function("document.querySelector('img.revealed').complete")
    during = _detail(revealed.screenshot())
    page.keyboard.up("r")
    revealed.wait_for(state="hidden")
    assert before < during / 4, (before, during)  # the screen showed no detail before
    assert _detail(softened.screenshot()) == pytest.approx(before, rel=0.05)
    page.keyboard.press("1")  # grade A1
    page.keyboard.press("k")  # known material
    page.wait_for_url("**/review/?decided=*")
    assert "decided" in page.content()
    page.keyboard.press("n")  # a neutral image first (one every item, as set)
    page.wait_for_url("**/review/neutral/*")
    _axe(page, "neutral")
    page.keyboard.press("n")
    page.wait_for_url("**/review/item/*")
    assert page.locator(".stop").first.is_visible()  # this hour's cap (1 item) is reached
    assert page.locator("button.reveal").first.is_disabled()
    _shot(page, "item-capped")
    page.goto(url + "/review/me")
    _axe(page, "me")
    _shot(page, "me")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(url + "/review/")
    _axe(page, "queue on a phone")
    page.close()
    assert outside == []
    reveals = [e for e in _audit(store) if e["action"] == "review.reveal"]
    assert len(reveals) == 1  # the one held reveal, and nothing before it


def _audit(store: Store) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from vigil.store.schema import audit_log

    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [{"action": r.action, "target": r.target, "detail": json.loads(r.detail)} for r in rows]
