"""What every page Vigil serves gets (issues 20 and 21): a strict Content Security Policy (its
own scripts, styles and images only: no inline script, no other origin, no framing), no
referrer, no caching of anything that may show content, and no form posted from another
origin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from vigil.errors import CrossOrigin

__all__ = ["CSP", "Pages", "same_origin"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "worker-src 'self' blob:")  # fmt: skip
PREFIXES = ("/review", "/hash")


def same_origin(headers: Any, host: str) -> None:
    """Refuse a request whose Origin (or, without one, Referer) is another site's."""
    said = headers.get("origin") or headers.get("referer")
    if said and said != "null" and urlsplit(said).netloc != host:
        raise CrossOrigin(f"a request from {urlsplit(said).netloc or said!r} is not accepted here")


class Pages:
    """ASGI middleware: the headers above on every page under :data:`PREFIXES`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIXES):
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"content-security-policy", CSP.encode()),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                ]
            await send(message)

        await self.app(scope, receive, sending)
