"""Every error Vigil raises, in one tree under :class:`VigilError`.

```
VigilError                      exit 1    (anything Vigil knows about)
├── UsageError                  exit 2    bad arguments, unknown names
│   ├── UnknownSignalType
│   ├── UnknownFormat
│   └── FetchRefused                      a URL the service may not fetch (fetching off, a
│                                         host not allowed, a private address)
├── InputError                  exit 3    one input (file, value, row) is bad; names it
│   ├── MediaError                        a file that cannot be decoded safely
│   │   ├── EmptyFile
│   │   ├── NotRegularFile                a FIFO, socket, device or folder: never opened for
│   │   │                                 reading
│   │   ├── UnreadableFile                no permission, or an I/O error
│   │   ├── UnsupportedMedia              magic bytes of no supported type
│   │   ├── CorruptMedia                  truncated or malformed
│   │   └── MediaTooLarge                 bytes, pixels or frames over the limit
│   ├── OverBudget                        reading it took more CPU, memory or time than its
│   │                                     budget (a hostile file); the worker was replaced
│   ├── InvalidSignal                     a hash value of the wrong shape
│   ├── ListFormatError                   a list file that cannot be read at all
│   └── FetchFailed                       a URL that was allowed but did not give a file
├── NotFound                    exit 4
│   ├── ListNotFound
│   └── EntryNotFound
├── Conflict                    exit 5    e.g. a list that already exists
├── StoreError                  exit 6    the data directory or database is unusable
│   ├── IndexCorrupt                      an index file fails its checks
│   └── NotReady                          the service's indexes are still loading
├── ExchangeError               exit 8    an exchange cannot be synced now
│   ├── ExchangeUnavailable               it kept failing (429, 5xx, timeouts) past its retries
│   ├── ExchangeBusy                      another fetcher holds its lease
│   └── ReportError                       a CyberTipline report could not be filed
│       ├── ReportRefused                 refused (a non-zero responseCode): mend, then resend
│       └── ReportUndelivered             unreachable or failing: retry later
└── Forbidden                   (pages)   a person may not do this here, now
    ├── NotSignedIn                       no session (HTTP 401: sign in)
    ├── CrossOrigin                       a change posted from another site
    └── ExposureCapped                    a reviewer's exposure cap is reached (HTTP 429)
```

The CLI maps a class to its exit code in :mod:`vigil.cli.errors` (one place); later the HTTP
layer maps the same classes to status codes, also in one place.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "CorruptMedia",
    "CrossOrigin",
    "EmptyFile",
    "EntryNotFound",
    "ExchangeBusy",
    "ExchangeError",
    "ExchangeUnavailable",
    "ExposureCapped",
    "FetchFailed",
    "FetchRefused",
    "Forbidden",
    "IndexCorrupt",
    "InputError",
    "InvalidSignal",
    "ListFormatError",
    "ListNotFound",
    "MediaError",
    "MediaTooLarge",
    "NotFound",
    "NotReady",
    "NotRegularFile",
    "NotSignedIn",
    "OverBudget",
    "ReportError",
    "ReportRefused",
    "ReportUndelivered",
    "StoreError",
    "UnknownFormat",
    "UnknownSignalType",
    "UnreadableFile",
    "UnsupportedMedia",
    "UsageError",
    "VigilError",
    "reason_of",
]


class VigilError(Exception):
    """Base of every error Vigil raises on purpose."""


def reason_of(exc: BaseException, limit: int = 500) -> str:
    """What went wrong, for a row: an input error's own reason, else ``Type: message``."""
    reason = exc.reason if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
    return reason[:limit]


class UsageError(VigilError):
    """The caller asked for something that does not exist or makes no sense."""


class UnknownSignalType(UsageError):
    """A signal type name that is not in the registry."""


class UnknownFormat(UsageError):
    """A list format name that is not in the registry."""


