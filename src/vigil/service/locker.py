"""Content kept by a list rule, for review: encrypted at rest, deleted on schedule, every view
audited.

By default Vigil stores hashes, never content. A list's action may say ``keep_days``: an upload
that matches that list is then kept for that many days (the longest of the matched lists'
rules), so that a reviewer can look at what was blocked or reported. It is sealed with
AES-256-GCM under a content key that never enters the database: a file, by default
``<home>/content.key`` (created with mode 0600 on first use; point ``--content-key-file`` at a
secrets mount in production, the same file for every instance sharing a database). The
ciphertext is bound to its SHA-256 and key id, so rows cannot be swapped. Expired content is
refused at once and deleted by the next purge (each instance purges about once a minute, on
a thread of its own); deleting the key file makes every kept upload unreadable at once.

Reading kept content is the caller's to audit (the HTTP routes write the audit record before
they read).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select

from vigil.errors import NotFound, StoreError, UsageError
from vigil.store import Store
from vigil.store.schema import kept_content

__all__ = ["ContentLocker", "load_key"]

PURGE_EVERY = 60.0  # seconds between purges of expired content
log = logging.getLogger(__name__)
_META = ("id", "created_at", "expires_at", "name", "size", "sha256", "lists", "matches")


def load_key(path: Path, create: bool) -> bytes:
    """The 256-bit content key in ``path`` (64 hex digits); with ``create``, a new random key
    is written there (mode 0600) if the file does not exist."""
    if create and not path.exists():
        _create_key(path)
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the content key ({exc.strerror})") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError(f"{path}: a content key is 64 hex digits (256 bits)")
    return key


def _create_key(path: Path) -> None:
    """Write a new random key to ``path`` unless another process (a worker) got there first:
    written whole to a private file, then linked into place, so no reader sees it half done."""
    fd, tmp = tempfile.mkstemp(prefix=".content-key-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.link(tmp, path)
    except FileExistsError:
        pass  # the other one's key stands
    finally:
        os.unlink(tmp)


class ContentLocker:
    def __init__(self, store: Store, key_file: Path | None = None) -> None:
        self.engine = store.engine
        self.key_file = key_file or store.home / "content.key"
        self._create = key_file is None
        self._aead: AESGCM | None = None
        self.key_id = ""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _cipher(self, sealing: bool) -> AESGCM:
        """The cipher of the content key; only sealing creates a missing default key (a view
        with the key gone says so, rather than making a new key that opens nothing)."""
        if self._aead is None:
            key = load_key(self.key_file, sealing and self._create)
            self.key_id = hashlib.sha256(key).hexdigest()[:16]
            self._aead = AESGCM(key)
        return self._aead

    @staticmethod
    def keeping(matches: list[dict[str, Any]], rules: dict[str, dict[str, Any]]
                ) -> tuple[list[str], float]:  # fmt: skip
        """The matched lists whose rules keep content, and for how many days (the longest)."""
        lists = sorted(
            {m["list"] for m in matches if (rules.get(m["list"]) or {}).get("keep_days")}
        )
        return lists, max((float(rules[n]["keep_days"]) for n in lists), default=0.0)

    def keep(self, data: bytes, name: str, matches: list[dict[str, Any]],
             rules: dict[str, dict[str, Any]]) -> int | None:  # fmt: skip
        """Seal and save ``data`` if a matched list's rule says to keep it; its id, or None."""
        lists, days = self.keeping(matches, rules)
        if not lists:
            return None
        aead, digest = self._cipher(sealing=True), hashlib.sha256(data).hexdigest()
        nonce, now = os.urandom(12), datetime.now(UTC)
        sealed = aead.encrypt(nonce, data, self._bound(digest))
        row = {"created_at": now, "expires_at": now + timedelta(days=days), "name": name[:300],
               "size": len(data), "sha256": digest, "lists": json.dumps(lists),
               "matches": json.dumps(matches, default=str), "key_id": self.key_id,
               "nonce": nonce, "sealed": sealed}  # fmt: skip
        with self.engine.begin() as conn:
            key = conn.execute(insert(kept_content).values(**row)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def _bound(self, digest: str) -> bytes:
        return f"vigil-kept:{digest}:{self.key_id}".encode()

    def listing(self, limit: int = 100) -> list[dict[str, Any]]:
        """What is kept (newest first), without the content."""
        cols = [kept_content.c[c] for c in _META]
        with self.engine.connect() as conn:
            query = select(*cols).where(kept_content.c.expires_at > datetime.now(UTC))
            rows = conn.execute(query.order_by(kept_content.c.id.desc()).limit(limit)).all()
        return [_meta(r._asdict()) for r in rows]

    def open(self, content_id: int) -> tuple[dict[str, Any], bytes]:
        """One kept upload's description and bytes; NotFound once it has expired."""
        with self.engine.connect() as conn:
            row = conn.execute(select(kept_content).where(kept_content.c.id == content_id)).first()
        if row is None or _aware(row.expires_at) <= datetime.now(UTC):
            raise NotFound(f"no kept content {content_id} (never kept, expired or deleted)")
        aead = self._cipher(sealing=False)
        if row.key_id != self.key_id:
            raise StoreError(f"content {content_id} was sealed with key {row.key_id}; this "
                             f"instance has {self.key_id} ({self.key_file})")  # fmt: skip
        try:
            data = aead.decrypt(row.nonce, row.sealed, self._bound(row.sha256))
        except InvalidTag as exc:
            raise StoreError(f"content {content_id} fails its integrity check") from exc
        return _meta(row._asdict()), data

    def delete(self, content_id: int) -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(delete(kept_content).where(kept_content.c.id == content_id))
        if not gone.rowcount:
            raise NotFound(f"no kept content {content_id}")

    def purge(self, now: datetime | None = None) -> int:
        """Delete what has expired (by ``now``); how many were deleted."""
        when = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            return conn.execute(
                delete(kept_content).where(kept_content.c.expires_at <= when)
            ).rowcount

    def start(self) -> None:
        """Purge now and every PURGE_EVERY seconds, on a thread of its own: on SQLite a purge
        may wait for a long import's write lock, and nothing else should wait with it."""
        self._thread = threading.Thread(target=self._run, name="vigil-purge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:  # a purge at start, whenever the service stops again
            try:
                self.purge()
            except Exception as exc:  # the database is away or locked: try again next time
                log.warning("purging expired kept content: %s", exc)
            if self._stopping.wait(PURGE_EVERY):
                return


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite returns naive UTC


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in _META}
    out["created_at"] = _aware(out["created_at"]).isoformat()
    out["expires_at"] = _aware(out["expires_at"]).isoformat()
    out["lists"], out["matches"] = json.loads(out["lists"]), json.loads(out["matches"])
    return out
