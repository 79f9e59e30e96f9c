"""Robust matching's geometry: photos of a screen or a print taken off axis (a homography,
refined against the dense signs), copies resized to another aspect ratio (an affine fit), and
similarity fits that collapse onto one spot."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from bench import transforms_round2
from PIL import Image

from tests.robust_kit import best, crop, jpeg
from vigil.index import LocalIndex
from vigil.matching import robust, robust_framed, robust_search
from vigil.matching.hashing import hash_bytes
from vigil.signals.local import LocalQuery
from vigil.signals.local_algo import Features, unpack_record
from vigil.store import Store


def photographed(img: Image.Image, corners: list[tuple[float, float]]) -> Image.Image:
    """``img`` as a photo of it taken off axis: its corners (TL, TR, BR, BL) moved to
    ``corners`` (fractions of its size), on a dark surround."""
    w, h = img.size
    return transforms_round2.photographed(img, [(x * w, y * h) for x, y in corners])


def test_a_photo_of_a_screen_taken_off_axis_is_found(
    robust_store: Store, known_photos: list[Path]
) -> None:
    original = Image.open(known_photos[0]).convert("RGB")
    # the top edge 24% shorter than the bottom: no similarity explains it (found with one
    # before the homography, 4 inliers, its dense signs not agreeing)
    skewed = photographed(original, [(0.12, 0.0), (0.88, 0.08), (1.0, 0.92), (0.0, 1.0)])
    (m,) = best(robust_store, jpeg(skewed))
    assert (m.entry.key, m.kind) == ("k0", "altered_copy")
    assert m.region is not None
    assert m.region.inliers >= 10
    assert m.region.score >= 0.85


def test_a_photo_slightly_off_axis_is_found_through_a_refined_homography(
    robust_store: Store, known_photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Image.open(known_photos[1]).convert("RGB")
    # corners moved by up to 5%: 4 inliers, and through their similarity the dense signs
    # agree too little away from the keypoints
    skewed = jpeg(photographed(original, [(0.012, 0.044), (1.047, -0.009), (1.021, 1.005),
                                          (0.053, 1.036)]))  # fmt: skip
    (m,) = best(robust_store, skewed)
    assert (m.entry.key, m.kind) == ("k1", "altered_copy")
    assert m.region is not None
    assert m.region.score >= 0.9
    monkeypatch.setattr(robust, "REFINE_FROM", 2.0)  # no refinement: not found by the fit
    monkeypatch.setattr(robust_search, "_framed", lambda *a: [])  # (nor as the whole query)
    assert best(robust_store, skewed) == []


def _pairs(known: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, ...]:
    return known.astype(np.float32), query.astype(np.float32), np.arange(len(known))


def test_a_similarity_collapsed_onto_one_spot_is_fitted_again_without_it() -> None:
    rng = np.random.default_rng(0)
    known = rng.uniform(0, 400, (12, 2))
    true = known * 0.8 + [30, 20]  # a reduced copy, shifted
    # 16 more pairs: a corner found at several scales of the query, paired by chance with
    # keypoints all over the known image; a similarity through two of them maps everything
    # near that spot, and explains more pairs than the true one
    others = rng.uniform(0, 400, (16, 2))
    spot = np.array([200.0, 150.0]) + rng.normal(0, 0.5, (16, 2))
    src, dst, ids = _pairs(np.vstack([known, others]), np.vstack([true, spot]))
    fit = robust._similarity(src, dst, ids, robust.IMAGE.min_inliers)
    assert fit is not None
    m, inliers = fit
    assert inliers == 12
    assert np.hypot(m[0, 0], m[1, 0]) == pytest.approx(0.8, abs=0.01)


def test_a_copy_squeezed_to_another_aspect_ratio_is_found_through_an_affine_fit(
    robust_store: Store, known_photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cropped = crop(Image.open(known_photos[1]).convert("RGB"), 0.1)  # PDQ does not see it
    squeezed = jpeg(cropped.resize((cropped.width * 4 // 5, cropped.height)))
    (m,) = [m for m in best(robust_store, squeezed) if m.entry.key == "k1"]
    assert (m.kind, m.signal_type) == ("altered_copy", "vlocal")
    assert m.region is not None
    assert m.region.inliers >= robust.AFFINE_INLIERS
    # a similarity explains too few of its pairs (those far from its centre are 10% off)
    monkeypatch.setattr(robust, "AFFINE_GAIN", 1000)
    assert [m for m in best(robust_store, squeezed) if m.entry.key == "k1"] == []


def test_a_photo_off_axis_through_a_curved_lens_is_fitted_by_a_homography(
    robust_store: Store, known_photos: list[Path]
) -> None:
    # off axis (corners moved by up to 6%) and through a lens (radial distortion): among
    # 31 pairs no similarity explains even 4, an affine explains 6, a homography 10
    rng = random.Random(6)
    photo = transforms_round2.perspective(Image.open(known_photos[0]).convert("RGB"), rng)
    data = jpeg(transforms_round2.lens(photo, rng, 0.04))
    query = hash_bytes(data, "query", variants=True).signals["vlocal"].payload
    assert isinstance(query, LocalQuery)
    index = robust_store.index("vlocal")
    (cand,) = [c for c in index.candidates(query.features, min_pairs=4) if len(c.pairs) > 20]
    similarity = robust._similarity(*robust._ends(cand, query.features), cand.pairs[:, 1], 4)
    assert similarity is None or similarity[1] < 4
    found = robust._fit(cand, query.features, robust.IMAGE.min_inliers)
    assert found is not None
    (m, inliers), stretched = found
    assert m.shape == (3, 3)
    assert inliers >= robust.PERSPECTIVE_INLIERS
    assert not stretched
    (match,) = best(robust_store, data)
    assert (match.entry.key, match.kind) == ("k0", "altered_copy")
    assert match.region is not None
    assert match.region.inliers >= robust.PERSPECTIVE_INLIERS  # an affine's 6 before


def test_a_photo_whose_keypoints_pair_too_seldom_is_verified_as_the_whole_query(
    robust_store: Store, known_photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Image.open(known_photos[0]).convert("RGB")
    # corners moved by up to 8%: no similarity holds, and without the homography an affine
    # fit allows (found with 10 inliers) no fit verifies it; but keypoints pair where the
    # known image has them, and through the map of its frame (refined) the signs agree
    skewed = jpeg(photographed(original, [(0.073, 0.072), (0.929, -0.066), (1.054, 1.038),
                                          (0.027, 0.969)]))  # fmt: skip
    (fitted,) = best(robust_store, skewed)
    assert fitted.region is not None
    assert not fitted.region.framed
    assert fitted.region.inliers >= robust.PERSPECTIVE_INLIERS
    monkeypatch.setattr(robust, "_perspective", lambda *a: None)
    (m,) = best(robust_store, skewed)
    assert (m.entry.key, m.kind) == ("k0", "altered_copy")
    assert m.region is not None
    assert m.region.score >= robust_framed.FRAMED_AGREEMENT
    assert m.region.framed  # (a part so verified needs no surer fit: it is one)
    assert m.as_dict()["robust"]["framed"] is True  # a reviewer is told: no fit
    assert m.region.query_region[2] - m.region.query_region[0] >= 0.8
    monkeypatch.setattr(robust_search, "_framed", lambda *a: [])
    assert best(robust_store, skewed) == []


def test_keypoints_in_frame_must_be_where_the_known_image_has_them(
    known_photos: list[Path],
) -> None:
    """A query stretched to another frame keeps its keypoints at the same fractions of its
    width and height; pairs elsewhere in the image do not count."""
    value = hash_bytes(known_photos[2].read_bytes()).signals["vlocal"].value
    index = LocalIndex()
    index.add([7], [bytes.fromhex(value)])
    known = unpack_record(bytes.fromhex(value))[0]
    w, h = known.size
    stretched = Features(
        known.points * np.float32([0.7, 1.0]), known.descriptors, (round(w * 0.7), h)
    )
    (cand,) = index.in_frame(stretched, index.lookup(stretched), 0.02)
    assert cand.id == 7
    assert len(np.unique(cand.pairs[:, 1])) == len(known.points)
    moved = Features(stretched.points[::-1].copy(), stretched.descriptors, stretched.size)
    assert index.candidates(moved, min_pairs=4)  # the same pairs ...
    assert index.in_frame(moved, index.lookup(moved), 0.02) == []  # ... not in place


def test_a_whole_query_with_its_middle_replaced_is_not_verified_by_its_frame(
    known_photos: list[Path], unrelated_photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the frame's map, a copy misses cells at its edges; another subject on the same
    background misses them in the middle. The latter is left to a fitted transform."""
    value = hash_bytes(known_photos[1].read_bytes()).signals["vlocal"].value
    index = LocalIndex()
    index.add([1], [bytes.fromhex(value)])
    img = Image.open(known_photos[1]).convert("RGB")
    w, h = img.size
    img.paste(Image.open(unrelated_photos[1]).convert("RGB").resize((w * 3 // 10, h * 3 // 10)),
              (w * 7 // 20, h * 7 // 20))  # fmt: skip
    query = hash_bytes(jpeg(img), variants=True).signals["vlocal"].payload
    assert isinstance(query, LocalQuery)
    gray = query.gray.astype(np.float32)
    (cand,) = index.in_frame(query.features, index.lookup(query.features), robust_framed.FRAMED_TOL)
    assert robust_framed.verify_framed(cand, gray) is None
    monkeypatch.setattr(robust_framed, "FRAMED_HOLES", 36)  # holes anywhere: it would pass
    found = robust_framed.verify_framed(cand, gray)
    assert found is not None
    assert found.kind == "altered_copy"
