"""Cryptographic hashes of the file bytes: what hotlines exchange for exact copies."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from vigil.signals.base import Content, SignalExample, SignalType, SignalValue, registry

__all__ = ["MD5", "SHA1", "SHA256"]


class _FileDigest(SignalType):
    kind = "exact"
    algorithm: ClassVar[str]
    known_abc: ClassVar[str]  # published test vector for b"abc"

    @classmethod
    def compute(cls, content: Content) -> SignalValue:
        return SignalValue(cls.name, hashlib.new(cls.algorithm, content.data).hexdigest())

    @classmethod
    def examples(cls) -> list[SignalExample]:
        return [SignalExample(b"abc", cls.known_abc)]


@registry.register
class MD5(_FileDigest):
    name = "md5"
    bits = 128
    algorithm = "md5"
    digest = "md5"
    known_abc = "900150983cd24fb0d6963f7d28e17f72"
    description = "MD5 of the file bytes (VICS, NCMEC, ICSE key)"


@registry.register
class SHA1(_FileDigest):
    name = "sha1"
    bits = 160
    algorithm = "sha1"
    known_abc = "a9993e364706816aba3e25717850c26c9cd0d89d"
    description = "SHA-1 of the file bytes"


@registry.register
class SHA256(_FileDigest):
    name = "sha256"
    bits = 256
    algorithm = "sha256"
    digest = "sha256"
    known_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    description = "SHA-256 of the file bytes"
