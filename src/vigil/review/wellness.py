"""Wellness (issue 20): how items are shown, and how much a reviewer may see. The
organisation's defaults (a lead sets them) and each reviewer's own choices over them; a
reviewer may choose how content is softened, never to see more than the organisation allows.

Exposure is counted from the audit log: every reveal (``review.reveal``, counted at least
:data:`MIN_REVEAL` seconds) and how long it was held (``review.revealed``), per hour and per
day. At the cap a reviewer is stopped (no more reveals, no more items that need pixels); near
it, prompted to take a break. The defaults follow the IWF's practice (at most 5 hours of
direct exposure a day, with hourly breaks), lower."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from vigil.errors import UsageError
from vigil.store import Store
from vigil.store.schema import audit_log, review_settings

__all__ = ["DEFAULTS", "MIN_REVEAL", "Exposure", "effective", "exposure", "organisation",
           "save_organisation", "validated"]  # fmt: skip

MIN_REVEAL = 5.0  # seconds a reveal counts at least (a page closed mid-reveal reports nothing)
DEFAULTS: dict[str, Any] = {
    "blur": 5,  # 1 (light) to 7 (strongest)
    "greyscale": True,
    "render": "blur",  # blur, edges or posterize: a stylised render instead of a blur
    "reveal": "hold",  # hold (shown while a key or button is held) or region (one region)
    "neutral_every": 10,  # a neutral image between items, every this many (0: never)
    "items_per_hour": 30, "minutes_per_hour": 10.0,  # revealed: the caps
    "items_per_day": 150, "minutes_per_day": 60.0,
    "break_at": 0.8,  # a break is suggested past this share of an hourly cap
    "require_reason": False,  # a decision needs a written reason
    "second_review": ["new", "ai_generated"],  # verdicts a second reviewer must confirm
    "local_list": "confirmed",  # confirmed new images are added here, with all their signals
    "quarantine_false_positives": True,  # an exchange hash decided not material: quarantined
    "lease_minutes": 15,  # an item held this long without a decision returns to the queue
}  # fmt: skip
# settings a reviewer chooses for themself; caps only ever lower
PERSONAL = ("blur", "greyscale", "render", "reveal", "neutral_every")
CAPS = ("items_per_hour", "minutes_per_hour", "items_per_day", "minutes_per_day")
CHOICES = {"render": ("blur", "edges", "posterize"), "reveal": ("hold", "region")}


def validated(raw: dict[str, Any], allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``raw`` checked against the known settings (UsageError naming the first bad one)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in DEFAULTS or (allowed is not None and key not in allowed + CAPS):
            raise UsageError(f"no setting {key!r}")
        default = DEFAULTS[key]
        if isinstance(default, bool):
            value = value in (True, "true", "on", "1", 1)
        elif isinstance(default, int | float):
            try:
                value = type(default)(value)
            except (TypeError, ValueError):
                raise UsageError(f"{key}: not a number: {value!r}") from None
            if value < 0 or (key == "blur" and not 1 <= value <= 7):
                raise UsageError(f"{key}: out of range: {value}")
        elif key in CHOICES and value not in CHOICES[key]:
            raise UsageError(f"{key}: one of {', '.join(CHOICES[key])}")
        out[key] = value
    return out


def organisation(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(review_settings.c.settings).where(
            review_settings.c.name == "organisation")).first()  # fmt: skip
    return DEFAULTS | (json.loads(row.settings) if row else {})


def save_organisation(store: Store, changes: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in organisation(store).items() if DEFAULTS.get(k) != v}
    merged |= validated(changes)
    with store.engine.begin() as conn:
        conn.execute(review_settings.delete().where(review_settings.c.name == "organisation"))
        conn.execute(review_settings.insert().values(name="organisation",
                                                     settings=json.dumps(merged)))  # fmt: skip
    return organisation(store)


def effective(org: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    """The organisation's settings with a reviewer's own choices; their caps only lower."""
    out = dict(org)
    out.update({k: v for k, v in mine.items() if k in PERSONAL})
    for cap in CAPS:
        if cap in mine:
            out[cap] = min(org[cap], mine[cap])
    return out


@dataclass(frozen=True)
class Exposure:
    items_hour: int
    seconds_hour: float
    items_day: int
    seconds_day: float
    settings: dict[str, Any]

    @property
    def stopped(self) -> str | None:
        """Why no more may be revealed now, or None."""
        s = self.settings
        if self.items_day >= s["items_per_day"] or self.seconds_day >= 60 * s["minutes_per_day"]:
            return "today's exposure cap is reached: no more reveals until tomorrow"
        if self.items_hour >= s["items_per_hour"] or (
                self.seconds_hour >= 60 * s["minutes_per_hour"]):  # fmt: skip
            return "this hour's exposure cap is reached: take a break"
        return None

    @property
    def break_due(self) -> bool:
        s, share = self.settings, float(self.settings["break_at"])
        return bool(self.items_hour >= share * s["items_per_hour"]
                or self.seconds_hour >= share * 60 * s["minutes_per_hour"])  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        s = self.settings
        return {"items_hour": self.items_hour, "minutes_hour": round(self.seconds_hour / 60, 1),
                "items_day": self.items_day, "minutes_day": round(self.seconds_day / 60, 1),
                "caps": {k: s[k] for k in CAPS}, "stopped": self.stopped,
                "break_due": self.break_due}  # fmt: skip


def exposure(store: Store, account: str, settings: dict[str, Any],
             now: datetime | None = None) -> Exposure:  # fmt: skip
    """What ``account`` was shown in the last hour and day, from the audit log."""
    now = now or datetime.now(UTC)
    a = audit_log.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(a.at, a.action, a.target, a.detail).where(
            a.actor == account, a.action.in_(("review.reveal", "review.revealed")),
            a.at >= now - timedelta(days=1))).all()  # fmt: skip
    hour = now - timedelta(hours=1)
    items_h, items_d, secs_h, secs_d = set(), set(), 0.0, 0.0
    for r in rows:
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
        secs = float(json.loads(r.detail).get("seconds", 0.0))
        secs_d += secs
        secs_h += secs if at >= hour else 0.0
        if r.action == "review.reveal":
            items_d.add(r.target)
            if at >= hour:
                items_h.add(r.target)
    return Exposure(len(items_h), secs_h, len(items_d), secs_d, settings)
