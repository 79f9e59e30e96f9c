"""Safe video decoding with PyAV (its wheels bundle FFmpeg): sampled frames as luma planes.

Frames are sampled at ``fps`` (default 1 frame per second; 0 = every frame) by presentation
time, or only key frames are decoded (fast mode), or (:func:`iter_counted_frames`) every
``int(seconds * frame rate)``-th decoded frame, the way Meta's vpdq picks its frames.
Duration, frame count and frame size are bounded, and a broken or hostile container gives a
:class:`~vigil.errors.MediaError` naming the input. Only the luma (Y) plane is read: PDQ's bits
do not change under an affine change of luma, so hashing Y matches hashing the RGB frame
without the cost of a colour conversion.
"""

from __future__ import annotations

import bisect
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from vigil.errors import CorruptMedia, MediaTooLarge, UnsupportedMedia
from vigil.media.sniff import sniff
from vigil.sandbox.child import grant

__all__ = [
    "VIDEO_KINDS",
    "VideoFrame",
    "VideoLimits",
    "frame_rate",
    "iter_counted_frames",
    "iter_frames",
]

FRAME_CPU = 0.5  # seconds of CPU budget each sampled frame adds (decoding up to it, hashing it)

VIDEO_KINDS = frozenset({"mp4", "webm", "avi", "mov"})


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = 4 * 2**30
    max_seconds: float = 6 * 3600.0
    max_frames: int = 200_000  # frames returned (sampled), not decoded
    max_pixels: int = 8192 * 8192


@dataclass
class VideoFrame:
    index: int  # its number among the frames decoded (key frames only, in key-frame mode)
    timestamp: float  # seconds from the start of the stream
    slot: int  # the sampling slot: this is the first frame at or after slot / fps
    luma: npt.NDArray[np.float32]  # full-range luma (0-255), height x width


def _open(data: bytes, source: str) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise CorruptMedia(source, f"not a readable video container: {exc}") from exc


_FULL_RANGE = {"yuvj420p", "yuvj422p", "yuvj444p", "gray"}
_PLANAR_8BIT = {"yuv420p", "yuv422p", "yuv444p", "nv12", *_FULL_RANGE}


def _luma(frame: av.VideoFrame) -> npt.NDArray[np.float32]:
    """The Y plane as full-range luma. Limited-range video (Y in 16-235) is stretched to 0-255,
    which leaves PDQ's bits unchanged but keeps its quality score comparable to an RGB frame."""
    if frame.format.name not in _PLANAR_8BIT:
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8)
    y: npt.NDArray[np.float32] = rows.reshape(plane.height, plane.line_size)[
        :, : plane.width
    ].astype(np.float32)
    if frame.format.name in _FULL_RANGE or frame.color_range == 2:  # 2: JPEG (full) range
        return y
    return (y - np.float32(16.0)) * np.float32(255.0 / 219.0)


