"""``vlocal_video``: the robust signal for video, Vigil's own: :mod:`vigil.signals.local`'s
keypoints and DoG grid on sampled frames, so that a crop, a logo or a caption box, which move
every frame's PDQ, still find the known video.

A known video keeps a frame a second for its first minute, then one every 2 seconds (a clip
must find frames of its own seconds; a long video is searched by long clips); a query samples 1
a second and keeps what matching reads (keypoints and image of each frame) in its payload. The
value is a JSON list of ``"<seconds>,<vlocal record hex>"`` strings, stored like vPDQ frames.
Frames too plain for keypoints are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from vigil.errors import InvalidSignal
from vigil.media.video import iter_frames
from vigil.signals.base import (
    FRAME_BITS,
    Content,
    SignalExample,
    SignalType,
    SignalValue,
    registry,
)
from vigil.signals.local import MIN_FEATURES, LocalQuery, analyse
from vigil.signals.local_algo import unpack_record
from vigil.signals.video import example_video, require_video

__all__ = ["DENSE_SECONDS", "FPS", "VLocalVideo", "VideoLocalQuery", "parse_local_frames"]

FPS = 1.0
DENSE_SECONDS = 60.0  # a known video keeps every sampled frame up to here, then every other
MAX_FRAMES = 3600  # frames kept (two hours of a known video)


@dataclass(frozen=True)
class VideoLocalQuery:
    """What robust video matching reads: each sampled frame's time and keypoints."""

    frames: list[tuple[float, LocalQuery]]


def parse_local_frames(value: str, source: str = "value") -> list[tuple[float, str]]:
    """(seconds, record hex) per frame; InvalidSignal if the value is malformed."""
    try:
        items = json.loads(value)
        if not isinstance(items, list):
            raise ValueError("not a JSON list")
        out = []
        for item in items:
            seconds, record = str(item).split(",")
            unpack_record(bytes.fromhex(record))
            out.append((float(seconds), record.lower()))
    except (ValueError, TypeError) as exc:
        raise InvalidSignal(
            source, f"vlocal_video: a JSON list of 'seconds,record': {exc}"
        ) from None
    return out


def format_local_frames(frames: list[tuple[float, str]]) -> str:
    return json.dumps([f"{t:.3f},{r}" for t, r in frames])


def _frames(content: Content) -> tuple[list[tuple[float, str]], list[tuple[float, LocalQuery]]]:
    require_video(content)
    query = content.variants
    records: list[tuple[float, str]] = []
    queries: list[tuple[float, LocalQuery]] = []
    for frame in iter_frames(content.data, content.source, fps=FPS):
        if not query and frame.timestamp >= DENSE_SECONDS and frame.slot % 2:
            continue
        gray = np.clip(frame.luma, 0, 255).astype(np.uint8)
        record, n, found = analyse(gray, query=query, spread_query=True)
        if n < MIN_FEATURES or len(records) >= MAX_FRAMES:
            continue
        records.append((frame.timestamp, record))
        if found is not None:
            _ = found.enlarged  # frames are searched in one pass: enlarged here, where hashed
            queries.append((frame.timestamp, found))
    return records, queries


@registry.register
class VLocalVideo(SignalType):
    name = "vlocal_video"
    kind = "local_frames"
    indexed_by = "local"
    large = True
    frame_bits = FRAME_BITS
    applies_to = "video"
    bits = 0
    description = "Vigil robust video signal: vlocal keypoints of sampled frames (crops, logos)"

    @classmethod
    def index_rows(cls, signal_id: int, value: str) -> list[tuple[int, bytes]]:
        """A row per sampled frame."""
        frames = parse_local_frames(value)[: 1 << FRAME_BITS]
        return [(signal_id << FRAME_BITS | i, bytes.fromhex(rec))
                for i, (_, rec) in enumerate(frames)]  # fmt: skip

    @classmethod
    def normalize(cls, value: str, source: str = "value") -> str:
        return format_local_frames(parse_local_frames(value.strip(), source))

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else 256

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        records, queries = _frames(content)
        payload = VideoLocalQuery(queries) if queries else None
        return SignalValue(cls.name, format_local_frames(records), None, bool(records),
                           f"{len(records)} frames", payload=payload)  # fmt: skip

    @classmethod
    def examples(cls) -> list[SignalExample]:
        data = example_video(seconds=3, fps=2, size=(192, 128))
        value, _ = _frames(Content(data, "example"))
        # determinism only: ORB's output depends on the OpenCV build (see VLocal.examples)
        return [SignalExample(data, format_local_frames(value))]
