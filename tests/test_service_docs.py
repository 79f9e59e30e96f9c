"""The interactive API docs (/docs) through a real server: they render in headless Chromium
with nothing but the server reachable (Vigil runs on closed networks, so no CDN)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from tests.service_kit import Server

# Debian's chromium (scripts/setup-debian.sh): Playwright never downloads a browser here
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        made = p.chromium.launch(executable_path=CHROMIUM, args=QUIET, headless=True)
        yield made
        made.close()


def test_the_docs_pages_name_only_assets_the_server_serves(server: Server) -> None:
    with server.client(None) as c:
        html = c.get("/docs").text
        assets = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
        assert any(a.endswith(".js") for a in assets)
        assert all(a.startswith("/") for a in assets), assets
        assert all(c.get(a).status_code == 200 for a in assets)


def test_the_docs_render_offline_in_chromium(server: Server, browser: Browser) -> None:
    outside: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    tab = browser.new_page()
    try:
        tab.route("**/*", only_the_server)
        tab.goto(server.url + "/docs")
        shown = tab.locator(".opblock-summary-path[data-path='/v1/match/signals']")
        shown.first.wait_for(timeout=30_000)  # rendered from /openapi.json
        assert tab.locator(".opblock").count() >= 20  # every route, not a half-loaded page
    finally:
        tab.close()
    assert outside == []
