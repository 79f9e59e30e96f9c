"""Triage with the files at hand (issue 19): altered copies join their image's cluster,
shared scenes start a linked one, list matches of altered copies and shared scenes of a known
series, evidence (camera-original, a listed model) in the priority rules, and cases that
gather a reported user's reports, with their views. Every image is a committed benign photo,
cropped, half covered in grey or re-encoded with test EXIF or generator text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.evidence_fixtures import INFOTEXT, exif_bytes, png_with_text
from vigil.errors import NotFound
from vigil.evidence import inspect_file
from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes
from vigil.media import Limits
from vigil.store import Store
from vigil.triage import report_from_dict
from vigil.triage.cases import FileContent, Triage
from vigil.triage.views import case_view, queue, report_view, series_view

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "photos").rglob("*.jpg"))


def _jpeg(img: Image.Image, **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, **params)
    return out.getvalue()


def _cropped(path: Path, left: float = 0.2) -> bytes:
    with Image.open(path) as im:
        w, h = im.size
        return _jpeg(im.crop((round(w * left), h // 10, w, h)))


def _half_grey(path: Path) -> bytes:
    """The left half kept, the right half replaced: the same scene, another subject."""
    with Image.open(path) as im:
        img = im.convert("RGB")
        img.paste((128, 128, 128), (img.width // 2, 0, img.width, img.height))
        return _jpeg(img)


def _content(data: bytes, name: str) -> FileContent:
    return FileContent(hash_bytes(data, name, None, Limits(), True), inspect_file(name, data=data))


def _report(names: list[str], user: str | None = None, **more: Any) -> Any:
    data = {"incident_type": "csam", "incident_at": "2026-12-01T10:00:00Z",
            "platform": "Example Photos", "reporter": {"email": "safety@example.org"},
            "files": [{"name": n, "hashes": {}} for n in names], **more}  # fmt: skip
    if user:
        data["users"] = [{"esp_id": user}]
    for f in data["files"]:  # hashes come from the content; the reader wants one: a stand-in
        f["hashes"] = {"sha256": "00" * 32}
    return report_from_dict(data, "test")


def _ingest(triage: Triage, files: dict[str, bytes], user: str | None = None,
            **more: Any) -> Any:  # fmt: skip
    report = _report(list(files), user, **more)
    for f in report.files:
        f.hashes.clear()
    return triage.ingest(report, "test", [_content(d, n) for n, d in files.items()])


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Store]:
    """An embedded store with an empty list "known" (the cases test runs on PostgreSQL too)."""
    s = Store.open(tmp_path / "home")
    s.create_list("known")
    yield s
    s.close()


def test_altered_copies_join_the_cluster_and_shared_scenes_link_to_it(home: Store) -> None:
    store = home
    triage = Triage(store)
    first = _ingest(triage, {"a.jpg": PHOTOS[0].read_bytes()})
    [new] = first.placed
    assert new.how == "new"
    [copy] = _ingest(triage, {"a-cropped.jpg": _cropped(PHOTOS[0])}).placed
    assert (copy.cluster, copy.how) == (new.cluster, "altered_copy")
    assert copy.region is not None
    assert copy.region.known_region[0] == pytest.approx(0.2, abs=0.06)
    [scene] = _ingest(triage, {"a-half.jpg": _half_grey(PHOTOS[0])}).placed
    assert scene.how == "shared_scene"
    assert scene.cluster != new.cluster
    assert scene.related == new.cluster
    [other] = _ingest(triage, {"b.jpg": PHOTOS[1].read_bytes()}).placed
    assert other.how == "new"
    assert other.cluster not in (new.cluster, scene.cluster)
    again = Triage(store)  # the robust index of the clusters reloads from the store
    [copy2] = _ingest(again, {"a-cropped-2.jpg": _cropped(PHOTOS[0], 0.15)}).placed
    assert (copy2.cluster, copy2.how) == (new.cluster, "altered_copy")


def test_a_shared_scene_of_a_known_series_is_urgent(home: Store) -> None:
    store = home
    known = hash_bytes(PHOTOS[2].read_bytes(), "known", ["md5", "vlocal"])
    store.apply("known", [Entry("s1-1", [(t, s.value) for t, s in known.signals.items()],
                                series="S1", victim_identified=True)])  # fmt: skip
    triage = Triage(store)
    copy = _ingest(triage, {"copy.jpg": _cropped(PHOTOS[2])})
    assert copy.priority == 3
    assert copy.reasons == [
        "P3: material of a known series",
        "P4: known material of identified victims, re-shared (still reported)",
    ]
    scene = _ingest(triage, {"scene.jpg": _half_grey(PHOTOS[2])})
    assert scene.priority == 2
    assert scene.reasons[0].startswith("P2: a known scene with a new subject")
    assert series_view(store, "S1")["cases"] == sorted([copy.case, scene.case])
    with pytest.raises(NotFound):
        series_view(store, "S2")


def test_evidence_reaches_the_rules_and_never_lowers_new_material(home: Store) -> None:
    store = home
    with Image.open(PHOTOS[3]) as im:
        camera = _jpeg(im.convert("RGB"), exif=exif_bytes())
        generated = png_with_text(im.convert("RGB"), {"parameters": INFOTEXT})
    store.create_list("models")
    store.apply("models", [Entry("base", [("autov2", "6ce0161689")])])
    triage = Triage(store)
    cam = _ingest(triage, {"camera.jpg": camera})
    assert cam.priority == 1
    assert cam.reasons[0] == (
        "P1: new material that reads as camera-original (possible ongoing abuse)"
    )
    assert cam.hints is not None
    assert cam.hints.jurisdiction == "AU"
    ai = _ingest(triage, {"generated.png": generated})
    assert ai.priority == 2  # still new material: an AI label never lowers it
    assert "P3: AI-made material naming a listed model or LoRA" in ai.reasons
    stored = report_view(store, ai.id)
    assert stored["files"][0]["evidence"] == "ai_generated"
    assert stored["report"]["files"][0]["evidence"]["label"] == "ai_generated"


def test_a_reported_users_reports_are_one_case(store: Store) -> None:
    store.create_list("known")
    triage = Triage(store)
    plain = {
        "incident_type": "csam",
        "incident_at": "2026-12-01T10:00:00Z",
        "platform": "Example Photos",
        "reporter": {"email": "safety@example.org"},
    }
    known = hash_bytes(PHOTOS[4].read_bytes(), "k", ["md5"]).signals["md5"].value
    store.apply("known", [Entry("k", [("md5", known)], victim_identified=True)])

    def report(user: str, md5: str, **more: Any) -> Any:
        return report_from_dict(plain | {"users": [{"esp_id": user, "ip_events": [
            {"address": "81.2.69.160"}]}], "files": [{"name": "f", "hashes": {"md5": md5}}],
            **more}, "test")  # fmt: skip

    first = triage.ingest(report("user-42", known), "r1")
    assert first.priority == 4
    second = triage.ingest(report("user-42", "ab" * 16), "r2")
    other = triage.ingest(report("user-7", known, annotations=["sextortion"]), "r3")
    assert first.case == second.case != other.case
    view = case_view(store, first.case or 0)
    assert (view["priority"], view["reports"], view["files"]) == (2, 2, 2)
    assert view["user"] == "Example Photos|user-42"
    assert view["jurisdiction"] == "GB"
    assert view["weights"] == {"GB": 1.2}
    assert [r["id"] for r in view["report_list"]] == [first.id, second.id]
    assert view["reasons"][0].startswith("P2: new material")
    shared = next(c for c in view["clusters"] if c["id"] == first.placed[0].cluster)
    assert (shared["files"], shared["reports"]) == (2, 2)  # the other case's file too
    assert [c["id"] for c in queue(store)] == [other.case, first.case]
    assert [c["id"] for c in queue(store, jurisdiction="gb", priority=2)] == [first.case]
    with pytest.raises(NotFound):
        case_view(store, 999)
