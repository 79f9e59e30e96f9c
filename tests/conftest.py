"""Shared fixtures. Tests that need ../shared/data skip, saying why, where it is absent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.pg import postgres_server
from tests.robust_kit import robust_store  # noqa: F401 (a fixture)
from tests.service_kit import close_clients, prepared, server  # noqa: F401 (fixtures)
from vigil.store import Store

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "examples" / "photos"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: data-driven tests need the shared benign data set")
    return SHARED


@pytest.fixture
def known_photos() -> list[Path]:
    return sorted((PHOTOS / "known").glob("*.jpg"))


@pytest.fixture
def unrelated_photos() -> list[Path]:
    return sorted((PHOTOS / "unrelated").glob("*.jpg"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1, started once for the session."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same store tests run on the embedded default and on a real PostgreSQL server."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    s = Store.open(tmp_path / "home", url)
    yield s
    s.close()


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()
