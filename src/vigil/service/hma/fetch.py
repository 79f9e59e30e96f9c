"""Fetching a file by URL for HMA's ``?url=`` routes, which is off unless the operator names the
hosts that may be fetched (``vigil serve --fetch-allow HOST``).

A server that fetches what a client names can be aimed at what only it can reach (cloud metadata
at 169.254.169.254, an admin port on localhost, the intranet). So: only http and https; only
hosts on the allow-list (a name also allows its subdomains); every address the name resolves to
must be public, unless the operator listed that very address; the connection goes to the address
that was checked (a second DNS answer cannot point it elsewhere); redirects are not followed; the
body is read up to the upload limit and no further, within a deadline.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from vigil.errors import FetchFailed, FetchRefused, MediaTooLarge

__all__ = ["FetchPolicy", "Fetched", "fetch"]


@dataclass(frozen=True)
class FetchPolicy:
    allow: tuple[str, ...] = ()  # host names (with their subdomains) and IP addresses
    max_bytes: int = 32 * 2**20
    timeout: float = 10.0  # seconds for the whole fetch

    @property
    def enabled(self) -> bool:
        return bool(self.allow)


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    name: str


def _host_allowed(host: str, allow: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == a.lower() or host.endswith("." + a.lower()) for a in allow)


def _addresses(host: str, port: int, allow: tuple[str, ...]) -> list[str]:
    """The addresses of ``host``, each public or named in ``allow``; FetchRefused otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(host, f"cannot resolve the host: {exc}") from None
    named = {a.strip("[]") for a in allow}
    found = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not ip.is_global and str(ip) not in named:
            raise FetchRefused(f"{host} resolves to {ip}, a non-public address")
        found.append(str(ip))
    return found


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def fetch(url: str, policy: FetchPolicy) -> Fetched:
    """The file at ``url``, under ``policy``."""
    if not policy.enabled:
        raise FetchRefused("fetching by URL is off (vigil serve --fetch-allow HOST turns it on)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("only http and https URLs with a host can be fetched")
    host = parts.hostname
    if not _host_allowed(host, policy.allow):
        raise FetchRefused(f"{host} is not on the fetch allow-list")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchRefused("the URL's port is not a number") from None
    address = _addresses(host, port, policy.allow)[0]
    deadline = time.monotonic() + policy.timeout
    conn: http.client.HTTPConnection = (
        _Pinned(host, address, port, policy.timeout)
        if parts.scheme == "https"
        else http.client.HTTPConnection(address, port, timeout=policy.timeout)
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", path, headers={"Host": parts.netloc.rpartition("@")[2],
                                           "User-Agent": "vigil"})  # fmt: skip
        resp = conn.getresponse()
        if resp.status != 200:
            why = f"the server answered {resp.status} (redirects are not followed)"
            raise FetchFailed(host, why)
        data = _read(resp, policy.max_bytes, deadline, host)
        ctype = resp.getheader("Content-Type", "") or ""
    except (OSError, http.client.HTTPException) as exc:
        raise FetchFailed(host, f"the fetch failed: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    return Fetched(data, ctype, parts.path.rpartition("/")[2] or host)


def _read(resp: http.client.HTTPResponse, limit: int, deadline: float, host: str) -> bytes:
    chunks, size = [], 0
    while chunk := resp.read(65536):
        size += len(chunk)
        if size > limit:
            raise MediaTooLarge(host, f"the file is over the limit of {limit:,} bytes")
        if time.monotonic() > deadline:
            raise FetchFailed(host, "the fetch took too long")
        chunks.append(chunk)
    return b"".join(chunks)
