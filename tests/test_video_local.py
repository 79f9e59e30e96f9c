"""Robust video matching (``vlocal_video``): cropped copies and copies with a logo box, which
every frame's PDQ misses, find their known video, with the time range; deletes and reloads
behave like the other indexes."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import PHOTOS
from vigil.lists import Entry, Removal
from vigil.matching.hashing import hash_bytes
from vigil.matching.match import Match, Matcher
from vigil.signals.video_local import DENSE_SECONDS, parse_local_frames
from vigil.store import Store

SIZE = (320, 240)
# footage: a camera panning across the committed benign photos, 40 pixels a second
STRIP = np.concatenate(
    [np.asarray(Image.open(p).convert("RGB").resize((400, 533))) for p in
     sorted((PHOTOS / "known").glob("*.jpg")) + sorted((PHOTOS / "unrelated").glob("*.jpg"))],
    axis=1,
)  # fmt: skip


def pan_frame(t: float) -> np.ndarray:
    x = int(t * 40) % (STRIP.shape[1] - SIZE[0])
    return np.ascontiguousarray(STRIP[100 : 100 + SIZE[1], x : x + SIZE[0]])


def _video(start: float, seconds: float, edit=lambda f: f) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        first = edit(pan_frame(start))
        stream.width, stream.height, stream.pix_fmt = first.shape[1], first.shape[0], "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast", "tune": "zerolatency"}
        for i in range(int(seconds * 4)):
            frame = av.VideoFrame.from_ndarray(edit(pan_frame(start + i / 4)), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _crop(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return np.ascontiguousarray(frame[h // 10 : h - h // 10, w // 10 : w - w // 10])


def _logo(frame: np.ndarray) -> np.ndarray:
    out = frame.copy()
    h, w = frame.shape[:2]
    out[h // 12 : h // 3, w // 12 : w // 3] = (250, 250, 250)
    return out


def _matches(store: Store, data: bytes) -> dict[str, Match]:
    result = hash_bytes(
        data, "query.mp4", ["vpdq", "vpdq_borderless", "vlocal_video"], variants=True
    )
    return {m.entry.key: m for m in Matcher(store).match_signals(result.signals)}


@pytest.fixture
def videos(store: Store) -> Store:
    store.create_list("videos")
    entries = []
    for key, start in (("known", 0.0), ("other", 60.0)):
        result = hash_bytes(_video(start, 24), key)
        entries.append(Entry(key, [(s.type, s.value) for s in result.signals.values()]))
    store.apply("videos", entries)
    return store


@pytest.mark.parametrize("edit", [_crop, _logo])
def test_cropped_or_logo_excerpt_is_found_and_localised(videos: Store, edit) -> None:  # type: ignore[no-untyped-def]
    found = _matches(videos, _video(8.0, 10, edit))
    assert set(found) == {"known"}
    m = found["known"]
    assert m.signal_type == "vlocal_video"
    assert m.kind == "altered_copy"
    assert m.video is not None
    assert m.video.known_range[0] == pytest.approx(8.0, abs=1.0)
    assert m.video.known_range[1] == pytest.approx(17.0, abs=1.5)


def test_unrelated_footage_does_not_match(videos: Store) -> None:
    assert _matches(videos, _video(100.0, 10, _crop)) == {}


def test_deleting_the_entry_removes_all_its_frames_and_reload_keeps_it(
    videos: Store, tmp_path: object
) -> None:
    query = _video(4.0, 8, _logo)
    assert "known" in _matches(videos, query)
    videos.apply("videos", [Removal("known", "test")])
    assert _matches(videos, query) == {}
    videos.index("vlocal_video").save(videos.home / "index" / "vlocal_video")
    reopened = Store.open(str(videos.home), videos.url) if hasattr(videos, "url") else videos
    assert "known" not in _matches(reopened, query)


def test_known_frames_are_dense_for_a_minute_then_every_other_second() -> None:
    value = hash_bytes(_video(0.0, 70), "long").signals["vlocal_video"].value
    times = [t for t, _ in parse_local_frames(value)]
    early = [t for t in times if t < DENSE_SECONDS]
    late = [t for t in times if t >= DENSE_SECONDS]
    assert len(early) >= 55
    assert late
    assert all(round(t) % 2 == 0 for t in late)
    assert len(late) <= 6


def test_a_value_alone_is_refused_with_a_clear_error(videos: Store) -> None:
    from vigil.errors import UsageError

    value = hash_bytes(_video(0.0, 3), "v").signals["vlocal_video"].value
    with pytest.raises(UsageError, match="match the file itself"):
        Matcher(videos).match_value("vlocal_video", value)


def _scribbled(gray: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``gray`` with a hard-edged drawing (a white box of black strokes) over its middle ninth."""
    import cv2

    out = gray.copy()
    h, w = out.shape
    x0, y0, x1, y1 = w // 3, h // 3, 2 * w // 3, 2 * h // 3
    out[y0:y1, x0:x1] = 255
    for x in range(x0, x1, 12):
        cv2.line(out, (x, y0), (x1 - (x - x0), y1), 0, 3)
    cv2.circle(out, (w // 2, h // 2), min(w, h) // 8, 0, 4)
    return out, (x0, y0, x1, y1)


def test_a_video_frame_query_spreads_its_keypoints_beyond_a_hard_edged_logo() -> None:
    from vigil.signals.local import analyse

    photo = sorted((PHOTOS / "known").glob("*.jpg"))[0]
    gray, (x0, y0, x1, y1) = _scribbled(
        np.asarray(Image.open(photo).convert("L").resize((600, 800)))
    )

    def share_on_logo(spread: bool) -> float:
        _, _, query = analyse(gray, query=True, spread_query=spread)
        assert query is not None
        x, y = query.features.points[:, 0], query.features.points[:, 1]
        return float(((x >= x0) & (x < x1) & (y >= y0) & (y < y1)).mean())

    image_query, frame_query = share_on_logo(False), share_on_logo(True)
    assert image_query > 0.75  # the drawing takes most of the strongest keypoints ...
    assert frame_query < image_query - 0.15  # ... but a frame query keeps more of the footage
