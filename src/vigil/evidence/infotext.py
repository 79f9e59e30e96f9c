"""AUTOMATIC1111 / Forge "infotext": the generation parameters those front-ends write.

```
<prompt lines>
Negative prompt: <negative lines>
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 6ce0161689, ...
```
Values holding ``,``, ``:`` or a newline are JSON-quoted. The parameters are read from the last
line carrying at least three ``key: value`` pairs; Civitai-style writers add ``Hashes: {...}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["decode_user_comment", "model_references", "parse_infotext"]

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SAMPLER_KEYS = {"Steps", "Sampler", "CFG scale", "Seed", "Size"}
_HASH = re.compile(r"[0-9a-fA-F]{8,64}")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    return value


def parse_infotext(text: str) -> dict[str, Any] | None:
    """Prompt, negative prompt and parameters, or None if ``text`` is not infotext."""
    lines = text.strip().replace("\r\n", "\n").split("\n")
    at = next(
        (i for i in range(len(lines) - 1, -1, -1) if len(_PARAM.findall(lines[i])) >= 3), None
    )
    if at is None:
        return None
    line, hashes = _cut_hashes(lines[at])
    params = {k.strip(): _unquote(v) for k, v in _PARAM.findall(line)}
    if len(_SAMPLER_KEYS & params.keys()) < 2:
        return None
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines[:at]:
        if line.startswith("Negative prompt:"):
            negative.append(line[len("Negative prompt:") :].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    out: dict[str, Any] = {
        "prompt": "\n".join(prompt).strip(),
        "negative_prompt": "\n".join(negative).strip(),
        "parameters": params,
    }
    if hashes is not None:
        out["hashes"] = hashes
        params["Hashes"] = json.dumps(hashes)
    return out


def _cut_hashes(line: str) -> tuple[str, Any]:
    """The line without its ``Hashes: {...}`` entry (JSON written unquoted, commas and all),
    and that JSON object (None if absent or malformed)."""
    at = line.find("Hashes: {")
    if at < 0:
        return line, None
    try:
        value, end = json.JSONDecoder().raw_decode(line, at + len("Hashes: "))
    except ValueError:
        return line, None
    return line[:at] + line[end:].lstrip(", "), value


def _hash_type(value: str, default: str) -> str:
    return {8: "autov1", 10: "autov2", 12: "autov3", 64: "sha256"}.get(len(value), default)


def _named_hashes(text: str) -> list[tuple[str, str]]:
    """'name: hash, name2: hash2' (Lora hashes, TI hashes) as (name, hash) pairs."""
    out = []
    for part in text.split(","):
        name, _, value = part.rpartition(":")
        if _HASH.fullmatch(value.strip()):
            out.append((name.strip(), value.strip().lower()))
    return out


def model_references(info: dict[str, Any]) -> list[dict[str, str]]:
    """Models, VAEs, LoRAs and embeddings named by hash in parsed infotext: role, name, hash and
    hash type (autov1: 8 hex, autov2: 10, autov3 / addnet: 12, sha256: 64)."""
    params: dict[str, str] = info["parameters"]
    refs = []
    if _HASH.fullmatch(params.get("Model hash", "")):
        value = params["Model hash"].lower()
        refs.append({"role": "model", "name": params.get("Model", ""), "hash": value,
                     "type": _hash_type(value, "autov2")})  # fmt: skip
    if _HASH.fullmatch(params.get("VAE hash", "")):
        value = params["VAE hash"].lower()
        refs.append({"role": "vae", "name": params.get("VAE", ""), "hash": value,
                     "type": _hash_type(value, "autov2")})  # fmt: skip
    for key, role in (("Lora hashes", "lora"), ("TI hashes", "embedding")):
        for name, value in _named_hashes(params.get(key, "")):
            refs.append({"role": role, "name": name, "hash": value,
                         "type": _hash_type(value, "autov3")})  # fmt: skip
    hashes = info.get("hashes")
    if isinstance(hashes, dict):
        for key, value in hashes.items():
            if isinstance(value, str) and _HASH.fullmatch(value):
                role, _, name = str(key).partition(":")
                refs.append({"role": role, "name": name, "hash": value.lower(),
                             "type": _hash_type(value, "autov3")})  # fmt: skip
    unique = {(r["type"], r["hash"], r["role"]): r for r in refs}
    return list(unique.values())


def decode_user_comment(raw: bytes | str) -> str:
    """An EXIF UserComment: 8 bytes naming the character code, then the text."""
    if isinstance(raw, str):
        return raw
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        # writers disagree on byte order: piexif writes big-endian, some little-endian
        be = body.decode("utf-16-be", errors="replace")
        le = body.decode("utf-16-le", errors="replace")
        return be if sum(c.isascii() for c in be) >= sum(c.isascii() for c in le) else le
    return body.decode("utf-8", errors="replace").rstrip("\x00")
