"""Rotated copies: the angle read from the canvas around them, turned back and found."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.robust_kit import jpeg
from vigil.index import LocalIndex
from vigil.matching.hashing import hash_bytes
from vigil.matching.robust_search import search
from vigil.signals.local import LocalQuery
from vigil.signals.upright import fill_rotation, turned


def _gray(img: Image.Image) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray(Image.open(io.BytesIO(jpeg(img))).convert("L"))


@pytest.mark.parametrize("expand", [False, True])
@pytest.mark.parametrize("angle", [4.0, -10.0, 20.0, 45.0])
def test_the_canvas_of_a_rotated_photo_gives_its_angle(
    known_photos: list[Path], angle: float, expand: bool
) -> None:
    photo = Image.open(known_photos[1]).convert("RGB")
    seen = fill_rotation(_gray(photo.rotate(angle, Image.Resampling.BILINEAR, expand=expand)))
    assert seen is not None
    found, picture = seen
    assert abs((found - angle + 45) % 90 - 45) < 0.5  # 45 and -45: the same, turned by 90
    assert 0.3 < picture.mean() < 1.0  # the canvas is not picture


def test_photos_without_a_rotated_canvas_show_no_rotation(
    known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    for path in known_photos + unrelated_photos:
        photo = Image.open(path).convert("RGB")
        padded = ImageOps.expand(photo, border=40, fill=(0, 0, 0))  # a plain frame, upright
        assert fill_rotation(_gray(photo)) is None, path
        assert fill_rotation(_gray(padded)) is None, path


def test_turning_back_maps_the_picture_to_where_it_was(known_photos: list[Path]) -> None:
    gray = _gray(Image.open(known_photos[0]).convert("RGB").rotate(20, Image.Resampling.BILINEAR))
    seen = fill_rotation(gray)
    assert seen is not None
    img, shown, back = turned(gray, seen[1], seen[0])
    h, w = gray.shape
    assert img.shape[0] > h
    assert img.shape[1] > w  # the canvas holds all of it
    ys, xs = np.nonzero(shown)
    pts = np.stack([xs, ys], 1)[::97].astype(np.float64)
    q = pts @ back[:, :2].T + back[:, 2]
    qx, qy = np.round(q).astype(int).T
    inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
    assert inside.mean() > 0.99
    assert seen[1][qy[inside], qx[inside]].mean() > 0.97  # picture lands on picture


def _index(photos: list[Path]) -> LocalIndex:
    index = LocalIndex()
    for i, path in enumerate(photos):
        index.add([i], [bytes.fromhex(hash_bytes(path.read_bytes(), "k").signals["vlocal"].value)])
    return index


def _query(img: Image.Image) -> LocalQuery:
    query = hash_bytes(jpeg(img), "query", variants=True).signals["vlocal"].payload
    assert isinstance(query, LocalQuery)
    return query


def test_a_rotated_copy_is_turned_back_and_found(known_photos: list[Path]) -> None:
    index = _index(known_photos)
    query = _query(Image.open(known_photos[1]).convert("RGB").rotate(45, Image.Resampling.BILINEAR))
    assert len(query.upright) == 2  # 45 degrees: turned back either way
    (found,) = search(index, query)
    assert (found.id, found.kind, found.mirrored) == (1, "altered_copy", False)
    assert abs(abs(found.rotation) - 45) < 1  # as it is in the query, not turned back
    assert found.query_region == pytest.approx((0, 0, 1, 1), abs=0.05)
    vars(query)["upright"] = []  # not turned back: its keypoints no longer key the known ones
    assert search(index, query) == []


def test_a_mirrored_rotated_copy_is_found_too(known_photos: list[Path]) -> None:
    photo = ImageOps.mirror(Image.open(known_photos[1]).convert("RGB"))
    (found,) = search(_index(known_photos), _query(photo.rotate(45, Image.Resampling.BILINEAR)))
    assert (found.id, found.kind, found.mirrored) == (1, "altered_copy", True)
