"""Writers of evidence fixtures, made here from the committed benign photos: C2PA manifests
signed with a test certificate generated on the spot, XMP packets, generator metadata chunks,
SD watermarks (with the reference ``invisible-watermark``), EXIF blocks (``piexif``) and
kohya-style safetensors headers."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import piexif
import piexif.helper
from PIL import Image
from PIL.PngImagePlugin import PngInfo

ROOT = Path(__file__).resolve().parents[1]
BASE = sorted((ROOT / "examples" / "photos" / "known").glob("*.jpg"))[0]
SD = "http://cv.iptc.org/newscodes/digitalsourcetype/"

INFOTEXT = (
    "a red jumper folded on a wooden chair, soft light\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
    'Lora hashes: "knitwear: 0a1b2c3d4e5f, wood: 112233445566", '
    'Hashes: {"model": "6ce0161689", "lora:knitwear": "0a1b2c3d4e5f"}, Version: v1.10.1'
)


def base_image(size: tuple[int, int] | None = None) -> Image.Image:
    img = Image.open(BASE).convert("RGB")
    return img.resize(size) if size else img


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def png_with_text(img: Image.Image, texts: dict[str, str], kind: str = "tEXt") -> bytes:
    info = PngInfo()
    for key, value in texts.items():
        if kind == "iTXt":
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value, zip=kind == "zTXt")
    return encode(img, "PNG", pnginfo=info)


def exif_bytes(
    camera: bool = True, software: str | None = None, comment: str | None = None,
    thumbnail: Image.Image | None = None,
) -> bytes:  # fmt: skip
    zeroth: dict[int, Any] = {}
    exif: dict[int, Any] = {}
    gps: dict[int, Any] = {}
    if camera:
        zeroth |= {piexif.ImageIFD.Make: b"TestCam", piexif.ImageIFD.Model: b"TC-100"}
        exif |= {
            piexif.ExifIFD.DateTimeOriginal: b"2024:05:06 07:08:09",
            piexif.ExifIFD.OffsetTimeOriginal: b"+02:00",
            piexif.ExifIFD.BodySerialNumber: b"SN12345",
            piexif.ExifIFD.LensModel: b"TC 24mm F2",
        }
        gps = {
            piexif.GPSIFD.GPSLatitudeRef: b"S",
            piexif.GPSIFD.GPSLatitude: ((33, 1), (51, 1), (3600, 100)),
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((151, 1), (12, 1), (3000, 100)),
        }
    if software:
        zeroth[piexif.ImageIFD.Software] = software.encode()
    if comment is not None:
        exif[piexif.ExifIFD.UserComment] = piexif.helper.UserComment.dump(comment, "unicode")
    doc: dict[str, Any] = {"0th": zeroth, "Exif": exif, "GPS": gps}
    if thumbnail is not None:
        doc["1st"] = {piexif.ImageIFD.JPEGInterchangeFormat: 0}
        doc["thumbnail"] = encode(thumbnail, "JPEG", quality=80)
    return bytes(piexif.dump(doc))


def xmp_packet(source_type: str, element: bool = False, tool: str = "TestTool 1.0") -> bytes:
    uri = SD + source_type
    if element:
        body = f"<Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>"
        attrs = ""
    else:
        body, attrs = "", f' Iptc4xmpExt:DigitalSourceType="{uri}"'
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="{tool}"{attrs}>'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


COMFY_PROMPT = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl_base.safetensors"}},
    "10": {"class_type": "LoraLoader",
           "inputs": {"lora_name": "fabric.safetensors", "strength_model": 0.8,
                      "model": ["4", 0], "clip": ["4", 1]}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a denim jacket on a hanger",
                                                     "clip": ["10", 1]}},
    "3": {"class_type": "KSampler",
          "inputs": {"seed": 42424242, "steps": 30, "cfg": 7.0, "sampler_name": "euler",
                     "scheduler": "normal", "denoise": 1.0, "model": ["10", 0]}},
}  # fmt: skip
COMFY_WORKFLOW = {
    "nodes": [
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["sdxl_base.safetensors"]},
        {"id": 3, "type": "KSampler", "widgets_values": [42424242, "fixed", 30, 7.0]},
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 3, 0, 4, 0, "LATENT"]],  # a cycle, never followed
}
NOVELAI_COMMENT = {"prompt": "a wool scarf", "steps": 28, "sampler": "k_euler", "seed": 987654,
                   "strength": 0.7, "noise": 0.0, "scale": 5.0, "uc": "lowres",
                   "request_type": "PromptGenerateRequest"}  # fmt: skip
INVOKEAI = {"positive_prompt": "linen shirt on a bed", "negative_prompt": "text",
            "generation_mode": "txt2img", "seed": 5550123, "steps": 25, "cfg_scale": 7.5,
            "scheduler": "euler", "model": {"name": "juggernaut", "hash": "blake3:abc",
                                            "base": "sdxl"},
            "loras": [{"model": {"name": "cotton"}, "weight": 0.6}]}  # fmt: skip


def stealth_png(img: Image.Image, data: dict[str, Any], magic: bytes = b"stealth_pngcomp") -> bytes:
    """NovelAI's layout: magic, 32-bit bit length, gzip JSON, in alpha LSBs column by column."""
    payload = gzip.compress(json.dumps(data).encode()) if magic.endswith(b"comp") else (
        json.dumps(data).encode())  # fmt: skip
    stream = magic + struct.pack(">I", len(payload) * 8) + payload
    bits = np.unpackbits(np.frombuffer(stream, np.uint8))
    rgba = np.asarray(img.convert("RGBA")).copy()
    alpha = rgba[:, :, 3].T.copy()  # column-major order
    flat = alpha.ravel()
    flat[: len(bits)] = (flat[: len(bits)] & 0xFE) | bits
    rgba[:, :, 3] = flat.reshape(alpha.shape).T
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def watermarked(img: Image.Image, mark: str) -> Image.Image:
    """``img`` with an SD reference watermark, embedded by ``invisible-watermark`` itself."""
    from imwatermark import WatermarkEncoder

    enc = WatermarkEncoder()
    if mark == "sd1":
        enc.set_watermark("bytes", b"StableDiffusionV1")
    elif mark == "sd2":
        enc.set_watermark("bytes", b"SDV2")
    else:
        bits = [int(b) for b in bin(0xB3EC907BB19E)[2:].zfill(48)]
        enc.set_watermark("bits", bits)
    bgr = np.asarray(img.convert("RGB"))[:, :, ::-1].copy()
    out = enc.encode(bgr, "dwtDct")
    return Image.fromarray(np.ascontiguousarray(out[:, :, ::-1]))


