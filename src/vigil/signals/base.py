"""The signal-type extension point: one base class, one registry.

A signal type turns content into a value (a hash) and knows how values compare: ``exact`` types
match on equality, ``hamming`` types within a bit distance. Each ships examples that one contract
test runs over the whole registry.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from vigil.errors import InvalidSignal, UnknownSignalType
from vigil.media import DecodedImage, Limits, decode_image
from vigil.registry import Registry

FRAME_BITS = 20  # an index row of a frame of a video: signal id << FRAME_BITS | frame number

__all__ = [
    "FRAME_BITS",
    "Content",
    "SignalExample",
    "SignalType",
    "SignalValue",
    "hamming",
    "registry",
    "same_digest",
]


class Content:
    """The bytes of one file (or upload) plus its image, decoded at most once per scale."""

    def __init__(self, data: bytes, source: str, limits: Limits = Limits(), variants: bool = False):
        self.data = data
        self.source = source
        self.limits = limits
        self.variants = variants  # ask perceptual types for their rotation/flip variants too
        self.decoded: dict[int, DecodedImage] = {}  # decodes done so far, by min_side
        self.cache: dict[str, object] = {}  # work shared by several signal types (video)

    def image(self, min_side: int = 0) -> DecodedImage:
        """The decoded first frame; ``min_side`` > 0 allows a reduced-scale JPEG decode."""
        if min_side not in self.decoded:
            full = next((d for d in self.decoded.values() if d.scale == 1), None)
            # a full-resolution decode is what any min_side would give when no reduction fits
            if full is not None and min(full.image.size) < 2 * max(min_side, 1):
                self.decoded[min_side] = full
            else:
                self.decoded[min_side] = decode_image(self.data, self.source, self.limits, min_side)
        return self.decoded[min_side]

    def decode_warnings(self) -> list[str]:
        """Non-fatal problems met while decoding (e.g. a corrupt EXIF block), once each."""
        seen: dict[str, None] = {}
        for img in self.decoded.values():
            seen.update(dict.fromkeys(img.warnings))
        return list(seen)


@dataclass(frozen=True)
class SignalValue:
    """One computed signal. ``usable`` is False when it must not be matched (e.g. low quality)."""

    type: str
    value: str
    quality: int | None = None
    usable: bool = True
    note: str | None = None
    variants: dict[str, str] = field(default_factory=dict)
    # query-side data that is not part of the value (vlocal: the query's keypoints and image)
    payload: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SignalExample:
    """Content whose signal is known; a perceptual type may allow ``tolerance`` bits."""

    content: bytes
    expected: str
    tolerance: int = 0


class SignalType(ABC):
    """Base class of all signal types. Subclasses set ``name``, ``kind`` and ``bits``."""

    name: ClassVar[str]
    # exact: equal values match; hamming: a 256-bit value matched within a bit distance;
    # frames: a sequence of per-frame hashes (video), matched frame by frame;
    # local: keypoints matched through the local-feature index and verified (vlocal);
    # local_frames: the same for sampled video frames (vlocal_video)
    kind: ClassVar[Literal["exact", "hamming", "frames", "local", "local_frames"]]
    # which content it is computed for: "any" (file bytes), "image", "video" or "model"
    applies_to: ClassVar[Literal["any", "image", "video", "model"]] = "any"
    bits: ClassVar[int]
    default_threshold: ClassVar[int] = 0
    max_threshold: ClassVar[int] = 0
    description: ClassVar[str] = ""
    # exact types that are the same digest of the same bytes under other names (pytx's
    # video_md5 is the md5 of the file): values of one family match each other
    digest: ClassVar[str | None] = None
    # how its values are indexed: in a HammingIndex, a LocalIndex, or not at all (exact types
    # are looked up in the database)
    indexed_by: ClassVar[Literal["hamming", "local"] | None] = None
    # values too large for the signals row (a video's frame hashes, a vlocal record): the row
    # holds their SHA-256, and ``frame_sets`` the value
    large: ClassVar[bool] = False
    frame_bits: ClassVar[int] = 0  # FRAME_BITS where one value is indexed as a row per frame
    _hex: ClassVar[re.Pattern[str]] = re.compile(r"[0-9a-f]+")

    @classmethod
    def normalize(cls, value: str, source: str = "value") -> str:
        """The canonical form of a value (lower-case hex), or :class:`InvalidSignal`."""
        v = value.strip().lower()
        if len(v) != cls.bits // 4 or not cls._hex.fullmatch(v):
            raise InvalidSignal(
                source, f"{cls.name} must be {cls.bits // 4} hex digits, got {value[:80]!r}"
            )
        return cls.validate(v, source)

    @classmethod
    def validate(cls, value: str, source: str) -> str:
        """Extra checks on a well-formed value (e.g. degenerate hashes); returns it."""
        return value

    @classmethod
    def value_bytes(cls, value: str) -> bytes:
        """A normalised value as the bytes an index holds."""
        return bytes.fromhex(value)

    @classmethod
    def index_rows(cls, signal_id: int, value: str) -> list[tuple[int, bytes]]:
        """The rows an index holds for one value (its full value where it is ``large``): ids
        and bytes. A frame type indexes a row per usable frame, ``signal_id << frame_bits |
        frame``."""
        return [(signal_id, cls.value_bytes(value))]

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """How far apart two normalised values are (0: the same)."""
        if cls.kind == "hamming":
            return hamming(a, b)
        return 0 if a == b else cls.bits

    @classmethod
    def compare(cls, a: str, b: str) -> tuple[bool, dict[str, int]]:
        """Whether two normalised values match at the type's default threshold, and how
        far apart they are where a distance says more than equal or not (pytx's
        ``compare_hash``: an exact type's similarity has no fields)."""
        if cls.kind == "exact":
            return a == b, {}
        distance = cls.distance(a, b)
        return distance <= cls.default_threshold, {"distance": distance}

    @classmethod
    @abstractmethod
    def compute(cls, content: Content) -> SignalValue:
        """Compute this signal for the content; may raise a :class:`~vigil.errors.MediaError`."""

    @classmethod
    @abstractmethod
    def examples(cls) -> list[SignalExample]:
        """Known inputs and outputs, run by the registry-wide contract test."""


def same_digest(name: str) -> list[str]:
    """``name`` and every registered type whose values are the same digest of the same bytes
    (``md5`` and ``video_md5``; ``sha256`` and ``video_sha256``)."""
    digest = registry.get(name).digest
    if digest is None:
        return [name]
    return [name, *(c.name for c in registry if c.digest == digest and c.name != name)]


def hamming(a: str, b: str) -> int:
    """Bit distance between two equal-length hex values."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


registry: Registry[SignalType] = Registry("signal type", "vigil.signals", UnknownSignalType)