class FetchRefused(UsageError):
    """The service may not fetch this URL (fetching is off, or the host is not allowed, or it
    resolves to a private, loopback or link-local address that the operator did not name)."""


class InputError(VigilError):
    """One input is bad. ``source`` names it (a path, a value, ``file:line``)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # errors cross process boundaries (sandboxed workers): rebuilt from both parts
        return type(self), (self.source, self.reason)


class MediaError(InputError):
    """A media file that cannot be decoded safely."""


class EmptyFile(MediaError):
    """A zero-byte file."""


class NotRegularFile(MediaError):
    """A FIFO, socket, device or folder where a file was expected: it is not read (a FIFO
    would block, a device never ends)."""


class UnreadableFile(MediaError):
    """A file that exists but cannot be read (permissions, I/O error)."""


class UnsupportedMedia(MediaError):
    """The bytes are not any supported media type (whatever the extension says)."""


class CorruptMedia(MediaError):
    """The file claims a supported type but is truncated or malformed."""


class MediaTooLarge(MediaError):
    """Over a configured bound: bytes, pixels (decompression bomb) or frames."""


class OverBudget(InputError):
    """Reading the input took more CPU time, memory or wall time than its budget allows, or
    crashed the process reading it; that process was stopped and replaced."""


class InvalidSignal(InputError):
    """A signal value of the wrong shape for its type (length, alphabet, degenerate value)."""


class ListFormatError(InputError):
    """A list file that cannot be read at all (bad rows alone are reported, not raised)."""


class FetchFailed(InputError):
    """An allowed URL that could not be fetched (no answer, an error status, a redirect)."""


class NotFound(VigilError):
    """Something named does not exist."""


class ListNotFound(NotFound):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no list named {name!r}")

    def __reduce__(self) -> tuple[type[ListNotFound], tuple[str]]:
        return type(self), (self.name,)


class EntryNotFound(NotFound):
    def __init__(self, list_name: str, key: str) -> None:
        self.list_name, self.key = list_name, key
        super().__init__(f"list {list_name!r} has no entry {key!r}")

    def __reduce__(self) -> tuple[type[EntryNotFound], tuple[str, str]]:
        return type(self), (self.list_name, self.key)


class Conflict(VigilError):
    """The request clashes with what exists."""


class StoreError(VigilError):
    """The data directory or database cannot be used."""


class IndexCorrupt(StoreError):
    """An index file fails its checks; rebuild it with ``vigil index rebuild``."""


class NotReady(StoreError):
    """The service is still loading or catching up its indexes; try again shortly."""


class ExchangeError(VigilError):
    """An exchange cannot be synced now; its checkpoint stays where it was."""


class ExchangeUnavailable(ExchangeError):
    """The exchange kept failing (429, 5xx, timeouts, cut-off bodies) past the retries."""


class ReportError(ExchangeError):
    """A CyberTipline report could not be filed."""


class ReportRefused(ReportError):
    """The CyberTipline refused it (a non-zero responseCode): permanent until it is mended."""

    def __init__(self, code: int, description: str) -> None:
        self.code, self.description = code, description
        super().__init__(f"the CyberTipline refused it: {code} {description}")

    def __reduce__(self) -> tuple[type[ReportRefused], tuple[int, str]]:
        return type(self), (self.code, self.description)


class ReportUndelivered(ReportError):
    """The CyberTipline could not be reached or kept failing: retry later."""


class ExchangeBusy(ExchangeError):
    """Another fetcher (another worker or instance) holds the exchange's lease."""


class Forbidden(VigilError):
    """A person may not do this, here or now (the review console and pages)."""


class NotSignedIn(Forbidden):
    """No session, or one that has ended: sign in first."""


class CrossOrigin(Forbidden):
    """A request that changes something came from another site, or without its CSRF token."""


class ExposureCapped(Forbidden):
    """The reviewer's exposure cap is reached: no more content may be revealed now."""