@contextmanager
def _video_stream(
    data: bytes, source: str, limits: VideoLimits
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The container and its first video stream, checked against ``limits``."""
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(source, f"{len(data)} bytes is over the limit of {limits.max_bytes}")
    container = _open(data, source)
    with container:
        if not container.streams.video:
            kind = sniff(data[:64]) or "unknown"
            raise UnsupportedMedia(source, f"no video stream (content is {kind})")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.max_pixels:
            raise MediaTooLarge(source, f"{width}x{height} frames are over the pixel limit")
        # one decoding thread: Vigil parallelises by process (scan workers), and speeds are
        # reported per core
        stream.codec_context.thread_count = 1
        yield container, stream


def iter_frames(
    data: bytes,
    source: str,
    fps: float = 1.0,
    keyframes_only: bool = False,
    limits: VideoLimits = VideoLimits(),
) -> Iterator[VideoFrame]:
    """Yield sampled frames of the first video stream of ``data``."""
    with _video_stream(data, source, limits) as (container, stream):
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        yield from _sample(container, stream, source, fps, keyframes_only, limits)


def frame_rate(stream: av.video.stream.VideoStream) -> float:
    """The stream's frame rate as vpdq reads it: the average rate, else the base rate (the
    lowest rate that represents every timestamp); 0 when the container gives neither."""
    for rate in (stream.average_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def iter_counted_frames(
    data: bytes,
    source: str,
    seconds: float = 1.0,
    phases: int = 1,
    limits: VideoLimits = VideoLimits(),
) -> Iterator[VideoFrame]:
    """Every ``step = max(1, int(seconds * frame rate))``-th decoded frame, counted from 0,
    timed ``index / frame rate``: the frames Meta's vpdq hashes, and the times it gives them
    (at 29.83 fps, frames 0, 29, 58, ... at 0.972 s, 1.944 s, ...). With ``phases`` > 1, frames
    ``step * k / phases`` after each of them too (slot ``phases * n + k``). A stream without a
    frame rate is sampled by time."""
    with _video_stream(data, source, limits) as (container, stream):
        rate = frame_rate(stream)
        if rate <= 0:
            yield from _sample(container, stream, source, phases / seconds, False, limits)
            return
        step = max(1, int(seconds * rate))
        offsets = {round(step * k / phases): k for k in range(phases)}
        emitted = _Emitted(source, limits)
        try:
            for index, frame in _counted(container, stream, rate, _near(step, set(offsets))):
                n, offset = divmod(index, step)
                emitted.within(index / rate)
                if offset in offsets:
                    emitted.check()
                    slot = phases * n + offsets[offset]
                    yield VideoFrame(index, round(index / rate, 3), slot, _luma(frame))
                    emitted.count()
        except av.error.FFmpegError as exc:
            raise emitted.damaged(exc) from exc


def _near(step: int, offsets: set[int]) -> Callable[[float], bool]:
    """Whether a frame at (estimated) position ``x`` may be one of the sampled ones: within 1.5
    frames of ``n * step + offset``."""

    def near(x: float) -> bool:
        r = x % step
        return any(min(abs(r - o), step - abs(r - o)) < 1.5 for o in offsets)

    return near


def _counted(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    rate: float,
    wanted: Callable[[float], bool],
) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decoded frames with their position among all the stream's frames, as a decoder that
    outputs every frame counts it (what vpdq counts): the number of packets that present
    before it. That count holds for frames whose decode is skipped, so the decode of a frame
    nothing refers to (H.264 non-reference frames) is skipped when its position, estimated
    from its timestamp, is not near a wanted one; without timestamps every frame is decoded."""
    ctx, base = stream.codec_context, stream.time_base
    seen: list[int] = []  # the presentation times of the packets so far, in order
    first: int | None = None
    decoded = 0
    timed: bool | None = None  # whether the stream's packets have timestamps (its first has)
    for packet in container.demux(stream):
        skip = False
        timed = (packet.pts is not None and base is not None) if timed is None else timed
        if timed and packet.pts is not None and base is not None:
            bisect.insort(seen, packet.pts)
            first = packet.pts if first is None else min(first, packet.pts)
            skip = not wanted(float((packet.pts - first) * base) * rate)
        ctx.skip_frame = "NONREF" if skip else "DEFAULT"
        for frame in packet.decode():
            pts = frame.pts
            index = bisect.bisect_left(seen, pts) if timed and pts is not None else decoded
            decoded += 1
            yield index, frame


class _Emitted:
    """The bounds on sampled frames, and the CPU each earns (both kinds of sampling)."""

    def __init__(self, source: str, limits: VideoLimits) -> None:
        self.source, self.limits, self.returned = source, limits, 0

    def within(self, t: float) -> None:
        """Checked for each decoded frame: a video too long is refused, sampled or not."""
        if t > self.limits.max_seconds:
            raise MediaTooLarge(self.source, f"longer than {self.limits.max_seconds:.0f} s")

    def check(self) -> None:
        """Checked before a frame is returned."""
        if self.returned >= self.limits.max_frames:
            raise MediaTooLarge(self.source, f"more than {self.limits.max_frames} sampled frames")

    def count(self) -> None:
        self.returned += 1
        grant(FRAME_CPU)  # a sandboxed job earns CPU time with each real frame

    def damaged(self, exc: Exception) -> CorruptMedia:
        reason = f"video data is damaged after {self.returned} frames: {exc}"
        return CorruptMedia(self.source, reason)


def _decode(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, fps: float
) -> Iterator[av.VideoFrame]:
    """The stream's frames, skipping the decode of frames nothing refers to (H.264 non-reference
    frames) unless they may be sampled: the sampled frames come out exactly as a full decode
    gives them, and the decoder does less work (a third less on the shared 720p clips)."""
    ctx = stream.codec_context
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    base = stream.time_base
    window = 1.5 * fps / rate if fps > 0 and rate > 0 else 0.0  # 1.5 frames, in samples
    first: float | None = None
    for packet in container.demux(stream):
        if window and packet.pts is not None and base is not None:
            t = float(packet.pts * base)
            first = t if first is None else min(first, t)
            pos = (t - first) * fps
            needed = pos - math.floor(pos + 1e-6) < window or pos < window
            ctx.skip_frame = "DEFAULT" if needed else "NONREF"
        yield from packet.decode()


def _sample(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    source: str,
    fps: float,
    keyframes_only: bool,
    limits: VideoLimits,
) -> Iterator[VideoFrame]:
    next_time = 0.0
    start: float | None = None
    index = -1
    emitted = _Emitted(source, limits)
    try:
        for frame in _decode(container, stream, fps if not keyframes_only else 0.0):
            index += 1
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            t = frame.time - start
            emitted.within(t)
            if not keyframes_only and fps > 0 and t + 1e-6 < next_time:
                continue
            emitted.check()
            slot = math.floor(t * fps + 1e-6) if fps > 0 else index
            yield VideoFrame(index, round(t, 3), slot, _luma(frame))
            emitted.count()
            if fps > 0:
                next_time = (math.floor(t * fps + 1e-6) + 1) / fps
    except av.error.FFmpegError as exc:
        raise emitted.damaged(exc) from exc
