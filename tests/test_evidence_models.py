"""Model files (hashes, kohya/ModelSpec headers), model hashes on lists flagging the images that
name them, the operator's ONNX detector, and evidence through `vigil inspect` and `vigil scan`."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

import blake3
import numpy as np
import pytest

from tests.evidence_fixtures import INFOTEXT, KOHYA, base_image, png_with_text, safetensors_bytes
from tests.test_cli import Cli
from vigil.evidence import EvidenceConfig, inspect_bytes, inspect_file
from vigil.lists.model import Entry
from vigil.matching.match import Matcher
from vigil.store import Store


def _sections(path: Path) -> dict[str, dict[str, object]]:
    items = [e for e in inspect_file(path).items if e.claim == "model_file"]
    return {str(e.value.get("section", e.source)): e.value for e in items}


def test_safetensors_hashes_and_kohya_header_round_trip(tmp_path: Path) -> None:
    data = safetensors_bytes(KOHYA)
    path = tmp_path / "fabric_lora.safetensors"
    path.write_bytes(data)
    (n,) = struct.unpack_from("<Q", data)
    sections = _sections(path)
    hashes = sections["file bytes"]
    sha = hashlib.sha256(data).hexdigest()
    assert hashes["sha256"] == sha
    assert hashes["autov2"] == sha[:10]
    assert hashes["autov3"] == hashlib.sha256(data[8 + n :]).hexdigest()[:12]
    assert hashes["autov1"] == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert hashes["blake3"] == blake3.blake3(data).hexdigest()
    assert hashes["crc32"] == f"{zlib.crc32(data):08x}"
    assert sections["safetensors header"] == {
        "format": "safetensors",
        "tensors": 2,
        "parameters": 32,
    }
    base = sections["base model"]
    assert base["ss_sd_model_name"] == KOHYA["ss_sd_model_name"]
    assert base["ss_new_sd_model_hash"] == KOHYA["ss_new_sd_model_hash"]
    training = sections["training data"]
    assert training["ss_dataset_dirs"] == {"10_fabric": {"n_repeats": 10, "img_count": 40}}
    assert training["ss_num_train_images"] == "40"
    assert training["ss_training_started_at"] == "2023-11-14T22:13:20.500000+00:00"
    assert sections["tag frequency"]["ss_tag_frequency"] == {"10_fabric": {"denim": 12, "wool": 7}}
    assert sections["modelspec"]["modelspec.trigger_phrase"] == "fabric texture"


def test_listed_model_hash_flags_images_that_name_it(store: Store, tmp_path: Path) -> None:
    store.create_list("models", "models and LoRAs of concern")
    store.apply("models", [Entry("lora:knitwear", [("autov3", "0a1b2c3d4e5f")], tags=["lora"]),
                           Entry("ckpt:other", [("autov2", "ffffffffff")])])  # fmt: skip
    matcher = Matcher(store)
    report = inspect_bytes(png_with_text(base_image(), {"parameters": INFOTEXT}), "gen.png")
    found = matcher.match_evidence(report.items)
    assert [(m.list, m.entry.key, m.signal_type, m.kind) for m in found] == [
        ("models", "lora:knitwear", "autov3", "exact")
    ]
    assert found[0].variant == "lora knitwear"
    # a model file itself: listed by its own AutoV3
    lora = tmp_path / "lora.safetensors"
    lora.write_bytes(safetensors_bytes(KOHYA))
    own = next(e.value for e in inspect_file(lora).items if e.claim == "model_file")
    store.apply("models", [Entry("lora:fabric", [("autov3", own["autov3"])])])
    assert [m.entry.key for m in Matcher(store).match_evidence(inspect_file(lora).items)] == [
        "lora:fabric"
    ]


def test_inspect_cli_json_and_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = Cli(tmp_path / "home", capsys)
    image = tmp_path / "gen.png"
    image.write_bytes(png_with_text(base_image(), {"parameters": INFOTEXT}))
    lora = tmp_path / "lora.safetensors"
    lora.write_bytes(safetensors_bytes(KOHYA))
    code, rows = cli.json_lines("inspect", str(image), str(lora), "--json")
    assert code == 0
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["png"]["summary"] == "ai_generated"
    assert by_kind["png"]["matches"] == []
    assert any(e["claim"] == "model_file" for e in by_kind["model"]["evidence"])
    lines = tmp_path / "models.txt"
    lines.write_text("0a1b2c3d4e5f\n")
    assert cli("list", "import", "models", str(lines), "--format", "te-lines",
               "--signal-type", "autov3", "--create")[0] == 0  # fmt: skip
    _, rows = cli.json_lines("inspect", str(image), "--json", "--match")
    assert [m["signal_type"] for m in rows[0]["matches"]] == ["autov3"]
    code, out = cli("inspect", str(image))
    assert "ai_generated (moderate)" in out
    assert "model_reference" in out
    assert "listed:" not in out  # without --match the lists are not consulted
    _, out = cli("inspect", str(image), "--match")
    assert "listed:" in out


def test_scan_rows_carry_evidence_and_flag_listed_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(tmp_path / "home", capsys)
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "gen.png").write_bytes(png_with_text(base_image(), {"parameters": INFOTEXT}))
    (folder / "plain.jpg").write_bytes(Path(base_image.__globals__["BASE"]).read_bytes())
    lines = tmp_path / "models.txt"
    lines.write_text("6ce0161689\n")
    cli("list", "import", "models", str(lines), "--format", "te-lines", "--signal-type", "autov2",
        "--create")  # fmt: skip
    report = tmp_path / "scan.jsonl"
    code, out = cli("scan", str(folder), "--report", str(report), "--json", "--workers", "1")
    assert code == 0
    rows = {Path(r["path"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert rows["gen.png"]["evidence"]["summary"] == "ai_generated"
    assert rows["gen.png"]["status"] == "match"
    assert rows["gen.png"]["matches"][0]["signal_type"] == "autov2"
    assert rows["plain.jpg"]["evidence"]["summary"] == "unknown"
    assert json.loads(out)["evidence_summaries"] == {"ai_generated": 1}


def _tiny_detector(tmp_path: Path) -> Path:
    """An ONNX 'detector' whose logit is the mean of its input: enough to test the interface."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])
    reshape = helper.make_node("Reshape", ["y0", "shape"], ["y"])
    node = helper.make_node("ReduceMean", ["x"], ["y0"], axes=[1, 2, 3], keepdims=0)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1])
    graph = helper.make_graph([node, reshape], "mean", [x], [y], initializer=[shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what onnxruntime of 2023 on reads
    path = tmp_path / "detector.onnx"
    onnx.save(model, path)
    cal = {"name": "test-mean", "input_size": [32, 32], "mean": [0, 0, 0], "std": [1, 1, 1],
           "platt": {"a": 20.0, "b": -10.0}, "threshold": 0.5}  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(cal))
    return path


def test_operator_detector_contributes_one_calibrated_item(tmp_path: Path) -> None:
    detector = _tiny_detector(tmp_path)
    config = EvidenceConfig(detector=detector)
    bright = inspect_bytes(
        png_with_text(base_image().point(lambda v: 255 - v // 8), {}), "b", config
    )
    item = next(e for e in bright.items if e.claim == "synthetic_score")
    img = np.asarray(base_image().point(lambda v: 255 - v // 8).resize((32, 32)), np.float32) / 255
    expected = 1 / (1 + np.exp(-(20 * img.mean() - 10)))
    assert item.value["probability"] == pytest.approx(expected, abs=1e-3)
    assert item.value["detector"] == "test-mean"
    assert item.strength == "weak"
    assert bright.summary.label == "ai_generated"  # over its calibrated threshold
    dark = inspect_bytes(png_with_text(base_image().point(lambda v: v // 8), {}), "d", config)
    assert dark.summary.label == "unknown"
    assert not [e for e in inspect_bytes(png_with_text(base_image(), {})).items
                if e.claim == "synthetic_score"]  # fmt: skip
