"""Helpers of the robust-matching tests: benign photos encoded, cropped, padded, and matched
against the store of the committed known photos (the ``robust_store`` fixture)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from vigil.lists import Entry
from vigil.matching.hashing import hash_bytes
from vigil.matching.match import Match, Matcher
from vigil.store import Store


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def crop(img: Image.Image, frac: float) -> Image.Image:
    w, h = img.size
    return img.crop((0, 0, int(w * (1 - frac)), int(h * (1 - frac))))


def pad(img: Image.Image, frac: float) -> Image.Image:
    w, h = img.size
    out = Image.new("RGB", (int(w * (1 + frac)), int(h * (1 + frac))))
    out.paste(img, (int(w * frac / 2), int(h * frac / 2)))
    return out


@pytest.fixture
def robust_store(tmp_path: Path, known_photos: list[Path]) -> Store:
    """A store with one list, "known", holding the committed known photos as k0, k1, ..."""
    store = Store.open(tmp_path)
    store.create_list("known")
    entries = []
    for i, photo in enumerate(known_photos):
        res = hash_bytes(photo.read_bytes(), str(photo))
        assert res.signals["vlocal"].usable
        entries.append(Entry(f"k{i}", [(n, s.value) for n, s in res.signals.items()]))
    store.apply("known", entries)
    return store


def best(store: Store, data: bytes) -> list[Match]:
    return Matcher(store).match_result(hash_bytes(data, "query", variants=True))
