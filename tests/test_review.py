"""The review console's core (issue 20): accounts and sessions, the queue (one holder per item,
leases that return abandoned items, filters), second review and disputes, exposure counted
from the audit log with its caps, softened renders that hide detail, and what a final decision
feeds back (a local list that then finds altered copies, a quarantined exchange hash, the
case's CyberTipline report with the reviewer's grade). Images are the committed benign
photos; reports are placeholders."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from vigil.errors import Conflict, UsageError
from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes
from vigil.matching.match import Matcher
from vigil.review.accounts import Accounts
from vigil.review.decisions import Decision, Decisions
from vigil.review.items import Filters, ReviewQueue
from vigil.review.render import render, reveal
from vigil.review.wellness import DEFAULTS, effective, exposure
from vigil.service.keys import KeyStore
from vigil.store import Store
from vigil.triage import report_from_dict
from vigil.triage.cases import Triage
from vigil.triage.content import inspect_content
from vigil.triage.queue import TiplineQueue

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "photos").rglob("*.jpg"))
SETTINGS = dict(DEFAULTS)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "home")
    yield s
    s.close()


def _report(names: list[str], user: str = "user-1") -> Any:
    return report_from_dict({"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
                             "reporter": {"email": "safety@example.org"},
                             "users": [{"esp_id": user}],
                             "files": [{"name": n, "hashes": {
                                 "sha256": hashlib.sha256(n.encode()).hexdigest()}}
                                       for n in names]}, "test")  # fmt: skip


def _ingest(store: Store, files: dict[str, bytes], user: str = "user-1") -> Any:
    report = _report(list(files), user)
    for f in report.files:
        f.hashes.clear()
    return Triage(store).ingest(report, "test", [inspect_content(d, n) for n, d in files.items()])


def _sharpness(data: bytes) -> float:
    """The variance of the image's Laplacian: detail left in it."""
    with Image.open(io.BytesIO(data)) as im:
        edges = im.convert("L").filter(ImageFilter.FIND_EDGES)
        return float(np.asarray(edges, np.float32)[2:-2, 2:-2].var())


def test_accounts_sign_in_and_sessions_end(home: Store) -> None:
    accounts = Accounts(home)
    accounts.add("alex", "reviewer", "correct horse battery")
    with pytest.raises(UsageError, match="at least 12"):
        accounts.add("sam", "reviewer", "short")
    with pytest.raises(UsageError, match="unknown role"):
        accounts.add("sam", "boss", "correct horse battery")
    with pytest.raises(Conflict):
        accounts.add("alex", "lead", "correct horse battery")
    assert accounts.verify("alex", "wrong password here") is None
    assert accounts.verify("nobody", "correct horse battery") is None
    who = accounts.verify("alex", "correct horse battery")
    assert who is not None
    assert who.role == "reviewer"
    token, csrf = accounts.open_session(who)
    session = accounts.session(token)
    assert session is not None
    assert (session.account.name, session.csrf) == ("alex", csrf)
    accounts.disable("alex")  # its sessions end with it
    assert accounts.session(token) is None
    assert accounts.verify("alex", "correct horse battery") is None


def test_no_two_reviewers_hold_one_item_and_leases_return_them(home: Store) -> None:
    cluster = Triage(home).ingest(_report(["a.jpg"]), "one").placed[0].cluster
    queue = ReviewQueue(home, timedelta(minutes=15))
    now = datetime.now(UTC)
    assert queue.take("alex", "reviewer", now=now) == cluster
    assert queue.take("alex", "reviewer", now=now) == cluster  # still hers
    assert queue.take("sam", "reviewer", now=now) is None  # nobody else gets it
    later = now + timedelta(minutes=16)  # abandoned: back in the queue
    assert queue.take("sam", "reviewer", now=later) == cluster
    assert queue.held_by("alex", later) is None
    assert queue.take("kim", "reviewer", Filters(list_name="known"), now=later) is None


def test_a_second_reviewer_confirms_and_a_lead_settles_a_dispute(home: Store) -> None:
    Triage(home).ingest(_report(["a.jpg"]), "one")
    Triage(home).ingest(_report(["b.jpg"], "user-2"), "two")
    queue, decide = ReviewQueue(home), Decisions(home, KeyStore(home).audit).decide
    assert queue.take("alex", "reviewer") == 1
    assert decide("alex", 1, Decision("new", "A2"), SETTINGS).stage == "second"
    assert queue.take("alex", "reviewer") == 2  # never her own for the second look
    assert decide("alex", 2, Decision("new", "B1"), SETTINGS).stage == "second"
    assert queue.take("sam", "reviewer") == 1
    agreed = decide("sam", 1, Decision("new", "A2"), SETTINGS)
    assert agreed.stage == "decided"
    assert queue.take("sam", "reviewer") == 2
    assert decide("sam", 2, Decision("not_material"), SETTINGS).stage == "dispute"
    assert queue.take("kim", "reviewer") is None  # disputes are for leads
    assert queue.take("lee", "lead") == 2
    assert decide("lee", 2, Decision("not_material", reason="a shirt"), SETTINGS).stage == (
        "decided")  # fmt: skip
    with pytest.raises(Conflict, match="not held"):
        decide("kim", 2, Decision("new", "A1"), SETTINGS)
    with pytest.raises(UsageError, match="needs its grade"):
        decide("lee", 2, Decision("known"), SETTINGS)
    assert queue.item(1)["grade"] == "A2"


