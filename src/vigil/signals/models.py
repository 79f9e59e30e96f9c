"""Model-file hashes as signals, so lists can hold models and LoRAs and an image whose generator
metadata names a listed hash is flagged (``vigil inspect`` / ``vigil scan``).

``autov1``: A1111's legacy hash (8 hex: SHA-256 of 64 KiB at offset 1 MiB); ``autov2``: the
"Model hash" of modern infotext (first 10 hex of the file's SHA-256); ``autov3``: the LoRA
"addnet" hash (first 12 hex of the SHA-256 of a safetensors file's bytes after its header), as
Civitai names them. Computed for model files by :mod:`vigil.evidence.models`.
"""

from __future__ import annotations

import hashlib
import struct

from vigil.signals.base import Content, SignalExample, SignalType, SignalValue, registry

__all__ = ["AutoV1", "AutoV2", "AutoV3"]


class _ModelHash(SignalType):
    kind = "exact"
    applies_to = "model"


@registry.register
class AutoV1(_ModelHash):
    name = "autov1"
    bits = 32
    description = "Model file: A1111 legacy hash (SHA-256 of 64 KiB at 1 MiB, 8 hex)"

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        chunk = content.data[0x100000:0x110000]
        return SignalValue(cls.name, hashlib.sha256(chunk).hexdigest()[:8])

    @classmethod
    def examples(cls) -> list[SignalExample]:
        return [SignalExample(b"abc", hashlib.sha256(b"").hexdigest()[:8])]


@registry.register
class AutoV2(_ModelHash):
    name = "autov2"
    bits = 40
    description = "Model file: SHA-256 first 10 hex (infotext 'Model hash', Civitai AutoV2)"

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        return SignalValue(cls.name, hashlib.sha256(content.data).hexdigest()[:10])

    @classmethod
    def examples(cls) -> list[SignalExample]:
        return [SignalExample(b"abc", "ba7816bf8f")]


@registry.register
class AutoV3(_ModelHash):
    name = "autov3"
    bits = 48
    description = "LoRA/safetensors 'addnet' hash: SHA-256 after the header, 12 hex (AutoV3)"

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        data = content.data
        (n,) = struct.unpack_from("<Q", data) if len(data) >= 8 else (len(data),)
        body = data[8 + n :] if 8 + n <= len(data) else data
        return SignalValue(cls.name, hashlib.sha256(body).hexdigest()[:12])

    @classmethod
    def examples(cls) -> list[SignalExample]:
        header = b'{"__metadata__":{}}'
        data = struct.pack("<Q", len(header)) + header + b"tensor bytes"
        return [SignalExample(data, hashlib.sha256(b"tensor bytes").hexdigest()[:12])]
