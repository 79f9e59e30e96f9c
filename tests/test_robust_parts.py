"""Composite queries: every known image on a contact sheet or grid found in its cell, a
picture inset in another found where it is, and what counts as a part."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.robust_kit import best, crop, jpeg, pad
from vigil.matching import robust_search
from vigil.matching.robust import Alignment
from vigil.signals import insets
from vigil.signals.parts import Part, find_parts, match_parts, part_hashes
from vigil.signals.pdq_algo import hash_rgb_or_l
from vigil.store import Store


def contact_sheet(photos: list[Path], n: int = 3, cell: tuple[int, int] = (240, 180)) -> bytes:
    """The photos reduced to fit the cells of an n x n sheet (reading order), centred on
    white, as contact sheets are laid out."""
    cw, ch = cell
    sheet = Image.new("RGB", (cw * n, ch * n), (255, 255, 255))
    for k, path in enumerate(photos):
        img = ImageOps.contain(Image.open(path).convert("RGB"), (cw - 6, ch - 6))
        at = ((k % n) * cw + (cw - img.width) // 2, (k // n) * ch + (ch - img.height) // 2)
        sheet.paste(img, at)
    return jpeg(sheet)


def test_every_known_image_on_a_contact_sheet_is_found_in_its_cell(
    robust_store: Store, known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    photos = known_photos[:6] + unrelated_photos[:3]
    found = {m.entry.key: m for m in best(robust_store, contact_sheet(photos))}
    # k1, a garment on white in a portrait photo, shows on the sheet as a narrow thumbnail
    # whose white top merges with the gutter: its cell is cut short (by more than half its
    # height) until snapped to its row and column, and found by its PDQ then
    assert sorted(found) == ["k0", "k1", "k2", "k3", "k4", "k5"]
    for i in range(6):
        m = found[f"k{i}"]
        assert m.kind == "altered_copy"
        assert m.region is not None
        x0, y0, x1, y1 = m.region.query_region
        cx, cy = (i % 3 + 0.5) / 3, (i // 3 + 0.5) / 3  # the middle of its cell
        assert x0 < cx < x1
        assert y0 < cy < y1
        assert (x1 - x0) * (y1 - y0) < 0.15  # a ninth of the sheet, give or take
    # a sheet of unrelated photos matches nothing
    assert best(robust_store, contact_sheet(unrelated_photos[:6])) == []


def test_parts_are_cells_or_a_framed_picture_never_a_single_photo(
    known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    photo = Image.open(known_photos[0]).convert("RGB")  # 600 x 400

    def parts(img: Image.Image) -> list[tuple[float, ...]]:
        gray = np.asarray(img.convert("L"), np.uint8)
        return [tuple(round(v, 2) for v in p.box) for p in find_parts(gray) if not p.inset]

    assert parts(photo) == []
    assert parts(pad(photo, 0.5)) == [(0.17, 0.17, 0.83, 0.83)]  # inside its margins
    painted = photo.copy()
    painted.paste((128, 128, 128), (300, 0, 600, 400))
    assert parts(painted) == []  # a plain area on one side is not a margin
    sheet = Image.open(io.BytesIO(contact_sheet(known_photos[:4] + unrelated_photos[:5])))
    assert len(parts(sheet)) == 9


def inset_in(img: Image.Image, background: Image.Image, at: tuple[int, int]) -> Image.Image:
    """``img`` at 45% of its width pasted into ``background`` brought to its size."""
    out = background.convert("RGB").resize(img.size)
    out.paste(img.resize((img.width * 45 // 100, img.height * 45 // 100)), at)
    return out


def test_a_picture_inset_in_another_is_found_where_it_is(
    robust_store: Store, known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    photo = Image.open(known_photos[1]).convert("RGB")
    back = Image.open(unrelated_photos[1])
    w, h = photo.size
    query = inset_in(photo, back, (w // 3, h // 4))
    box = (1 / 3, 1 / 4, 1 / 3 + 0.45, 1 / 4 + 0.45)
    insets = [p.box for p in find_parts(np.asarray(query.convert("L"), np.uint8)) if p.inset]
    assert any(b == pytest.approx(box, abs=0.01) for b in insets)  # among the best three
    (m,) = best(robust_store, jpeg(query))
    assert (m.entry.key, m.kind) == ("k1", "altered_copy")
    assert m.region is not None
    assert m.region.query_region == pytest.approx(box, abs=0.01)
    # an unrelated photo inset in another matches nothing
    other = inset_in(Image.open(unrelated_photos[2]).convert("RGB"), back, (w // 3, h // 4))
    assert best(robust_store, jpeg(other)) == []


def test_an_inset_with_one_side_along_a_background_of_its_own_brightness_is_found(
    known_photos: list[Path], unrelated_photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = Image.open(known_photos[1]).convert("RGB")
    w, h = photo.size
    x, y = w // 3, h // 4
    query = inset_in(photo, Image.open(unrelated_photos[1]), (x, y))
    top = query.crop((x, y, x + w * 45 // 100 * 6 // 10, y + 1))  # the inset's top row ...
    for k in range(1, y + 1):  # ... continued up to the top along 60% of it: no seam there
        query.paste(top, (x, y - k))
    gray = np.asarray(query.convert("L"), np.uint8)
    box = (1 / 3, 1 / 4, 1 / 3 + 0.45, 1 / 4 + 0.45)

    def found() -> bool:
        return any(p.box == pytest.approx(box, abs=0.01) for p in find_parts(gray) if p.inset)

    assert found()  # three sides of seam and a faint fourth
    monkeypatch.setattr(insets, "WEAK_SIDE", 1.0)
    assert not found()  # all four sides needed


def test_a_sheet_cell_whose_white_margin_meets_the_gutter_keeps_its_whole_cell(
    known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    cw, ch = 200, 150
    sheet = Image.new("RGB", (cw * 3, ch * 3), (255, 255, 255))
    for k, path in enumerate((known_photos + unrelated_photos)[:9]):
        img = Image.open(path).convert("RGB").resize((cw - 4, ch - 4))
        if k == 4:  # the centre photo: its top fifth white, as a garment shot on white
            img.paste((255, 255, 255), (0, 0, cw - 4, (ch - 4) // 5))
        sheet.paste(img, ((k % 3) * cw + 2, (k // 3) * ch + 2))
    gray = np.asarray(sheet.convert("L"), np.uint8)
    cells = [p.box for p in find_parts(gray) if not p.inset]
    assert len(cells) == 9
    centre = next(b for b in cells if b[0] < 0.5 < b[2] and b[1] < 0.5 < b[3])
    assert centre == pytest.approx((1 / 3, 1 / 3, 2 / 3, 2 / 3), abs=0.01)  # not cut short


def test_the_second_best_inset_is_searched_where_the_best_holds_nothing() -> None:
    flat = hash_rgb_or_l(np.zeros((64, 64), np.uint8))
    line, inset, weak = (0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.6), (0.6, 0.1, 0.9, 0.4)
    parts = [Part(line, flat, True, 0.9), Part(inset, flat, True, 0.8), Part(weak, flat, True, 0.5)]
    looked: list[tuple[float, ...]] = []

    def within(box: tuple[float, float, float, float]) -> list[str]:
        looked.append(box)
        return ["found"] if box == inset else []

    assert match_parts(parts, lambda part: [], within) == ["found"]
    assert looked == [line, inset]  # the weakly supported third is not searched
    parts[0] = Part(line, flat, True, 0.6)  # the best too weakly supported: skipped
    looked.clear()
    assert match_parts(parts, lambda part: [], within) == ["found"]
    assert looked == [inset]


def test_a_mirrored_sheet_is_found_cell_by_cell(
    robust_store: Store, known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    photos = known_photos[:6] + unrelated_photos[:3]
    mirrored = ImageOps.mirror(Image.open(io.BytesIO(contact_sheet(photos))))
    found = {m.entry.key: m for m in best(robust_store, jpeg(mirrored))}
    assert sorted(found) == ["k0", "k1", "k2", "k3", "k4", "k5"]
    for i in range(6):
        m = found[f"k{i}"]
        assert (m.kind, m.variant) == ("altered_copy", "flip_h")
        assert m.region is not None
        assert m.region.mirrored
        x0, _, x1, _ = m.region.query_region
        assert x0 < 1 - (i % 3 + 0.5) / 3 < x1  # its cell, mirrored


def test_a_mirrored_inset_that_its_pdq_misses_is_found_within(
    robust_store: Store, known_photos: list[Path], unrelated_photos: list[Path]
) -> None:
    photo = ImageOps.mirror(crop(Image.open(known_photos[1]).convert("RGB"), 0.2))
    w, h = photo.size
    query = inset_in(photo, Image.open(unrelated_photos[1]), (w // 3, h // 4))
    (m,) = best(robust_store, jpeg(query))
    assert (m.entry.key, m.kind, m.variant) == ("k1", "altered_copy", "flip_h")
    assert m.region is not None
    assert m.region.mirrored
    assert m.region.inliers > 0  # found by robust matching within the inset, not by a PDQ
    x0, y0, x1, y1 = m.region.query_region  # within the inset, most of it
    assert x0 >= 1 / 3 - 0.02
    assert y0 >= 1 / 4 - 0.02
    assert x1 <= 1 / 3 + 0.47
    assert y1 <= 1 / 4 + 0.47
    assert (x1 - x0) * (y1 - y0) >= 0.7 * 0.45 * 0.45


def test_a_mirrored_cell_is_looked_up_by_the_pdq_of_its_pixels_mirrored(
    known_photos: list[Path],
) -> None:
    cell = np.asarray(Image.open(known_photos[0]).convert("L").resize((200, 133)), np.uint8)
    mirrored = np.ascontiguousarray(cell[:, ::-1])
    part = Part((0.0, 0.0, 0.33, 0.33), hash_rgb_or_l(mirrored), False, 1.0, mirrored)
    (_, own), (variant, flip) = part_hashes(part)
    assert own == hash_rgb_or_l(mirrored).hex
    assert (variant, flip) == ("flip_h", hash_rgb_or_l(cell).hex)  # the cell's own PDQ, exactly
    # read from the mirrored cell's DCT instead, PDQ's asymmetric box filter moves bits
    by_dct = part.pdq.dihedral()["flip_h"].hex()
    assert bin(int(by_dct, 16) ^ int(flip, 16)).count("1") > 0


def test_a_part_verified_as_a_whole_needs_no_surer_fit() -> None:
    """A part's fitted match needs SURE_INLIERS or PART_AGREEMENT; one verified through the
    part's frame (with its inner cells matched) already met a stricter rule."""
    fitted = Alignment(1, "altered_copy", 0.86, 3, 0.8, (0, 0, 1, 1), (0, 0, 1, 1), 1.0, 0.0)
    framed = dataclasses.replace(fitted, id=2, framed=True)
    assert [a.id for a in robust_search._sure([fitted, framed])] == [2]
