"""Running `vigil serve` for the tests: on a socket that is listening before the server
starts (early requests wait in the backlog, so nothing polls), with a store holding one list and
a key of each role."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from vigil.lists import Entry
from vigil.matching.hashing import hash_file
from vigil.service import KeyStore
from vigil.store import Store

PHOTOS = Path(__file__).resolve().parents[1] / "examples" / "photos"
VIGIL = str(Path(sys.executable).with_name("vigil"))


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    store: Store

    def client(self, role: str | None = "match") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture
def prepared(store: Store) -> Server:
    """A store with a list and a key of each role, and no server yet (``url`` is empty)."""
    known = sorted((PHOTOS / "known").glob("*.jpg"))
    store.create_list("known", category_labels={"1": "known sample"})
    res = hash_file(known[0])
    store.apply("known", [Entry("photo-0", [(s.type, s.value) for s in res.signals.values()],
                                category=1, tags=["sample"])])  # fmt: skip
    keys = KeyStore(store)
    secrets = {role: keys.create(f"{role}-key", role) for role in ("match", "curator", "admin")}
    return Server("", secrets, store)


@pytest.fixture
def server(prepared: Server) -> Iterator[Server]:
    with serving(prepared.store) as url:
        yield Server(url, prepared.keys, prepared.store)


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    """Clients made by :func:`client` are closed even when a test fails."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def client(url: str, key: str) -> httpx.Client:
    made = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60)
    _OPEN.append(made)
    return made


@contextmanager
def serving(store: Store, *options: str) -> Iterator[str]:
    """`vigil serve`'s URL, stopped afterwards."""
    with launched(store, *options) as (_, url):
        yield url


@contextmanager
def launched(
    store: Store, *options: str, own_port: bool = False
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`vigil serve` (the process, to kill, and its URL), stopped afterwards if still running.
    It serves a listening socket handed over by descriptor, or with ``own_port`` opens a free
    port itself."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    where = ["--fd", str(sock.fileno())]
    if own_port:
        where = ["--port", str(port)]
        sock.close()  # free again for the server (nothing else on loopback takes it meanwhile)
    else:
        sock.listen(64)
    args = [VIGIL, "--home", str(store.home), "serve", *where, *options]
    if store.engine.dialect.name != "sqlite":
        args[1:1] = ["--db-url", store.engine.url.render_as_string(hide_password=False)]
    proc = subprocess.Popen(args, pass_fds=() if own_port else (sock.fileno(),))
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        sock.close()
