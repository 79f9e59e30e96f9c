"""Video signal types: ``video_md5`` (what NCMEC and StopNCII exchange for video) and ``vpdq``
(PDQ of sampled frames, in python-threatexchange's serialisation: a JSON list of
``"<pdq hex>,<quality>,<seconds>"`` strings)."""

from __future__ import annotations

import hashlib
import io
import json
from typing import ClassVar, Literal

import numpy as np

from vigil.errors import InvalidSignal, UnsupportedMedia
from vigil.media.sniff import sniff
from vigil.media.video import VIDEO_KINDS, iter_frames
from vigil.signals.base import Content, SignalExample, SignalType, SignalValue, hamming, registry
from vigil.signals.pdq_algo import hash_luma

__all__ = ["VPDQ", "VideoMD5", "example_video", "parse_vpdq"]

DEFAULT_FPS = 1.0


def _require_video(content: Content) -> None:
    kind = sniff(content.data[:64])
    if kind not in VIDEO_KINDS:
        raise UnsupportedMedia(content.source, f"not a video (content is {kind or 'unknown'})")


def example_video(frames: int = 12, fps: int = 4, size: tuple[int, int] = (96, 64)) -> bytes:
    """A tiny synthetic H.264 MP4 (moving gradients and blocks, no people) for examples."""
    import av

    out = io.BytesIO()
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "tune": "zerolatency"}
        for i in range(frames):
            img = np.zeros((h, w, 3), dtype=np.uint8)
            img[..., 0] = (x * 3 + i * 9) % 256
            img[..., 1] = (y * 4 + i * 5) % 256
            img[10 + i : 30 + i, 20 + 2 * i : 44 + 2 * i] = (255, 255, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


@registry.register
class VideoMD5(SignalType):
    name = "video_md5"
    kind: ClassVar[Literal["exact", "hamming", "frames"]] = "exact"
    applies_to: ClassVar[Literal["any", "image", "video"]] = "video"
    bits = 128
    description = "MD5 of a video file's bytes (NCMEC and StopNCII exchange video this way)"

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        _require_video(content)
        return SignalValue(cls.name, hashlib.md5(content.data).hexdigest())

    @classmethod
    def examples(cls) -> list[SignalExample]:
        data = example_video()
        return [SignalExample(data, hashlib.md5(data).hexdigest())]


def parse_vpdq(value: str, source: str = "value") -> list[tuple[str, int, float]]:
    """(pdq hex, quality, seconds) per frame of a serialised vPDQ value; InvalidSignal if bad."""
    try:
        items = json.loads(value)
        if not isinstance(items, list):
            raise ValueError("not a JSON list")
        frames = []
        for item in items:
            pdq, quality, seconds = str(item).split(",")
            frame = (pdq.strip().lower(), int(quality), float(seconds))
            if len(frame[0]) != 64 or not 0 <= frame[1] <= 100 or frame[2] < 0:
                raise ValueError(f"bad frame {str(item)[:90]!r}")
            int(frame[0], 16)
            frames.append(frame)
    except (ValueError, TypeError) as exc:
        reason = f"vpdq must be a JSON list of 'hex,quality,seconds': {exc}"
        raise InvalidSignal(source, reason) from None
    return frames


def format_vpdq(frames: list[tuple[str, int, float]]) -> str:
    return json.dumps([f"{h},{q},{t:.3f}" for h, q, t in frames])


@registry.register
class VPDQ(SignalType):
    name = "vpdq"
    kind: ClassVar[Literal["exact", "hamming", "frames"]] = "frames"
    applies_to: ClassVar[Literal["any", "image", "video"]] = "video"
    bits = 256
    default_threshold = 31
    description = "PDQ of video frames sampled at 1 per second (python-threatexchange vpdq format)"

    @classmethod
    def normalize(cls, value: str, source: str = "value") -> str:
        return format_vpdq(parse_vpdq(value, source))

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """The largest frame-by-frame distance (or 256 when the frame counts differ)."""
        fa, fb = parse_vpdq(a), parse_vpdq(b)
        if len(fa) != len(fb):
            return 256
        return max((hamming(x[0], y[0]) for x, y in zip(fa, fb, strict=True)), default=0)

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        _require_video(content)
        frames = []
        for frame in iter_frames(content.data, content.source, fps=DEFAULT_FPS):
            pdq = hash_luma(frame.luma)
            frames.append((pdq.hex, pdq.quality, frame.timestamp))
        return SignalValue(cls.name, format_vpdq(frames), note=f"{len(frames)} frames")

    @classmethod
    def examples(cls) -> list[SignalExample]:
        # 12 frames at 4 fps: samples at 0, 1 and 2 seconds. Expected values from this
        # implementation, which agrees with the reference vPDQ files to a few bits a frame.
        return [SignalExample(example_video(), _EXAMPLE_VPDQ, tolerance=8)]


_EXAMPLE_VPDQ = (
    '["1c0e1c0ec37163f11c0ee3f1e3f1e3f1e3f19c0ee3f19c8e1c0e1c0e1c0ee3f1,76,0.000", '
    '"1c390c3963c663e673e6e3c6e3c61c391c399c199c391c39e3e6e3c6e3c61c19,100,1.000", '
    '"1c669ce3639ce75c36997799186798e688f36319320c6319e3191ce61ce6e799,96,2.000"]'
)