@dataclass
class FixtureSigner:
    chain: bytes
    key: bytes
    ca: bytes


def make_signer() -> FixtureSigner:
    """A CA and a signing certificate (ES256), generated here, valid for a day either side."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigil tests")
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), org])

    now = datetime.datetime.now(datetime.UTC)
    usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "encipher_only", "decipher_only"), False)  # fmt: skip
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True,
                                     **usage), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(name("Vigil test signer")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     **usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    pkcs8 = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())  # fmt: skip
    return FixtureSigner(chain, pkcs8, ca.public_bytes(pem))


def c2pa_signed(jpeg: bytes, signer: FixtureSigner, actions: list[dict[str, Any]],
                ingredient: bytes | None = None) -> bytes:  # fmt: skip
    """``jpeg`` with a C2PA manifest (claim generator ``VigilTestGen 2.0``) of ``actions``."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "VigilTestGen", "version": "2.0"}],
        "title": "fixture.jpg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.chain, signer.key, None)
    builder = c2pa.Builder(manifest)
    if ingredient is not None:
        about = {"title": "parent.jpg", "relationship": "parentOf", "label": "parent"}
        builder.add_ingredient(about, "image/jpeg", io.BytesIO(ingredient))
    out = io.BytesIO()
    builder.sign(c2pa.Signer.from_info(info), "image/jpeg", io.BytesIO(jpeg), out)
    return out.getvalue()


KOHYA = {
    "ss_output_name": "fabric_lora",
    "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors",
    "ss_sd_model_hash": "e1441589",
    "ss_new_sd_model_hash": "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
    "ss_num_train_images": "40",
    "ss_training_started_at": "1700000000.5",
    "ss_dataset_dirs": json.dumps({"10_fabric": {"n_repeats": 10, "img_count": 40}}),
    "ss_tag_frequency": json.dumps({"10_fabric": {"denim": 12, "wool": 7}}),
    "modelspec.title": "Fabric",
    "modelspec.architecture": "stable-diffusion-v1/lora",
    "modelspec.trigger_phrase": "fabric texture",
}


def safetensors_bytes(metadata: dict[str, str] | None = None, tensors: int = 2) -> bytes:
    """A small, valid safetensors file: float32 tensors of 4x4, and ``metadata``."""
    header: dict[str, Any] = {}
    data = b""
    for i in range(tensors):
        blob = (
            np.arange(16, dtype=np.float32).tobytes()
            if i == 0
            else np.ones(16, np.float32).tobytes()
        )
        offsets = [len(data), len(data) + len(blob)]
        header[f"lora_unet_block_{i}.weight"] = {"dtype": "F32", "shape": [4, 4],
                                                 "data_offsets": offsets}  # fmt: skip
        data += blob
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data
