"""StopNCII's hash API: the HTTP protocol only (python-threatexchange's
``exchanges/clients/stopncii/api.py`` is the public reference). Every call carries the
subscription key (``Ocp-Apim-Subscription-Key``) and the endpoint's own function key
(``x-functions-key``). ``GET /FetchHashes?startTimestamp=&pageSize=&nextPageToken=`` answers
``{count, nextPageToken, nextSetTimestamp, hasMoreRecords, hashRecords}``; ``POST /SubmitHashes``
and ``POST /SubmitFeedback`` send Vigil's hashes and opinions back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from vigil.errors import ExchangeUnavailable, UsageError
from vigil.exchanges.http import Retrying

__all__ = ["BASE_URL", "FetchPage", "StopNciiClient"]

BASE_URL = "https://api.stopncii.org/v1"
START = 10  # pytx's DEFAULT_START_TIME
PAGE_SIZE = 800


@dataclass
class FetchPage:
    records: list[Any]
    next_token: str
    next_timestamp: int
    more: bool


class StopNciiClient:
    def __init__(self, base_url: str, subscription_key: str, function_keys: dict[str, str],
                 http: Retrying | None = None, timeout: float = 60.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.keys = function_keys
        client = httpx.Client(headers={"Ocp-Apim-Subscription-Key": subscription_key},
                              timeout=timeout)  # fmt: skip
        self.http = http or Retrying(client)

    def close(self) -> None:
        self.http.client.close()

    def _key(self, endpoint: str) -> dict[str, str]:
        if endpoint not in self.keys:
            raise UsageError(f"no function key for StopNCII's {endpoint}")
        return {"x-functions-key": self.keys[endpoint]}

    def fetch(self, start: int, token: str = "", size: int = PAGE_SIZE) -> FetchPage:
        params: dict[str, Any] = {"startTimestamp": start, "pageSize": size}
        if token:
            params["nextPageToken"] = token
        response = self.http.request("GET", f"{self.base_url}/FetchHashes", params=params,
                                     headers=self._key("FetchHashes"))  # fmt: skip
        try:
            body = response.json()
            records = body.get("hashRecords") or []
            if not isinstance(records, list):
                raise ValueError("hashRecords is not a list")
            return FetchPage(records, str(body.get("nextPageToken") or ""),
                             int(body.get("nextSetTimestamp") or start),
                             bool(body.get("hasMoreRecords")))  # fmt: skip
        except (ValueError, TypeError, AttributeError) as exc:
            raise ExchangeUnavailable(f"a StopNCII page could not be read: {exc}") from None

    def submit_feedback(self, feedbacks: list[dict[str, Any]]) -> None:
        """``[{"signalType", "hashValue", "feedbackValue", "tags"}]`` (pytx's shape)."""
        self._post("SubmitFeedback", {"count": len(feedbacks), "hashFeedbacks": feedbacks})

    def submit_hashes(self, records: list[dict[str, Any]]) -> None:
        self._post("SubmitHashes", {"count": len(records), "hashRecords": records})

    def _post(self, endpoint: str, body: dict[str, Any]) -> None:
        self.http.request("POST", f"{self.base_url}/{endpoint}", json=body,
                          headers=self._key(endpoint))  # fmt: skip
