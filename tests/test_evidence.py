"""Evidence round trips: each kind written into a benign image here, then read back exactly;
then the transformations that strip or damage it give a weaker summary, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.evidence_fixtures import (
    COMFY_PROMPT,
    COMFY_WORKFLOW,
    INFOTEXT,
    INVOKEAI,
    NOVELAI_COMMENT,
    SD,
    base_image,
    c2pa_signed,
    encode,
    exif_bytes,
    make_signer,
    png_with_text,
    stealth_png,
    xmp_packet,
)
from vigil.evidence import Evidence, EvidenceConfig, inspect_bytes, registry


def claims(items: list[Evidence], claim: str) -> list[Evidence]:
    return [e for e in items if e.claim == claim]


def test_extractors_are_registered_like_plugins() -> None:
    assert {"c2pa", "xmp", "generator", "watermark", "camera", "detector"} <= set(registry.names())


# -- C2PA ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def signer():  # type: ignore[no-untyped-def]
    return make_signer()


def test_c2pa_ai_generated_round_trip(signer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    action = {"action": "c2pa.created", "digitalSourceType": SD + "trainedAlgorithmicMedia",
              "softwareAgent": {"name": "VigilTestGen"}}  # fmt: skip
    data = c2pa_signed(encode(base_image(), "JPEG"), signer, [action])
    report = inspect_bytes(data, "c2pa.jpg")
    prov = claims(report.items, "provenance")[0]
    assert prov.value["validation_state"] == "Valid"
    assert not prov.value["trusted"]
    assert prov.value["signer"]["common_name"] == "Vigil test signer"
    ai = claims(report.items, "ai_generated")[0]
    assert ai.value["digitalSourceType"] == SD + "trainedAlgorithmicMedia"
    assert ai.value["action"] == "c2pa.created"
    assert ai.value["softwareAgent"] == "VigilTestGen"
    assert ai.strength == "strong"
    assert "VigilTestGen 2.0" in [e.value for e in claims(report.items, "software")]
    assert (report.summary.label, report.summary.strength) == ("ai_generated", "strong")
    # with the test CA configured as a trust anchor, the same file is verified
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(signer.ca)
    trusted = inspect_bytes(data, "c2pa.jpg", EvidenceConfig(trust_anchors=anchors))
    assert claims(trusted.items, "provenance")[0].value["validation_state"] == "Trusted"
    assert trusted.summary.strength == "verified"


def test_c2pa_composite_with_ingredient_and_tampering(signer) -> None:  # type: ignore[no-untyped-def]
    parent = encode(base_image(), "JPEG")
    actions = [
        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
        {"action": "c2pa.edited", "digitalSourceType": SD + "compositeWithTrainedAlgorithmicMedia"},
    ]
    data = c2pa_signed(encode(base_image().rotate(180), "JPEG"), signer, actions, parent)
    report = inspect_bytes(data, "edit.jpg")
    assert report.summary.label == "ai_edited"
    ingredients = [e for e in claims(report.items, "provenance") if "relationship" in e.value]
    assert ingredients[0].value["title"] == "parent.jpg"
    assert ingredients[0].value["relationship"] == "parentOf"
    # one changed byte in the image data: the manifest no longer validates, and says so
    bad = bytearray(data)
    bad[-300] ^= 0xFF
    damaged = inspect_bytes(bytes(bad), "tampered.jpg")
    prov = claims(damaged.items, "provenance")[0]
    assert prov.value["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in prov.value["failures"]
    assert damaged.summary.strength == "weak"


# -- XMP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("element", [False, True])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_xmp_digital_source_type(fmt: str, element: bool) -> None:
    packet = xmp_packet("trainedAlgorithmicMedia", element=element)
    if fmt == "PNG":  # Pillow writes no XMP into PNG: the iTXt chunk XMP's spec names
        data = png_with_text(base_image(), {"XML:com.adobe.xmp": packet.decode()}, "iTXt")
    else:
        data = encode(base_image(), fmt, xmp=packet)
    report = inspect_bytes(data, f"x.{fmt.lower()}")
    ai = claims(report.items, "ai_generated")
    assert len(ai) == 1
    assert ai[0].value["digitalSourceType"] == SD + "trainedAlgorithmicMedia"
    assert ai[0].strength == "weak"
    assert "DigitalSourceType" in ai[0].source
    assert "TestTool 1.0" in [e.value for e in claims(report.items, "software")]
    assert report.summary.label == "ai_generated"


def test_xmp_capture_and_composite_types() -> None:
    capture = inspect_bytes(encode(base_image(), "JPEG", xmp=xmp_packet("digitalCapture")))
    assert capture.summary.label == "camera_original"
    inpaint = xmp_packet("compositeWithTrainedAlgorithmicMedia", element=True)
    assert inspect_bytes(encode(base_image(), "JPEG", xmp=inpaint)).summary.label == "ai_edited"


# -- generator metadata ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tEXt", "zTXt", "iTXt"])
def test_a1111_png_parameters(kind: str) -> None:
    report = inspect_bytes(png_with_text(base_image(), {"parameters": INFOTEXT}, kind), "a.png")
    ai = claims(report.items, "ai_generated")[0]
    assert ai.value["tool"] == "AUTOMATIC1111/Forge"
    assert ai.value["prompt"] == "a red jumper folded on a wooden chair, soft light"
    assert ai.value["negative_prompt"] == "blurry, lowres"
    p = ai.value["parameters"]
    assert (p["Steps"], p["Sampler"], p["Seed"], p["Size"]) == ("28", "DPM++ 2M", "1234567890",
                                                                "512x768")  # fmt: skip
    assert p["Model hash"] == "6ce0161689"
    assert p["Version"] == "v1.10.1"
    assert ai.value["hashes"] == {"model": "6ce0161689", "lora:knitwear": "0a1b2c3d4e5f"}
    refs = {(r.value["type"], r.value["hash"], r.value["role"]) for r in
            claims(report.items, "model_reference")}  # fmt: skip
    assert refs == {("autov2", "6ce0161689", "model"), ("autov3", "0a1b2c3d4e5f", "lora"),
                    ("autov3", "112233445566", "lora")}  # fmt: skip
    assert report.summary.label == "ai_generated"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_a1111_exif_user_comment(fmt: str) -> None:
    data = encode(base_image(), fmt, exif=exif_bytes(camera=False, comment=INFOTEXT))
    report = inspect_bytes(data, f"a.{fmt.lower()}")
    ai = claims(report.items, "ai_generated")[0]
    assert "UserComment" in ai.source
    assert ai.value["parameters"]["Seed"] == "1234567890"


def test_a1111_img2img_is_ai_edited() -> None:
    text = INFOTEXT.replace("Version:", "Denoising strength: 0.45, Version:")
    report = inspect_bytes(png_with_text(base_image(), {"parameters": text}), "i2i.png")
    assert report.summary.label == "ai_edited"


def test_comfyui_graphs() -> None:
    texts = {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)}
    report = inspect_bytes(png_with_text(base_image(), texts), "comfy.png")
    ai = claims(report.items, "ai_generated")[0]
    assert ai.value["tool"] == "ComfyUI"
    assert ai.value["checkpoints"] == ["sdxl_base.safetensors"]
    assert ai.value["loras"] == [{"name": "fabric.safetensors", "strength": 0.8}]
    assert ai.value["seeds"] == [42424242]
    assert ai.value["prompts"] == ["a denim jacket on a hanger"]
    only_workflow = inspect_bytes(png_with_text(base_image(), {"workflow": texts["workflow"]}))
    wf = claims(only_workflow.items, "ai_generated")[0].value
    assert wf["checkpoints"] == ["sdxl_base.safetensors"]
    assert wf["seeds"] == [42424242]


def test_novelai_text_and_stealth() -> None:
    texts = {"Software": "NovelAI", "Source": "NovelAI Diffusion V3 C1E7DB2D",
             "Description": "a wool scarf", "Comment": json.dumps(NOVELAI_COMMENT)}  # fmt: skip
    report = inspect_bytes(png_with_text(base_image(), texts), "nai.png")
    ai = claims(report.items, "ai_generated")[0]
    assert ai.value["source"] == "NovelAI Diffusion V3 C1E7DB2D"
    assert ai.value["comment"] == NOVELAI_COMMENT
    for magic in (b"stealth_pngcomp", b"stealth_pnginfo"):
        hidden = {"Comment": json.dumps(NOVELAI_COMMENT), "Software": "NovelAI"}
        stealth = inspect_bytes(stealth_png(base_image(), hidden, magic), "stealth.png")
        item = claims(stealth.items, "ai_generated")[0]
        assert item.value["tool"] == "NovelAI (stealth)"
        assert item.value["Software"] == "NovelAI"
        assert json.loads(item.value["Comment"]) == NOVELAI_COMMENT
        assert "alpha" in item.source


def test_invokeai_metadata() -> None:
    report = inspect_bytes(png_with_text(base_image(), {"invokeai_metadata": json.dumps(INVOKEAI)}))
    ai = claims(report.items, "ai_generated")[0]
    assert ai.value["tool"] == "InvokeAI"
    assert ai.value["seed"] == 5550123
    assert ai.value["model"]["name"] == "juggernaut"
    assert ai.value["prompt"] == "linen shirt on a bed"
    inpaint = dict(INVOKEAI, generation_mode="inpaint")
    edited = inspect_bytes(png_with_text(base_image(), {"invokeai_metadata": json.dumps(inpaint)}))
    assert edited.summary.label == "ai_edited"
