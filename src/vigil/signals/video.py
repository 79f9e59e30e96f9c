"""Video signal types: ``video_md5`` (what NCMEC and StopNCII exchange for video) and ``vpdq``
(PDQ of sampled frames, in python-threatexchange's serialisation: a JSON list of
``"<pdq hex>,<quality>,<seconds>"`` strings)."""

from __future__ import annotations

import hashlib
import io
import json
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

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


def example_frame(t: float, size: tuple[int, int] = (96, 64)) -> npt.NDArray[np.uint8]:
    """A synthetic RGB frame at time ``t`` seconds: soft blobs moving on Lissajous paths and a
    drifting stripe pattern (no people), different from one second to the next."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for k in range(4):
        cx = w * (0.5 + 0.4 * np.sin(0.7 * t * (k + 1) + k))
        cy = h * (0.5 + 0.4 * np.cos(0.5 * t * (k + 2) + 2 * k))
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (0.12 * w) ** 2))
        img[..., k % 3] += 255 * blob
    u, v = x * 96 / w, y * 64 / h  # the same picture at any size
    img[..., 2] += 60 * (1 + np.sin(u / 9 + t * 1.3))
    img[..., 1] += 90 * (np.sin(u / 8 + 0.9 * t) * np.sin(v / 8 - 1.1 * t) > 0)
    return np.clip(img, 0, 255).astype(np.uint8)


def example_video(
    seconds: float = 3,
    fps: int = 4,
    size: tuple[int, int] = (96, 64),
    start: float = 0.0,
    pad: int = 0,
) -> bytes:
    """A small synthetic H.264 MP4 of :func:`example_frame` from ``start`` for ``seconds``;
    ``pad`` adds black bars of that many pixels on the left and right (a pillarbox)."""
    import av

    out = io.BytesIO()
    w, h = size
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w + 2 * pad, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "tune": "zerolatency"}
        for i in range(int(seconds * fps)):
            img = np.pad(example_frame(start + i / fps, size), ((0, 0), (pad, pad), (0, 0)))
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


def crop_borders(luma: npt.NDArray[np.float32], dark: float = 40.0) -> npt.NDArray[np.float32]:
    """The frame without dark bars on its edges (letterbox, pillarbox), or the same array when
    there are none, or when cropping would leave less than 40% of a side (a dark scene)."""
    h, w = luma.shape
    rows = luma.max(axis=1) <= dark  # a bar is dark all the way across
    cols = luma.max(axis=0) <= dark
    top, left = int(np.argmin(rows)), int(np.argmin(cols))
    bottom, right = int(np.argmin(rows[::-1])), int(np.argmin(cols[::-1]))
    if rows.all() or cols.all() or top + bottom + left + right < 4:
        return luma
    if h - top - bottom < 0.4 * h or w - left - right < 0.4 * w:
        return luma
    return luma[top : h - bottom, left : w - right]


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
        """The frames' PDQ as python-threatexchange computes it; with ``content.variants``,
        also the frames with letterbox/pillarbox bars cropped (variant ``borders_removed``),
        which a query with added bars needs to find its original."""
        _require_video(content)
        frames, cropped = [], []
        for frame in iter_frames(content.data, content.source, fps=DEFAULT_FPS):
            pdq = hash_luma(frame.luma)
            frames.append((pdq.hex, pdq.quality, frame.timestamp))
            inner = crop_borders(frame.luma) if content.variants else frame.luma
            alt = pdq if inner is frame.luma else hash_luma(inner)
            cropped.append((alt.hex, alt.quality, frame.timestamp))
        variants = {"borders_removed": format_vpdq(cropped)} if cropped != frames else {}
        return SignalValue(
            cls.name, format_vpdq(frames), note=f"{len(frames)} frames", variants=variants
        )

    @classmethod
    def examples(cls) -> list[SignalExample]:
        # 3 seconds at 4 fps: samples at 0, 1 and 2 seconds. Expected values from this
        # implementation, which agrees with the reference vPDQ files to a few bits a frame.
        return [SignalExample(example_video(), _EXAMPLE_VPDQ, tolerance=8)]


_EXAMPLE_VPDQ = (
    '["295a260758f879788687295c52a7dcb8795887272d4d232dd8fbf8f986a506d6,100,0.000", '
    '"2d2d07f256d29accb80d92d2b88dfa9ea80d57f2252907f32d2b57f24752e924,100,1.000", '
    '"29c3e9c3fc1612ed42adac1601e1ad52ec1253e912bcaaad43aded41ad5653fe,100,2.000"]'
)