def test_a_confirmed_new_image_finds_its_altered_copies_and_is_reported(home: Store) -> None:
    first = _ingest(home, {"new.jpg": PHOTOS[0].read_bytes()})
    queue, decide = ReviewQueue(home), Decisions(home, KeyStore(home).audit).decide
    once = dict(SETTINGS, second_review=[])
    assert queue.take("alex", "reviewer") == first.placed[0].cluster
    outcome = decide("alex", first.placed[0].cluster, Decision("new", "B2"), once)
    assert outcome.effects[0].startswith("added to list confirmed with")
    assert outcome.effects[1].startswith(f"case {first.case}: CyberTipline report(s)")
    with Image.open(PHOTOS[0]) as im:
        out = io.BytesIO()
        im.crop((im.width // 5, 0, im.width, im.height)).save(out, "JPEG", quality=80)
    found = Matcher(home).match_result(hash_bytes(out.getvalue(), "copy", None, variants=True))
    assert [(m.list, m.kind) for m in found] == [("confirmed", "altered_copy")]
    [queued] = _filed(home, first.case)
    assert TiplineQueue(home).get(queued).state == "queued"
    report = json.loads(_queued_report(home, queued))
    assert report["files"][0]["classification"] == "B2"  # the reviewer's grade


def _filed(store: Store, case: int) -> list[int]:
    from sqlalchemy import select

    from vigil.store.schema import triage_cases

    with store.engine.connect() as conn:
        got = conn.execute(select(triage_cases.c.filed).where(triage_cases.c.id == case)).scalar()
    return list(json.loads(got or "[]"))


def _queued_report(store: Store, queue_id: int) -> str:
    from sqlalchemy import select

    from vigil.store.schema import tipline_reports

    with store.engine.connect() as conn:
        return str(conn.execute(select(tipline_reports.c.report).where(
            tipline_reports.c.id == queue_id)).scalar())  # fmt: skip


def test_not_material_on_an_exchange_hash_quarantines_it(home: Store) -> None:
    from vigil.exchanges.flood import Quarantine

    md5 = hash_bytes(PHOTOS[1].read_bytes(), "p", ["md5"]).signals["md5"].value
    home.create_list("ncmec")
    home.apply("ncmec", [Entry("ncmec:1", [("md5", md5)], source="exchange:gone")])
    first = Triage(home).ingest(report_from_dict({
        "incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
        "reporter": {"email": "safety@example.org"},
        "files": [{"name": "f.jpg", "hashes": {"md5": md5}}]}, "t"), "t")  # fmt: skip
    cluster = first.placed[0].cluster
    ReviewQueue(home).take("alex", "reviewer")
    outcome = Decisions(home, KeyStore(home).audit).decide(
        "alex", cluster, Decision("not_material", reason="a garment on a bed"), SETTINGS
    )
    assert outcome.effects[0] == "quarantined ncmec:ncmec:1"  # list, then the entry's key
    # the exchange it came from is not configured here: the vote is not sent, and that is said
    assert outcome.effects[1].startswith("false positive not sent to gone: ")
    assert [q.entry_key for q in Quarantine(home).all()] == ["ncmec:1"]


def test_exposure_is_counted_from_the_audit_log_and_capped(home: Store) -> None:
    keys = KeyStore(home)
    settings = effective(dict(DEFAULTS), {"items_per_hour": 99, "blur": 7})
    assert (settings["items_per_hour"], settings["blur"]) == (DEFAULTS["items_per_hour"], 7)
    for n in range(3):
        keys.audit("alex", "review.reveal", str(n), {"seconds": 5.0})
        keys.audit("alex", "review.revealed", str(n), {"seconds": 55.0})
    keys.audit("sam", "review.reveal", "9", {"seconds": 5.0})
    seen = exposure(home, "alex", dict(DEFAULTS, items_per_hour=3))
    assert (seen.items_hour, seen.seconds_hour, seen.items_day) == (3, 180.0, 3)
    assert seen.stopped is not None
    assert "hour" in seen.stopped
    assert exposure(home, "alex", DEFAULTS).stopped is None
    assert exposure(home, "alex", dict(DEFAULTS, minutes_per_day=2.0)).stopped is not None
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert exposure(home, "alex", DEFAULTS, now=tomorrow).items_day == 0


@pytest.mark.parametrize(
    "how",
    [
        {"render": "blur", "blur": 3},
        {"render": "blur", "blur": 7},
        {"render": "edges"},
        {"render": "posterize", "blur": 3},
    ],
)
def test_renders_hide_detail_and_reveals_show_it(how: dict[str, Any]) -> None:
    data = PHOTOS[2].read_bytes()
    settings = dict(DEFAULTS, **how)
    clear = _sharpness(reveal(data, "p.jpg", settings))
    soft = _sharpness(render(data, "p.jpg", settings))
    assert soft < clear / 4, (soft, clear)
    half = reveal(data, "p.jpg", settings, (0.0, 0.0, 0.5, 0.5))
    with Image.open(io.BytesIO(half)) as part, Image.open(io.BytesIO(reveal(
            data, "p.jpg", settings))) as whole:  # fmt: skip
        assert part.width == pytest.approx(whole.width / 2, abs=1)


def test_a_video_is_a_storyboard_of_softened_key_frames(shared: Path) -> None:
    clip = sorted((shared / "videos").rglob("*.mp4"))[0].read_bytes()
    soft, clear = render(clip, "clip.mp4", DEFAULTS), reveal(clip, "clip.mp4", DEFAULTS)
    with Image.open(io.BytesIO(soft)) as sheet:
        assert sheet.width > sheet.height  # frames side by side

    def inside_first_frame(data: bytes) -> float:  # away from the tiles' edges
        with Image.open(io.BytesIO(data)) as sheet:
            out = io.BytesIO()
            sheet.crop((10, 10, 110, 70)).save(out, "PNG")
        return _sharpness(out.getvalue())

    assert inside_first_frame(soft) < inside_first_frame(clear) / 4
