"""Video signal types: ``video_md5`` (what NCMEC and StopNCII exchange for video) and ``vpdq``
(PDQ of sampled frames, in python-threatexchange's serialisation: a JSON list of
``"<pdq hex>,<quality>,<seconds>"`` strings)."""

from __future__ import annotations

import hashlib
import io
import json
from fractions import Fraction
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from vigil.errors import InvalidSignal, UnsupportedMedia
from vigil.media.sniff import sniff
from vigil.media.video import VIDEO_KINDS, iter_counted_frames
from vigil.signals.base import (
    FRAME_BITS,
    Content,
    SignalExample,
    SignalType,
    SignalValue,
    hamming,
    registry,
)
from vigil.signals.pdq import PDQ_MIN_QUALITY
from vigil.signals.pdq_algo import hash_luma

__all__ = ["VPDQ", "VideoMD5", "example_video", "parse_vpdq", "require_video"]

DEFAULT_FPS = 1.0


def require_video(content: Content) -> None:
    kind = sniff(content.data[:64])
    if kind not in VIDEO_KINDS:
        raise UnsupportedMedia(content.source, f"not a video (content is {kind or 'unknown'})")


def _waypoints(second: int) -> npt.NDArray[np.float64]:
    """Random (but reproducible) blob positions and phases for one whole second."""
    return np.random.default_rng(second + 1_000_003).random((4, 3))


def example_frame(t: float, size: tuple[int, int] = (96, 64)) -> npt.NDArray[np.uint8]:
    """A synthetic RGB frame at time ``t`` seconds: soft blobs gliding between random waypoints
    and a drifting checker (no people); never repeats, differs from one second to the next."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    s = int(np.floor(t))
    a = 0.5 - 0.5 * np.cos(np.pi * (t - s))  # ease between this second's and the next's points
    points = (1 - a) * _waypoints(s) + a * _waypoints(s + 1)
    img = np.zeros((h, w, 3))
    for k, (px, py, ph) in enumerate(points):
        blob = np.exp(-((x - px * w) ** 2 + (y - py * h) ** 2) / (2 * (0.15 * w) ** 2))
        img[..., k % 3] += 255 * blob
        img[..., (k + 1) % 3] += 40 * (1 + np.sin(x * 96 / w / 9 + 6.3 * ph))
    u, v = x * 96 / w, y * 64 / h  # the same picture at any size
    img[..., 1] += 90 * (np.sin(u / 8 + 0.9 * t) * np.sin(v / 8 - 1.1 * t) > 0)
    return np.clip(img, 0, 255).astype(np.uint8)


def example_video(
    seconds: float = 3,
    fps: int | Fraction = 4,
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


class _VideoDigest(SignalType):
    """A digest of a video file's bytes, under pytx's video name; ``digest`` names the file
    digest it equals, so that either name matches the other."""

    kind = "exact"
    applies_to = "video"
    digest: ClassVar[str]

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        require_video(content)
        return SignalValue(cls.name, hashlib.new(cls.digest, content.data).hexdigest())

    @classmethod
    def examples(cls) -> list[SignalExample]:
        data = example_video()
        return [SignalExample(data, hashlib.new(cls.digest, data).hexdigest())]


@registry.register
class VideoMD5(_VideoDigest):
    name = "video_md5"
    bits = 128
    digest = "md5"
    description = "MD5 of a video file's bytes (NCMEC and StopNCII exchange video this way)"


@registry.register
class VideoSHA256(_VideoDigest):
    name = "video_sha256"
    bits = 256
    digest = "sha256"
    description = "SHA-256 of a video file's bytes (what pytx's `tx hash video` writes)"


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


PHASES = 4  # with variants, frames are also hashed 1/4, 1/2 and 3/4 s after each second

FrameList = list[tuple[str, int, float]]


def _frame_hashes(content: Content) -> dict[tuple[str, int], FrameList]:
    """PDQ of sampled frames, as they are and with dark bars cropped, computed once per content
    for all video signal types. Keys: ("plain" | "borderless", phase). Phase 0 holds the
    frames Meta's vpdq hashes (every ``int(fps)``-th frame, timed as vpdq times them), so
    that a vPDQ made here and one made by vpdq or pytx agree frame for frame; with
    ``content.variants`` the other phases sample a quarter, half and three quarters of that
    step later, so that a clip cut mid-second still lines up with the known video's samples
    within 1/8 s."""
    cached = content.cache.get("frame_hashes")
    if isinstance(cached, dict):
        return cached
    require_video(content)
    phases = PHASES if content.variants else 1
    out: dict[tuple[str, int], FrameList] = {}
    for frame in iter_counted_frames(content.data, content.source, 1 / DEFAULT_FPS, phases):
        phase = frame.slot % PHASES if content.variants else 0
        plain = hash_luma(frame.luma)
        inner = crop_borders(frame.luma)
        cropped = plain if inner is frame.luma else hash_luma(inner)
        for name, pdq in (("plain", plain), ("borderless", cropped)):
            out.setdefault((name, phase), []).append((pdq.hex, pdq.quality, frame.timestamp))
    content.cache["frame_hashes"] = out
    return out


class _FrameSignal(SignalType):
    """PDQ of video frames sampled at 1 per second, in python-threatexchange's vpdq format."""

    kind = "frames"
    indexed_by = "hamming"
    large = True
    frame_bits = FRAME_BITS
    applies_to = "video"
    bits = 256
    default_threshold = 31
    frames_of: ClassVar[str]  # "plain" or "borderless"

    @classmethod
    def index_rows(cls, signal_id: int, value: str) -> list[tuple[int, bytes]]:
        """A row per frame of usable quality."""
        return [
            (signal_id << FRAME_BITS | i, bytes.fromhex(h))
            for i, (h, quality, _) in enumerate(parse_vpdq(value))
            if quality >= PDQ_MIN_QUALITY and i < 1 << FRAME_BITS
        ]

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
        hashes = _frame_hashes(content)
        frames = hashes.get((cls.frames_of, 0), [])
        variants = {
            f"phase_{p / PHASES:g}s": format_vpdq(hashes[(cls.frames_of, p)])
            for p in range(1, PHASES)
            if (cls.frames_of, p) in hashes
        }
        return SignalValue(
            cls.name, format_vpdq(frames), note=f"{len(frames)} frames", variants=variants
        )


