"""Another Vigil as an exchange: a list of a peer instance (its HMA bank), read through the
peer's ``GET /v1/lists/{list}/export`` in VICS with Vigil's entry annotations, so every entry
arrives whole: its key, every signal, category, tags and metadata. The peer answers with an
ETag and a 304 when the list has not changed, so a sync of an unchanged list costs one
request. The export is the whole list: an entry gone from it is removed here.

HMA itself has no API that lists a bank's contents (only one content id at a time), so an HMA
instance cannot be read this way; HMA reads Vigil's lists as files (``te-lines``) instead."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from vigil.errors import UsageError
from vigil.exchanges.adapters.files import FileExchange
from vigil.exchanges.base import COMMON_SETTINGS, exchanges, secret

__all__ = ["VigilPeerExchange"]


@exchanges.register
class VigilPeerExchange(FileExchange):
    name = "vigil"
    description = "a list (HMA bank) of another Vigil instance, through its HTTP API"
    settings_help: ClassVar[dict[str, str]] = {
        "url": "the peer's base URL (https://vigil.partner.example)",
        "list": "the peer's list to follow",
        "credentials_file": "a file holding an API key of the peer (role curator)",
        "credentials_env": "an environment variable holding it",
        **COMMON_SETTINGS,
    }

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super(FileExchange, cls).check_settings(settings)  # not a file's
        if not str(settings.get("url", "")).startswith(("http://", "https://")):
            raise UsageError("a vigil exchange needs the peer's url (http or https)")
        if not settings.get("list"):
            raise UsageError("a vigil exchange needs the peer's list")
        secret(settings)
        return settings

    def _read(self, checkpoint: dict[str, Any]) -> tuple[bytes | None, str]:
        s = self.config.settings
        url = f"{str(s['url']).rstrip('/')}/v1/lists/{quote(str(s['list']), safe='')}/export"
        return self._get(f"{url}?format=vics", checkpoint,
                         {"Authorization": f"Bearer {secret(s)}"})  # fmt: skip

    def _format(self, data: bytes) -> tuple[str, dict[str, str]]:
        return "vics", {}
