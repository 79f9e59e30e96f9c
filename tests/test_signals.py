"""The signal registry's contract, run over every registered type, and PDQ's agreement with the
reference implementation."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import encode
from vigil.errors import InvalidSignal, UnknownSignalType
from vigil.matching.hashing import hash_bytes, hash_file
from vigil.signals import Content, SignalType, hamming, registry
from vigil.signals.pdq import FAST_DECODE_MIN_SIDE, PDQ
from vigil.signals.pdq_algo import DIHEDRAL, hash_rgb_or_l

ALL_TYPES = list(registry)


def test_builtins_are_registered() -> None:
    assert {"md5", "sha1", "sha256", "pdq"} <= set(registry.names())
    with pytest.raises(UnknownSignalType, match="nope"):
        registry.get("nope")


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.name)
def test_examples_compute_to_their_expected_values(cls: type[SignalType]) -> None:
    examples = cls.examples()
    assert examples, f"{cls.name} ships no examples"
    for ex in examples:
        got = cls.compute(Content(ex.content, "example"))
        assert got.type == cls.name
        assert cls.distance(cls.normalize(got.value), cls.normalize(ex.expected)) <= ex.tolerance


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.name)
def test_normalize_canonicalises_and_rejects_bad_shapes(cls: type[SignalType]) -> None:
    value = cls.examples()[0].expected
    assert cls.normalize(value.upper()) == value
    assert cls.normalize(f"  {value}\n") == value
    with pytest.raises(InvalidSignal):
        cls.normalize(value[:-1])
    with pytest.raises(InvalidSignal):
        cls.normalize("g" * len(value))


def test_degenerate_pdq_is_refused() -> None:
    with pytest.raises(InvalidSignal, match="degenerate"):
        PDQ.normalize("0" * 64)
    with pytest.raises(InvalidSignal, match="degenerate"):
        PDQ.normalize("f" * 64)


def test_low_quality_pdq_is_flagged_not_matched() -> None:
    flat = encode(Image.new("RGB", (200, 200), (120, 120, 120)), "PNG")
    sv = hash_bytes(flat, "flat.png").signals["pdq"]
    assert sv.quality is not None
    assert sv.quality < 50
    assert not sv.usable
    assert "quality" in (sv.note or "")


def test_undecodable_file_still_gets_crypto_hashes() -> None:
    result = hash_bytes(b"not an image at all", "x.jpg")
    assert set(result.signals) == {"md5", "sha1", "sha256"}
    assert result.error_type == "UnsupportedMedia"


def test_dihedral_variants_match_the_rotated_images(known_photos: list[Path]) -> None:
    img = Image.open(known_photos[0]).convert("RGB")
    base = hash_rgb_or_l(np.asarray(img))
    variants = base.dihedral()
    assert list(variants) == list(DIHEDRAL)
    for op, name in (
        (Image.Transpose.ROTATE_90, "rot90"),
        (Image.Transpose.FLIP_LEFT_RIGHT, "flip_h"),
    ):
        turned = hash_rgb_or_l(np.asarray(img.transpose(op)))
        # some variant of the original equals the turned image's hash (up to resampling noise)
        assert min(hamming(turned.hex, v.hex()) for v in variants.values()) <= 8, name


def test_banded_filter_equals_the_dense_operator_product() -> None:
    from vigil.signals.band import band_product
    from vigil.signals.pdq_algo import _band, _side_operator

    rng = np.random.default_rng(2)
    for rows, cols, full, scale in ((533, 400, None, 1), (64, 64, None, 1), (70, 1500, None, 1),
                                    (500, 375, (3000, 4000), 8)):  # fmt: skip
        luma = (rng.random((rows, cols)) * 255).astype(np.float32)
        fw, fh = full if full else (None, None)
        dense = _side_operator(rows, fh, scale) @ luma @ _side_operator(cols, fw, scale).T
        banded = band_product(luma, *_band(rows, fh, scale), *_band(cols, fw, scale))
        np.testing.assert_allclose(banded, dense, rtol=1e-4, atol=1e-3)


def test_operator_bands_built_sparse_equal_the_dense_operators_bit_for_bit() -> None:
    # PDQ's hash compares coefficients with their median: any change of a weight could flip
    # a bit, so the sparse construction must give exactly the dense one's weights
    from vigil.signals.band import area_band, band_of
    from vigil.signals.pdq_algo import _operator, _operator_band

    def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
        return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])

    for n in (*range(1, 140), 221, 400, 533, 711, 1023, 4032):
        assert same(_operator_band(n), band_of(_operator(n))), n
    for n_in, n_out in ((533, 128), (400, 97), (1024, 245), (7, 3), (100, 99), (5, 5)):
        scale = n_in / n_out
        dense = np.zeros((n_out, n_in))
        for d in range(n_out):  # OpenCV's computeResizeAreaTab, written out
            f1, f2 = d * scale, (d + 1) * scale
            cell = min(scale, n_in - f1)
            s2 = min(int(np.floor(f2)), n_in - 1)
            s1 = min(int(np.ceil(f1)), s2)
            if s1 - f1 > 1e-3:
                dense[d, s1 - 1] = (s1 - f1) / cell
            dense[d, s1:s2] = 1.0 / cell
            if f2 - s2 > 1e-3:
                dense[d, s2] = min(f2 - s2, 1.0, cell) / cell
        assert same(area_band.__wrapped__(n_in, n_out), band_of(dense)), (n_in, n_out)


def test_area_band_is_opencvs_inter_area() -> None:
    from vigil.signals.band import area_band, band_product

    rng = np.random.default_rng(6)
    for (h, w), (oh, ow) in (((533, 400), (128, 96)), ((480, 360), (120, 90)),
                             ((200, 100), (100, 50)), ((1024, 768), (245, 184))):  # fmt: skip
        img = (rng.random((h, w)) * 255).astype(np.float32)
        want = cv2.resize(img, (ow, oh), interpolation=cv2.INTER_AREA)
        got = band_product(img, *area_band(h, oh), *area_band(w, ow))
        np.testing.assert_allclose(got, want, atol=1e-3)


def test_dihedral_variants_from_one_dct_equal_hashing_each_turned_buffer() -> None:
    from vigil.signals.pdq_algo import pdq_from_buffer

    rng = np.random.default_rng(3)
    for _ in range(20):
        b = rng.random((64, 64), dtype=np.float32) * 255
        views = [b, np.rot90(b, 1), np.rot90(b, 2), np.rot90(b, 3), b[:, ::-1], b[::-1, :]]
        views += [b.T, np.rot90(b, 2).T]
        want = [pdq_from_buffer(np.ascontiguousarray(v)).digest for v in views]
        assert list(pdq_from_buffer(b).dihedral().values()) == want


@pytest.mark.shared
def test_pdq_agrees_with_the_reference_expected_hashes(shared: Path) -> None:
    rows = (shared / "pdq-reference" / "EXPECTED_PDQ_from_pdq_test_py.tsv").read_text()
    checked = 0
    for line in rows.splitlines()[1:]:
        rel, expected = line.split("\t")
        path = shared / "pdq-reference" / "data" / rel
        if not path.exists():
            continue  # the reference list names one file the shared copy does not carry
        got = hash_file(path, ["pdq"]).signals["pdq"]
        # decoders differ (the reference's expected values came from another JPEG decoder)
        assert hamming(got.value, expected) <= 12, rel
        checked += 1
    assert checked >= 18


@pytest.mark.shared
def test_pdq_agrees_with_python_threatexchange(shared: Path) -> None:
    pdq_hasher = pytest.importorskip("threatexchange.signal_type.pdq.pdq_hasher")
    files = sorted((shared / "pdq-reference" / "data" / "reg-test-input" / "dih").glob("*.jpg"))
    files += sorted((shared / "photos" / "clothing").glob("*.jpg"))[:20]
    for path in files:
        ours = hash_file(path, ["pdq"]).signals["pdq"]
        ref_hex, ref_quality = pdq_hasher.pdq_from_file(path)
        assert hamming(ours.value, ref_hex) <= 2, path.name
        assert abs((ours.quality or 0) - ref_quality) <= 2


def test_fast_path_for_large_jpeg_stays_close_to_full_decode(known_photos: list[Path]) -> None:
    img = Image.open(known_photos[1]).convert("RGB")
    big = encode(
        img.resize((img.width * 8, img.height * 8), Image.Resampling.BICUBIC), "JPEG", quality=90
    )
    content = Content(big, "big.jpg")
    fast = PDQ.compute(content)
    assert list(content.decoded) == [FAST_DECODE_MIN_SIDE]  # PDQ decoded at reduced scale only
    assert content.decoded[FAST_DECODE_MIN_SIDE].scale > 1
    full = hash_rgb_or_l(np.asarray(Image.open(io.BytesIO(big)).convert("RGB")))
    assert hamming(fast.value, full.hex) <= 8
