"""Signals: hashers registered by name (md5, sha1, sha256, pdq, and plug-ins)."""

from vigil.signals import crypto as _crypto
from vigil.signals import local as _local
from vigil.signals import models as _models
from vigil.signals import pdq as _pdq
from vigil.signals import video as _video
from vigil.signals import video_local as _video_local
from vigil.signals.base import (
    Content,
    SignalExample,
    SignalType,
    SignalValue,
    hamming,
    registry,
)
from vigil.signals.pdq import PDQ_MIN_QUALITY

del _crypto, _local, _models, _pdq, _video, _video_local

__all__ = [
    "PDQ_MIN_QUALITY",
    "Content",
    "SignalExample",
    "SignalType",
    "SignalValue",
    "hamming",
    "registry",
]
