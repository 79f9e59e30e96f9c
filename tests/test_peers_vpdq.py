"""vPDQ against Meta's own ``vpdq`` (and pytx's comparison of it): the same frames, at the same
times, for frame rates that are not whole (issue 17, item 4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from vigil.lists import Entry
from vigil.matching.match import Matcher
from vigil.signals import hamming
from vigil.signals.base import Content
from vigil.signals.video import VPDQ, example_video, parse_vpdq
from vigil.store import Store

vpdq = pytest.importorskip(
    "vpdq", reason="Meta's vpdq (peers extra; built from source, needs FFmpeg's -dev packages)"
)
signal = pytest.importorskip(
    "threatexchange.extensions.vpdq.vpdq", reason="pytx's vpdq extension (peers extra)"
)

RATES = [Fraction(30000, 1001), Fraction(25, 2), Fraction(24), Fraction(15, 2)]


def _ours(path: Path) -> list[tuple[str, int, float]]:
    return parse_vpdq(VPDQ.compute(Content(path.read_bytes(), path.name)).value)


def _same_frames(path: Path) -> None:
    theirs = vpdq.computeHash(str(path))
    ours = _ours(path)
    assert [round(f.timestamp, 3) for f in theirs] == [t for _, _, t in ours], path.name
    for f, (hex_, quality, _) in zip(theirs, ours, strict=True):
        if min(f.quality, quality) >= 50:  # the frames matching uses
            assert hamming(f.hex, hex_) <= 16, path.name


@pytest.mark.parametrize("fps", RATES, ids=str)
def test_vpdq_samples_the_frames_meta_vpdq_hashes(tmp_path: Path, fps: Fraction) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(example_video(seconds=4, fps=fps, size=(128, 96)))
    _same_frames(path)
    # the times are frame numbers over the rate (29.97 fps: frame 29 at 0.968 s)
    step = int(fps)
    assert [t for _, _, t in _ours(path)][:3] == [round(float(k * step / fps), 3) for k in range(3)]


def test_shared_videos_sample_as_vpdq_does_and_pytx_says_they_match(shared: Path) -> None:
    for path in sorted((shared / "videos").glob("*/*.mp4")):
        _same_frames(path)
    base = shared / "videos" / "intel-sample-videos"
    for name in ("bottle-detection.mp4", "car-detection.mp4"):  # 29.83 fps and 12.5 fps
        path = base / name
        theirs = signal.VPDQSignal.hash_from_file(path)
        ours = VPDQ.compute(Content(path.read_bytes(), name)).value
        result = signal.VPDQSignal.compare_hash(ours, theirs)
        assert result.match, (name, result)


def test_vigil_finds_a_video_in_a_pytx_made_vpdq_list(shared: Path, tmp_path: Path) -> None:
    path = shared / "videos" / "intel-sample-videos" / "bottle-detection.mp4"
    store = Store.open(tmp_path)
    store.create_list("pytx")
    made_by_pytx = signal.VPDQSignal.hash_from_file(path)
    store.apply("pytx", [Entry("bottle", [("vpdq", VPDQ.normalize(made_by_pytx))])])
    sv = VPDQ.compute(Content(path.read_bytes(), path.name))
    found = Matcher(store).match_signals({"vpdq": sv})
    assert [(m.list, m.entry.key) for m in found] == [("pytx", "bottle")]
    store.close()