@registry.register
class VPDQ(_FrameSignal):
    name = "vpdq"
    frames_of = "plain"
    description = "PDQ of video frames sampled at 1 per second (python-threatexchange vpdq)"

    @classmethod
    def examples(cls) -> list[SignalExample]:
        # 3 seconds at 4 fps: samples at 0, 1 and 2 seconds. Expected values from this
        # implementation, which agrees with the reference vPDQ files to a few bits a frame.
        return [SignalExample(example_video(), _EXAMPLE_VPDQ, tolerance=8)]


@registry.register
class VPDQBorderless(_FrameSignal):
    name = "vpdq_borderless"
    frames_of = "borderless"
    description = (
        "vPDQ of the frames with letterbox/pillarbox bars cropped (Vigil's own: finds "
        "copies whose bars were added, removed or cut)"
    )

    @classmethod
    def examples(cls) -> list[SignalExample]:
        # bars added to the example video are cropped away again
        return [SignalExample(example_video(pad=20), _EXAMPLE_VPDQ, tolerance=31)]


_EXAMPLE_VPDQ = (
    '["26649597f9d8797896876664d0a799987978868726656664d99b797886872667,100,0.000", '
    '"a8add7f267d2694ee80d4552790f794ee80d17d2961b1730baad06f082f3e847,100,1.000", '
    '"0877a8f6fd4352a95689bd0200fead76ad7243add309fe0552a90874ad5303ff,100,2.000"]'
)
