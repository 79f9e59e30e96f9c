"""Video: safe decoding, frame sampling, and vPDQ agreement with the reference hashes."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from vigil.errors import CorruptMedia, InvalidSignal, MediaTooLarge
from vigil.matching.hashing import hash_bytes
from vigil.media.video import VideoLimits, iter_frames
from vigil.signals import hamming
from vigil.signals.pdq_algo import hash_luma
from vigil.signals.video import VPDQ, example_video, parse_vpdq


@pytest.fixture(scope="module")
def clip() -> bytes:
    return example_video(seconds=3, fps=4)


def test_sampling_rate_and_every_frame(clip: bytes) -> None:
    assert [f.timestamp for f in iter_frames(clip, "clip.mp4")] == [0.0, 1.0, 2.0]
    assert len(list(iter_frames(clip, "clip.mp4", fps=2))) == 6
    every = list(iter_frames(clip, "clip.mp4", fps=0))
    assert [f.index for f in every] == list(range(12))
    assert every[0].luma.shape == (64, 96)


def test_keyframes_only(clip: bytes) -> None:
    with av.open(io.BytesIO(clip)) as container:
        keys = [round(f.time, 3) for f in container.decode(video=0) if f.key_frame]
    frames = list(iter_frames(clip, "clip.mp4", keyframes_only=True))
    assert [f.timestamp for f in frames] == keys
    assert keys != [0.0, 1.0, 2.0]  # what sampling at 1 per second would give instead


def test_bounds_and_damage_are_named_errors(clip: bytes) -> None:
    with pytest.raises(MediaTooLarge, match="sampled frames"):
        list(iter_frames(clip, "clip.mp4", fps=0, limits=VideoLimits(max_frames=5)))
    with pytest.raises(MediaTooLarge, match="longer than"):
        list(iter_frames(clip, "clip.mp4", limits=VideoLimits(max_seconds=1.5)))
    with pytest.raises(CorruptMedia, match=r"cut\.mp4"):
        list(iter_frames(clip[: len(clip) // 2], "cut.mp4"))


def test_hashing_a_video_gives_its_video_signals(clip: bytes) -> None:
    result = hash_bytes(clip, "clip.mp4")
    assert result.ok
    assert set(result.signals) == {
        "md5", "sha1", "sha256", "video_md5", "video_sha256", "vpdq", "vpdq_borderless",
        "vlocal_video"
    }  # fmt: skip
    assert result.signals["video_md5"].value == result.signals["md5"].value
    assert result.signals["video_sha256"].value == result.signals["sha256"].value
    frames = parse_vpdq(result.signals["vpdq"].value)
    assert [t for _, _, t in frames] == [0.0, 1.0, 2.0]


def test_an_image_gets_no_video_signals(known_photos: list[Path]) -> None:
    result = hash_bytes(known_photos[0].read_bytes(), "photo.jpg")
    assert "vpdq" not in result.signals
    assert "pdq" in result.signals


def test_vpdq_reads_python_threatexchange_strings() -> None:
    pdq = "e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"
    value = f'["{pdq.upper()},100,0.033", "{pdq},50,1.0"]'
    assert parse_vpdq(VPDQ.normalize(value)) == [(pdq, 100, 0.033), (pdq, 50, 1.0)]
    for bad in ("{}", '["abc,1,0"]', f'["{pdq},101,0"]', f'["{pdq},1,-2"]', "not json"):
        with pytest.raises(InvalidSignal):
            VPDQ.normalize(bad)


@pytest.mark.shared
def test_frame_hashes_agree_with_the_reference_vpdq_files(shared: Path) -> None:
    base = shared / "videos" / "threatexchange-tmk"
    distances: list[int] = []
    checked = 0
    for ref_file in sorted((base / "sample-hashes-vpdq").glob("*.txt")):
        video = base / f"{ref_file.stem}.mp4"
        if ref_file.stem.endswith("128x128") or not video.exists():
            continue
        rows = [line.split(",") for line in ref_file.read_text().splitlines() if line]
        frames = list(iter_frames(video.read_bytes(), video.name, fps=0))
        assert len(frames) == len(rows), video.name
        for frame, (_, quality, ref_hex, seconds) in zip(frames, rows, strict=True):
            assert abs(frame.timestamp - float(seconds)) < 0.002
            if int(quality) >= 50:  # frames matching uses
                distances.append(hamming(hash_luma(frame.luma).hex, ref_hex))
        checked += 1
    assert checked >= 10
    assert np.mean(distances) <= 2
    assert np.percentile(distances, 99) <= 8
