"""NCMEC hash sharing as an exchange: entries become list entries keyed ``ncmec:<member>:<id>``
(as NCMEC XML files import), with every fingerprint NCMEC sends (MD5, SHA1 and PDQ as signals,
PhotoDNA, NetClean, TMK and the rest kept opaque), the member, classification and timestamp;
tombstones remove. Entries come in no time order, so a time window is applied only once all its
pages are fetched, each key at its latest record, and only then is its end the checkpoint. A
window that brought many entries is halved for the next, one that brought few doubled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from vigil.errors import UsageError
from vigil.exchanges.base import COMMON_SETTINGS, Exchange, Feedback, Window, exchanges, secret
from vigil.exchanges.clients.ncmec import ENVIRONMENTS, NcmecClient
from vigil.lists import Entry, Record, Removal, RowProblem
from vigil.lists.formats.ncmec import entry_record

__all__ = ["NcmecExchange"]

DAY = 86400
BUSY, QUIET = 50_000, 10_000  # entries in a window that halve it, or double it
LIMITS = (60, 30 * DAY)  # the window's smallest and largest length, seconds
FINGERPRINTS = {"md5": "MD5", "sha1": "SHA1", "pdq": "PDQ"}  # Vigil's signals NCMEC votes on


def _reason(offered: dict[str, str], wanted: str, kind: str) -> str:
    """The guid of the reason ``wanted`` names (by name or guid), or of the only one."""
    for guid, name in offered.items():
        if wanted and wanted.lower() in (guid.lower(), name.lower()):
            return guid
    if len(offered) == 1 and not wanted:
        return next(iter(offered))
    names = ", ".join(sorted(offered.values())) or "none"
    raise UsageError(f"give one of NCMEC's reasons for a false {kind} as --reason: {names}")


def credentials(settings: dict[str, Any]) -> tuple[str, str]:
    """``user:password`` from the file or environment variable the settings name."""
    user, sep, password = secret(settings).partition(":")
    if not sep or not user:
        raise UsageError("NCMEC credentials must be 'user:password'")
    return user, password


@exchanges.register
class NcmecExchange(Exchange):
    name = "ncmec"
    description = "NCMEC hash sharing API v2 (XML, HTTP Basic)"
    settings_help: ClassVar[dict[str, str]] = {
        "environment": f"one of {', '.join(ENVIRONMENTS)} (default industry)",
        "base_url": "the API's base URL instead of an environment's",
        "credentials_file": "a file holding user:password",
        "credentials_env": "an environment variable holding user:password",
        "members": "member ids whose entries to keep (default: all)",
        "start": "the time (epoch seconds) a first sync starts from (default 0)",
        "window": "the first window's length in seconds (default one day)",
        **COMMON_SETTINGS,
    }

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super().check_settings(settings)
        env = settings.get("environment", "industry")
        if "base_url" not in settings and env not in ENVIRONMENTS:
            raise UsageError(f"unknown NCMEC environment {env!r} ({', '.join(ENVIRONMENTS)})")
        credentials(settings)  # refused now, not at the first sync
        return settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = self.config.settings
        base = s.get("base_url") or ENVIRONMENTS[s.get("environment", "industry")]
        self.client = NcmecClient(base, *credentials(s))
        self.client.http.backoff = float(s.get("retry_backoff", 1.0))
        self.members = {str(m) for m in s.get("members") or []}

    def close(self) -> None:
        self.client.close()

    def windows(self, checkpoint: dict[str, Any]) -> Iterator[Window]:
        start = int(checkpoint.get("from", self.config.settings.get("start", 0)))
        length = int(checkpoint.get("window", self.config.settings.get("window", DAY)))
        while True:
            now = int(time.time())
            end = min(now, start + length)
            records, fetched = self._window(start, end)
            if fetched > BUSY:
                length = max(LIMITS[0], length // 2)
            elif fetched < QUIET:
                length = min(LIMITS[1], length * 2)
            yield Window(records, {"from": end, "window": length}, fetched, done=end >= now)
            if end >= now:
                return
            start = end

    def _window(self, start: int, end: int) -> tuple[list[Record], int]:
        """Every record of [start, end]: per key the latest, problems as they came."""
        latest: dict[str, tuple[int, Entry | Removal]] = {}
        problems: list[Record] = []
        fetched = 0
        for page, _ in self.client.pages(start, end):
            for elem in page.entries:
                stamp, rec = entry_record(elem, f"entry {fetched}", "ncmec")
                fetched += 1
                if isinstance(rec, RowProblem):
                    problems.append(rec)
                elif self._kept(rec) and stamp >= latest.get(rec.key, (-1, rec))[0]:
                    latest[rec.key] = (stamp, rec)
        return problems + [rec for _, rec in latest.values()], fetched

    def feedback(self, items: list[Feedback]) -> int:
        """A vote on each entry's fingerprint (``PUT .../feedback``): affirmative for a true
        positive; negative for a false one, with the reason NCMEC offers for that type whose
        name (or guid) is the feedback's reason, or its only one."""
        reasons: dict[str, dict[str, str]] = {}
        sent = 0
        for f in items:
            if f.signal_type not in FINGERPRINTS:
                raise UsageError(f"NCMEC takes no feedback on {f.signal_type} "
                                 f"(only {', '.join(FINGERPRINTS)})")  # fmt: skip
            kind = FINGERPRINTS[f.signal_type]
            guid = ""
            if not f.positive:
                if kind not in reasons:
                    reasons[kind] = self.client.feedback_reasons(kind)
                guid = _reason(reasons[kind], f.reason, kind)
            for entry in f.entries:
                _, member, entry_id = entry.key.split(":", 2)
                self.client.submit_feedback(member, entry_id, kind, f.positive, guid)
                sent += 1
        return sent

    def _kept(self, rec: Entry | Removal) -> bool:
        if not self.members:
            return True
        member = rec.key.split(":")[1] if rec.key.count(":") == 2 else ""
        return member in self.members or not isinstance(rec, Entry)
