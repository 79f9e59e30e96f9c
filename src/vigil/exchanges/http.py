"""HTTP for the exchange clients: a page is fetched until it arrives. A 429 or 5xx answer, a
timeout, a dropped connection or a truncated body delays the sync (backing off, honouring
``Retry-After``) and never skips the page; after ``attempts`` tries the sync stops with an
:class:`ExchangeUnavailable` error, its checkpoint where it was. Credentials are sent, never
logged: errors name the URL's host and path only."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from vigil.errors import ExchangeUnavailable

__all__ = ["Retrying"]

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass
class Retrying:
    """GETs and POSTs with retries; ``sleep`` is replaceable (the tests count waits)."""

    client: httpx.Client
    attempts: int = 8
    backoff: float = 1.0  # seconds before the first retry; doubled each time, at most 60
    sleep: Callable[[float], None] = time.sleep

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        where = _shown(url)
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            wait = delay
            try:
                response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
                response.read()  # a body cut short raises here, and is retried
                if response.is_success or response.status_code == 304:  # 304: unchanged
                    return response
                if response.status_code not in RETRY_STATUS:
                    response.raise_for_status()
                after = _retry_after(response)
                wait = delay if after is None else after
                problem = f"{response.status_code}"
            except httpx.HTTPStatusError as exc:  # 4xx, and redirects that were not followed
                raise ExchangeUnavailable(f"{where}: the exchange answered "
                                          f"{exc.response.status_code}") from None  # fmt: skip
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            if attempt == self.attempts:
                break
            log.warning("%s: %s, retrying in %.1f s (attempt %d)", where, problem, wait, attempt)
            self.sleep(min(wait, 300.0))
            delay = min(delay * 2, 60.0)
        raise ExchangeUnavailable(f"{where}: {problem} after {self.attempts} attempts")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{parts.path}"
