"""Meta's ThreatExchange (Graph API): the HTTP protocol only (python-threatexchange's
``exchanges/clients/fb_threatexchange/api.py`` is the public reference). An app's access token
(``<app id>|<secret>``) goes as ``access_token``. ``GET /<privacy group>/threat_updates/`` with
``start_time``, ``stop_time``, ``limit``, ``fields`` and ``types`` answers ``{data, paging:
{next}}``, ``next`` being a whole URL to ask as it is; updates come in time order.
``POST /<descriptor id>/`` with ``reactions`` reacts to a descriptor, ``POST
/threat_descriptors/`` shares one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from vigil.errors import ExchangeUnavailable
from vigil.exchanges.http import Retrying

__all__ = ["BASE_URL", "FIELDS", "TYPES", "ThreatExchangeClient", "UpdatesPage"]

BASE_URL = "https://graph.facebook.com/v21.0"
# pytx's FBThreatExchangeIndicatorRecord.te_threat_updates_fields, plus the descriptor's time
FIELDS = ("id", "indicator", "type", "last_updated", "should_delete",
          "descriptors{id,reactions,owner{id},tags,status,added_on}")  # fmt: skip
# the ThreatExchange indicator types Vigil has signals for
TYPES = ("HASH_PDQ", "HASH_MD5", "HASH_VIDEO_MD5", "HASH_SHA1", "HASH_SHA256",
         "HASH_VIDEO_SHA256")  # fmt: skip


@dataclass
class UpdatesPage:
    updates: list[dict[str, Any]]
    next: str  # the next page's whole URL, or "" at the end


class ThreatExchangeClient:
    def __init__(self, token: str, base_url: str = BASE_URL, http: Retrying | None = None,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http or Retrying(httpx.Client(timeout=timeout))

    @property
    def app_id(self) -> int:
        head = self.token.partition("|")[0]
        return int(head) if head.isdigit() else 0

    def close(self) -> None:
        self.http.client.close()

    def updates(self, group: int, start: int, stop: int | None = None, page_size: int = 500,
                types: tuple[str, ...] = TYPES) -> Iterator[UpdatesPage]:  # fmt: skip
        """The pages of ``threat_updates`` of ``group`` from ``start`` (epoch seconds)."""
        first: dict[str, Any] = {
            "access_token": self.token, "start_time": start, "limit": page_size,
            "fields": ",".join(FIELDS), "types": ",".join(types)}  # fmt: skip
        if stop is not None:
            first["stop_time"] = stop
        params: dict[str, Any] | None = first
        url = f"{self.base_url}/{group}/threat_updates/"
        while url:
            body = self._page(url, params)
            data = body.get("data") or []
            next_ = str((body.get("paging") or {}).get("next") or "")
            if not isinstance(data, list):
                raise ExchangeUnavailable("ThreatExchange answered data that is not a list")
            yield UpdatesPage(data, self._same_host(next_))
            url, params = next_, None  # the next URL holds the query and the token

    def _page(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """One page, asked again while it arrives garbled (never half-read)."""
        for _ in range(self.http.attempts):
            body = _decoded(self.http.request("GET", url, params=params))
            if body is not None:
                return body
            self.http.sleep(self.http.backoff)
        raise ExchangeUnavailable("ThreatExchange pages kept arriving garbled (not JSON objects)")

    def react(self, descriptor_id: int | str, reaction: str) -> None:
        """``HELPFUL``, ``NOT_HELPFUL``, ``DISAGREE_WITH_TAGS``, ``SAW_THIS_TOO``, ..."""
        self._post(f"{self.base_url}/{descriptor_id}/", {"reactions": reaction})

    def share(self, params: dict[str, Any]) -> dict[str, Any]:
        """Submit a threat descriptor (``indicator``, ``type``, ``description``,
        ``share_level``, ``status``, ``privacy_type``, ``privacy_members``, ``tags``)."""
        return self._post(f"{self.base_url}/threat_descriptors/", params)

    def _post(self, url: str, form: dict[str, Any]) -> dict[str, Any]:
        data = {k: str(v) for k, v in form.items()} | {"access_token": self.token}
        body = _decoded(self.http.request("POST", url, data=data))
        if body is None:
            raise ExchangeUnavailable("ThreatExchange's answer to a POST was not a JSON object")
        return body

    def _same_host(self, next_: str) -> str:
        if next_ and urlsplit(next_).netloc != urlsplit(self.base_url).netloc:
            raise ExchangeUnavailable("ThreatExchange gave a next page on another host")
        return next_


def _decoded(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object answered, or None where the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
