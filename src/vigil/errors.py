"""Every error Vigil raises, in one tree under :class:`VigilError`.

```
VigilError                      exit 1    (anything Vigil knows about)
├── UsageError                  exit 2    bad arguments, unknown names
│   ├── UnknownSignalType
│   └── UnknownFormat
├── InputError                  exit 3    one input (file, value, row) is bad; names it
│   ├── MediaError                        a file that cannot be decoded safely
│   │   ├── EmptyFile
│   │   ├── UnsupportedMedia              magic bytes of no supported type
│   │   ├── CorruptMedia                  truncated or malformed
│   │   └── MediaTooLarge                 bytes, pixels or frames over the limit
│   ├── InvalidSignal                     a hash value of the wrong shape
│   └── ListFormatError                   a list file that cannot be read at all
├── NotFound                    exit 4
│   ├── ListNotFound
│   └── EntryNotFound
├── Conflict                    exit 5    e.g. a list that already exists
└── StoreError                  exit 6    the data directory or database is unusable
    ├── IndexCorrupt                      an index file fails its checks
    └── NotReady                          the service's indexes are still loading
```

The CLI maps a class to its exit code in :mod:`vigil.cli.errors` (one place); later the HTTP
layer maps the same classes to status codes, also in one place.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "CorruptMedia",
    "EmptyFile",
    "EntryNotFound",
    "IndexCorrupt",
    "InputError",
    "InvalidSignal",
    "ListFormatError",
    "ListNotFound",
    "MediaError",
    "MediaTooLarge",
    "NotFound",
    "NotReady",
    "StoreError",
    "UnknownFormat",
    "UnknownSignalType",
    "UnsupportedMedia",
    "UsageError",
    "VigilError",
]


class VigilError(Exception):
    """Base of every error Vigil raises on purpose."""


class UsageError(VigilError):
    """The caller asked for something that does not exist or makes no sense."""


class UnknownSignalType(UsageError):
    """A signal type name that is not in the registry."""


class UnknownFormat(UsageError):
    """A list format name that is not in the registry."""


class InputError(VigilError):
    """One input is bad. ``source`` names it (a path, a value, ``file:line``)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class MediaError(InputError):
    """A media file that cannot be decoded safely."""


class EmptyFile(MediaError):
    """A zero-byte file."""


class UnsupportedMedia(MediaError):
    """The bytes are not any supported media type (whatever the extension says)."""


class CorruptMedia(MediaError):
    """The file claims a supported type but is truncated or malformed."""


class MediaTooLarge(MediaError):
    """Over a configured bound: bytes, pixels (decompression bomb) or frames."""


class InvalidSignal(InputError):
    """A signal value of the wrong shape for its type (length, alphabet, degenerate value)."""


class ListFormatError(InputError):
    """A list file that cannot be read at all (bad rows alone are reported, not raised)."""


class NotFound(VigilError):
    """Something named does not exist."""


class ListNotFound(NotFound):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no list named {name!r}")


class EntryNotFound(NotFound):
    def __init__(self, list_name: str, key: str) -> None:
        super().__init__(f"list {list_name!r} has no entry {key!r}")


class Conflict(VigilError):
    """The request clashes with what exists."""


class StoreError(VigilError):
    """The data directory or database cannot be used."""


class IndexCorrupt(StoreError):
    """An index file fails its checks; rebuild it with ``vigil index rebuild``."""


class NotReady(StoreError):
    """The service is still loading or catching up its indexes; try again shortly."""
