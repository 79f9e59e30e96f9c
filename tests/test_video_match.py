"""Matching videos by their frames: copies, excerpts (localised), padded copies, deletions."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.lists import Entry, Removal
from vigil.matching.hashing import hash_bytes, hash_file
from vigil.matching.match import Match, Matcher
from vigil.signals.video import example_video
from vigil.store import Store


def _entry(data: bytes, key: str) -> Entry:
    result = hash_bytes(data, key)
    return Entry(key, [(s.type, s.value) for s in result.signals.values()])


def _video_matches(store: Store, data: bytes) -> list[Match]:
    result = hash_bytes(data, "query.mp4", variants=True)
    frames = {k: v for k, v in result.signals.items() if k.startswith("vpdq")}  # no digests
    return Matcher(store).match_signals(frames)


@pytest.fixture
def video_store(store: Store) -> Store:
    store.create_list("videos")
    store.apply(
        "videos",
        [
            _entry(example_video(seconds=30, fps=2), "long"),
            _entry(example_video(seconds=20, fps=2, start=500.0), "other"),
        ],
    )
    return store


def test_a_reencoded_copy_matches_its_whole_length(video_store: Store) -> None:
    (m,) = _video_matches(video_store, example_video(seconds=30, fps=3))  # other frame rate
    assert m.entry.key == "long"
    assert m.video is not None
    assert m.video.query_match_percent >= 90
    assert m.video.known_match_percent >= 90
    assert m.video.known_range[0] <= 1
    assert m.video.known_range[1] >= 28


def test_an_excerpt_is_localised(video_store: Store) -> None:
    (m,) = _video_matches(video_store, example_video(seconds=8, fps=2, start=12.0))
    assert m.entry.key == "long"
    assert m.video is not None
    assert m.video.query_match_percent >= 80
    assert m.video.known_match_percent < 40
    assert abs(m.video.known_range[0] - 12) <= 2
    assert abs(m.video.known_range[1] - 19) <= 2


def test_a_long_query_containing_a_clip_finds_its_segment(video_store: Store) -> None:
    # 10 s of unknown footage, then... a separate known clip is stitched in by hashing both
    unknown = hash_bytes(example_video(seconds=10, fps=2, start=900.0), "a.mp4")
    known = hash_bytes(example_video(seconds=10, fps=2, start=5.0), "b.mp4")
    import json

    frames = json.loads(unknown.signals["vpdq"].value)
    for item in json.loads(known.signals["vpdq"].value):
        h, q, t = item.split(",")
        frames.append(f"{h},{q},{float(t) + 10:.3f}")
    found = Matcher(video_store).match_value("vpdq", json.dumps(frames))
    (m,) = found
    assert m.entry.key == "long"
    assert m.video is not None
    assert m.video.query_match_percent < 80  # pytx's rule alone would miss it
    segment = m.video.longest
    assert abs(segment.query_start - 10) <= 1
    assert abs(segment.known_start - 5) <= 2


def test_an_excerpt_cut_mid_second_lines_up_through_a_phase_variant(video_store: Store) -> None:
    (m,) = _video_matches(video_store, example_video(seconds=8, fps=4, start=12.5))
    assert m.entry.key == "long"
    assert m.variant == "phase_0.5s"
    assert m.video is not None
    assert abs(m.video.known_range[0] - 12.5) <= 1


def test_pillarboxed_copy_matches_through_border_removal(video_store: Store) -> None:
    (m,) = _video_matches(video_store, example_video(seconds=10, fps=2, start=3.0, pad=24))
    assert m.entry.key == "long"
    assert m.signal_type == "vpdq_borderless"


def test_unrelated_video_does_not_match(video_store: Store) -> None:
    assert _video_matches(video_store, example_video(seconds=10, fps=2, start=2000.0)) == []


def test_deleting_a_video_entry_stops_frame_matches(video_store: Store) -> None:
    query = example_video(seconds=8, fps=2, start=12.0)
    assert _video_matches(video_store, query)
    video_store.apply("videos", [Removal("long", "test")])
    assert _video_matches(video_store, query) == []


def test_frames_round_trip_through_export(video_store: Store) -> None:
    exported = {e.key: e for e in video_store.iter_entries("videos")}
    original = _entry(example_video(seconds=30, fps=2), "long")
    assert exported["long"].signal("vpdq") == original.signal("vpdq")


@pytest.mark.shared
def test_shared_edited_variants_match_their_originals(shared: Path, tmp_path: Path) -> None:
    base = shared / "videos" / "threatexchange-tmk"
    store = Store.open(tmp_path / "home")
    store.create_list("known")
    originals = {"chair-orig-22-sd-bar": "chair", "pattern-hd-no-bar": "pattern"}
    store.apply(
        "known", [_entry((base / f"{n}.mp4").read_bytes(), key) for n, key in originals.items()]
    )
    variants = {
        "chair-22-sd-grey-bar": "chair",
        "chair-22-sd-sepia-bar": "chair",
        "chair-22-with-small-logo-bar": "chair",
        "pattern-sd-grey-bar": "pattern",
        "pattern-sd-with-small-logo-bar": "pattern",
    }
    for name, expected in variants.items():
        result = hash_file(base / f"{name}.mp4", ["vpdq", "vpdq_borderless"], variants=True)
        found = [m.entry.key for m in Matcher(store).match_result(result)]
        assert found == [expected], name
    store.close()
