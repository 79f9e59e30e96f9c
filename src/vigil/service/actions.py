"""Per-list actions: what a match on a list means (``block``, ``report``, ``review``,
``allow``), returned with each match and, when the list names a webhook, posted there.

A webhook post is written to the ``deliveries`` table before the match response returns, so
nothing is lost if the process stops; a sender thread posts it (JSON, signed with HMAC-SHA256
of the body under the list's secret in ``X-Vigil-Signature: sha256=<hex>``), retrying with
exponential backoff; after ``attempts`` failures it stays in the table as a dead letter. A
restarted service sends what is still pending.
"""

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from vigil.errors import UsageError
from vigil.matching.match import acted_on
from vigil.store import Store
from vigil.store.schema import deliveries, list_actions

__all__ = ["OUTCOMES", "Actions"]

OUTCOMES = ("allow", "review", "report", "block")  # least to most severe
MAX_KEEP_DAYS = 366.0  # the longest a list rule may keep matching content


class Actions:
    def __init__(self, store: Store, backoff: float = 1.0, attempts: int = 8) -> None:
        self.engine = store.engine
        self.backoff, self.attempts = backoff, attempts
        self._rules: dict[str, dict[str, Any]] | None = None
        self._read_at = 0.0
        self._due: dict[int, float] = {}  # delivery id -> when to try next
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- rules ---------------------------------------------------------------------------
    def set(self, list_name: str, outcome: str, url: str | None, secret: str | None,
            keep_days: float | None = None) -> None:  # fmt: skip
        if outcome not in OUTCOMES:
            raise UsageError(f"unknown outcome {outcome!r} (outcomes: {', '.join(OUTCOMES)})")
        if url and not url.startswith(("http://", "https://")):
            raise UsageError("a webhook URL must be http:// or https://")
        if keep_days is not None and not 0 < keep_days <= MAX_KEEP_DAYS:
            raise UsageError(f"keep_days must be over 0 and at most {MAX_KEEP_DAYS}")
        with self.engine.begin() as conn:
            conn.execute(delete(list_actions).where(list_actions.c.list_name == list_name))
            row = {"list_name": list_name, "outcome": outcome, "webhook_url": url,
                   "webhook_secret": secret, "keep_days": keep_days}  # fmt: skip
            conn.execute(insert(list_actions).values(**row))
        self.refresh(0.0)

    def refresh(self, every: float = 1.0) -> None:
        """Read the rules again if the last read is ``every`` seconds old (another instance
        may have changed them). The service calls it from its follower thread, so requests
        never wait for the database to learn the rules."""
        now = time.monotonic()
        if self._rules is None or now - self._read_at >= every:
            with self.engine.connect() as conn:
                rows = conn.execute(select(list_actions)).all()
            self._rules, self._read_at = {r.list_name: r._asdict() for r in rows}, now

    def rules(self) -> dict[str, dict[str, Any]]:
        if self._rules is None:
            self.refresh()
        assert self._rules is not None
        return self._rules

    def apply(self, matches: list[dict[str, Any]]) -> str | None:
        """Adds each match's ``action``; saves webhook posts (a database write); returns the
        most severe outcome."""
        outcome, posts = self.plan(matches)
        self.enqueue(posts)
        return outcome

    def plan(self, matches: list[dict[str, Any]]) -> tuple[str | None, list[tuple[str, str, str]]]:
        """Adds each match's ``action``; returns the most severe outcome and the webhook posts
        to save with :meth:`enqueue` (list, URL, body). No database access."""
        rules = self.rules()
        posts = []
        per_list: dict[str, list[dict[str, Any]]] = {}
        for m in matches:
            rule = rules.get(m["list"])
            if not acted_on(m):  # known benign: never actioned
                m["action"] = "allow"
                continue
            m["action"] = rule["outcome"] if rule else "review"
            if rule and rule["webhook_url"]:
                per_list.setdefault(m["list"], []).append(m)
        for name, found in per_list.items():
            rule = rules[name]
            body = {"list": name, "outcome": rule["outcome"], "matches": found,
                    "at": datetime.now(UTC).isoformat()}  # fmt: skip
            posts.append((name, rule["webhook_url"], json.dumps(body, default=str)))
        actions = [m["action"] for m in matches]
        return (max(actions, key=OUTCOMES.index) if actions else None), posts

    # -- deliveries ------------------------------------------------------------------------
    def enqueue(self, posts: list[tuple[str, str, str]]) -> None:
        """Save webhook posts as pending deliveries (before the response that caused them
        returns) and wake the sender."""
        if not posts:
            return
        saved = []
        with self.engine.begin() as conn:  # one transaction for a response's posts
            for list_name, url, body in posts:
                key = conn.execute(insert(deliveries).values(
                    created_at=datetime.now(UTC), list_name=list_name, url=url, body=body,
                    status="pending", attempts=0)).inserted_primary_key  # fmt: skip
                assert key is not None
                saved.append(int(key[0]))
        self._due.update(dict.fromkeys(saved, 0.0))
        self._wake.set()

    def start(self) -> None:
        with self.engine.connect() as conn:
            pending = conn.execute(select(deliveries.c.id).where(deliveries.c.status == "pending"))
            self._due.update({int(r.id): 0.0 for r in pending})
        self._thread = threading.Thread(target=self._run, name="vigil-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            now = time.monotonic()
            ready = [i for i, due in list(self._due.items()) if due <= now]
            for delivery in ready:
                self._send(delivery)
            upcoming = list(self._due.values())
            wait = max(0.0, min(upcoming) - time.monotonic()) if upcoming else None
            self._wake.wait(wait)
            self._wake.clear()

    def _send(self, delivery: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries, list_actions.c.webhook_secret).join(
                list_actions, list_actions.c.list_name == deliveries.c.list_name, isouter=True
            ).where(deliveries.c.id == delivery)).first()  # fmt: skip
        if row is None or row.status != "pending" or not self._claim(delivery, row.attempts):
            self._due.pop(delivery, None)  # done, or another instance is sending it
            return
        body = row.body.encode()
        signature = hmac.new((row.webhook_secret or "").encode(), body, hashlib.sha256)
        request = urllib.request.Request(row.url, body, method="POST", headers={
            "Content-Type": "application/json", "X-Vigil-Delivery": str(delivery),
            "X-Vigil-Signature": f"sha256={signature.hexdigest()}"})  # fmt: skip
        error = None
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                ok = 200 <= response.status < 300
        except (urllib.error.URLError, OSError) as exc:
            ok, error = False, str(exc)[:500]
        attempts = row.attempts + 1
        status = "delivered" if ok else ("dead" if attempts >= self.attempts else "pending")
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery).values(
                status=status, last_error=error))  # fmt: skip
        if status == "pending":
            self._due[delivery] = time.monotonic() + self.backoff * 2 ** (attempts - 1)
        else:
            self._due.pop(delivery, None)

    def _claim(self, delivery: int, seen: int) -> bool:
        """Count this attempt, unless another instance counted one since ``seen`` (several
        instances on one database each send a delivery only when their claim wins)."""
        with self.engine.begin() as conn:
            won = conn.execute(update(deliveries).where(
                deliveries.c.id == delivery, deliveries.c.attempts == seen,
                deliveries.c.status == "pending").values(attempts=seen + 1)).rowcount  # fmt: skip
        return bool(won)

    def list_deliveries(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if status:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [{"id": r.id, "list": r.list_name, "url": r.url, "status": r.status,
                 "attempts": r.attempts, "last_error": r.last_error,
                 "created_at": r.created_at.isoformat()} for r in rows]  # fmt: skip
