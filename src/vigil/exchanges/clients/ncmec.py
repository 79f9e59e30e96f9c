"""NCMEC's hash-sharing API, version 2: the HTTP protocol only (python-threatexchange's
``exchanges/clients/ncmec/hash_api.py`` is the public reference). HTTP Basic auth; XML in the
namespace ``https://hashsharing.ncmec.org/hashsharing/v2``; ``GET /v2/entries?from=&to=`` gives
pages of up to 1,000 entries, the next one named by ``<paging><next>`` (a path under the base
URL). Entries come in no time order within a range."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from vigil.errors import ExchangeUnavailable
from vigil.exchanges.http import Retrying
from vigil.lists.formats.ncmec import ENTRY_TAGS, local_name

__all__ = ["ENVIRONMENTS", "NcmecClient", "NcmecPage"]

# pytx's NCMECEnvironment
ENVIRONMENTS = {
    "industry": "https://report.cybertip.org/hashsharing",
    "industry_exploitative": "https://report.cybertip.org/exploitative-hashsharing",
    "law_enforcement": "https://lesp.ncmec.org/csam-hashsharing",
    "ngo": "https://hashsharing.ncmec.org/npo",
    "exploitative": "https://hashsharing.ncmec.org/exploitative",
    "ngo_generative_ai": "https://hashsharing.ncmec.org/generative-ai-csam",
    "ngo_generative_ai_exploitative": "https://hashsharing.ncmec.org/generative-ai-exploitative",
    "test_industry": "https://exttest.cybertip.org/hashsharing",
    "test_industry_exploitative": "https://exttest.cybertip.org/exploitative-hashsharing",
    "test_law_enforcement": "https://betalesp.ncmec.org/csam-hashsharing",
    "test_ngo": "https://hashsharing-test.ncmec.org/npo",
    "test_exploitative": "https://hashsharing-test.ncmec.org/exploitative",
    "test_ngo_generative_ai": "https://hashsharing-test.ncmec.org/generative-ai-csam",
    "test_ngo_generative_ai_exploitative": "https://hashsharing-test.ncmec.org/generative-ai-exploitative",
}
STAMP = "%Y-%m-%dT%H:%M:%SZ"
NS = "https://hashsharing.ncmec.org/hashsharing/v2"
MAX_PAGE = 64 * 2**20  # bytes of one page (1,000 entries are well under 1 MiB)


@dataclass
class NcmecPage:
    entries: list[ET.Element]  # <image>, <video>, <deletedImage>, <deletedVideo>
    next: str  # the next page's path, or "" at the end of the range


def _stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(STAMP)


class NcmecClient:
    def __init__(self, base_url: str, user: str, password: str, http: Retrying | None = None,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        client = httpx.Client(auth=(user, password), timeout=timeout)
        self.http = http or Retrying(client)

    def close(self) -> None:
        self.http.client.close()

    def entries(self, start: int, end: int, next_: str = "") -> NcmecPage:
        """One page of the entries changed in [start, end] (epoch seconds), or the page
        ``next_`` names (it must be asked with the same range it came with)."""
        if next_:
            if not next_.startswith("/v2/entries?"):  # a path under the base URL, no more
                raise ExchangeUnavailable(f"NCMEC gave an unexpected next page: {next_[:80]!r}")
            url, params = self.base_url + next_, None
        else:
            url, params = f"{self.base_url}/v2/entries", {"from": _stamp(start), "to": _stamp(end)}
        problem = ""
        for _ in range(self.http.attempts):  # a garbled page is fetched again, never half-read
            response = self.http.request("GET", url, params=params)
            if len(response.content) > MAX_PAGE:
                raise ExchangeUnavailable(f"an NCMEC page of {len(response.content):,} bytes")
            try:
                return _page(response.content)
            except ET.ParseError as exc:
                problem = str(exc)
                self.http.sleep(self.http.backoff)
        raise ExchangeUnavailable(f"NCMEC pages kept arriving garbled: {problem}")

    def feedback_reasons(self, fingerprint: str) -> dict[str, str]:
        """``GET /v2/feedback/{TYPE}/reasons``: the reasons NCMEC takes for a negative vote on
        a fingerprint type (``MD5``, ``PDQ``, ...), guid -> name."""
        response = self.http.request("GET", f"{self.base_url}/v2/feedback/{fingerprint}/reasons")
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise ExchangeUnavailable(f"NCMEC's feedback reasons are not XML: {exc}") from None
        reasons = {}
        for elem in root.iter():
            if local_name(elem.tag) == "reason":
                # attributes, as pytx reads them; child elements also taken
                got = {local_name(c.tag): (c.text or "").strip() for c in elem} | elem.attrib
                reasons[got.get("guid", "")] = got.get("name", "")
        return reasons

    def submit_feedback(self, member: str, entry_id: str, fingerprint: str, positive: bool,
                        reason_guid: str = "") -> None:  # fmt: skip
        """``PUT /v2/entries/{member}/{entry}/{TYPE}/feedback``: an affirmative vote, or a
        negative one with the reason's guid."""
        root = ET.Element("feedbackSubmission", xmlns=NS)
        vote = ET.SubElement(root, "affirmative" if positive else "negative")
        if not positive:
            ET.SubElement(ET.SubElement(vote, "reasonIds"), "guid").text = reason_guid
        url = f"{self.base_url}/v2/entries/{member}/{entry_id}/{fingerprint}/feedback"
        self.http.request("PUT", url, content=ET.tostring(root),
                          headers={"Content-Type": "application/xml; charset=utf-8"})  # fmt: skip

    def pages(self, start: int, end: int, next_: str = "") -> Iterator[tuple[NcmecPage, str]]:
        """Every page of [start, end], each with the path of the page it was (for resuming)."""
        current = next_
        while True:
            page = self.entries(start, end, current)
            yield page, current
            if not page.next:
                return
            current = page.next


def _page(body: bytes) -> NcmecPage:
    """``<queryResult><images><image>...</images><videos>...</videos><paging><next>``, parsed
    whole (a page is small; building the tree in C is three times faster than events)."""
    entries: list[ET.Element] = []
    next_ = ""
    for section in ET.fromstring(body):
        name = local_name(section.tag)
        if name in ("images", "videos"):
            entries.extend(e for e in section if local_name(e.tag) in ENTRY_TAGS)
        elif name == "paging":
            for c in section:
                if local_name(c.tag) == "next":
                    next_ = (c.text or "").strip()
    return NcmecPage(entries, next_)
