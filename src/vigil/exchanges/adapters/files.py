"""A list published as a file, on disk or at an http(s) URL, as an exchange: read again when it
changes (its SHA-256 differs from the last one applied; a URL is asked with the ETag it last
gave), in any format Vigil reads. The file is the whole list: an entry that was in it and is not
any more is removed (only entries this exchange brought: others in the list stay)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx

from vigil.errors import UnknownFormat, UsageError
from vigil.exchanges.base import COMMON_SETTINGS, Exchange, Window, exchanges
from vigil.exchanges.http import Retrying
from vigil.lists import detect, formats

__all__ = ["FileExchange"]

MAX_FILE = 4 * 2**30


@exchanges.register
class FileExchange(Exchange):
    name = "file"
    description = "a list file on disk or at an http(s) URL, read again when it changes"
    settings_help: ClassVar[dict[str, str]] = {
        "path": "the file on disk",
        "url": "the file at an http or https URL",
        "format": "its list format (default: detected)",
        "signal_type": "the signal type of bare values (te-lines)",
        **COMMON_SETTINGS,
    }

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super().check_settings(settings)
        if ("path" in settings) == ("url" in settings):
            raise UsageError("a file exchange takes one of path or url")
        if "url" in settings and not str(settings["url"]).startswith(("http://", "https://")):
            raise UsageError("a file exchange's url must be http or https")
        if "format" in settings:
            formats.get(str(settings["format"]))
        return settings

    def _read(self, checkpoint: dict[str, Any]) -> tuple[bytes | None, str]:
        """The file's bytes (None: unchanged since the checkpoint, by its ETag) and ETag."""
        s = self.config.settings
        if "path" in s:
            return Path(str(s["path"])).read_bytes(), ""
        return self._get(str(s["url"]), checkpoint)

    def _get(self, url: str, checkpoint: dict[str, Any], headers: dict[str, str] | None = None
             ) -> tuple[bytes | None, str]:  # fmt: skip
        """GET ``url`` with the ETag of the checkpoint: (None, etag) when unchanged."""
        http = Retrying(httpx.Client(timeout=600, follow_redirects=True),
                        backoff=float(self.config.settings.get("retry_backoff", 1.0)))  # fmt: skip
        asked = dict(headers or {})
        if checkpoint.get("etag"):
            asked["If-None-Match"] = str(checkpoint["etag"])
        try:
            response = http.request("GET", url, headers=asked)
        finally:
            http.client.close()
        if response.status_code == 304:
            return None, str(checkpoint.get("etag", ""))
        return response.content, response.headers.get("ETag", "")

    def _format(self, data: bytes) -> tuple[str, dict[str, str]]:
        """The file's format, and the options to read it with."""
        s = self.config.settings
        fmt = str(s.get("format") or detect(data[:4096]) or "")
        if not fmt:
            raise UnknownFormat("cannot tell the list file's format: set format=")
        return fmt, {"signal_type": str(s["signal_type"])} if "signal_type" in s else {}

    def windows(self, checkpoint: dict[str, Any]) -> Iterator[Window]:
        data, etag = self._read(checkpoint)
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        if data is None or digest == checkpoint.get("sha256"):
            yield Window([], {**checkpoint, "etag": etag}, 0, done=True)
            return
        if len(data) > MAX_FILE:
            raise UsageError(f"the list file is over {MAX_FILE:,} bytes")
        fmt, options = self._format(data)
        records = list(formats.get(fmt).read(io.BytesIO(data), self.config.name, **options))
        mark = {"sha256": digest, "etag": etag}
        yield Window(records, mark, len(records), done=True, snapshot=True)
