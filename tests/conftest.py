"""Shared fixtures. Tests that need ../shared/data skip, saying why, where it is absent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "home")
    yield s
    s.close()


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()
