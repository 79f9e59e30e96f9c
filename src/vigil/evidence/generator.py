"""Generator metadata: what Stable Diffusion front-ends write into the images they make.

AUTOMATIC1111/Forge infotext (PNG ``parameters``, JPEG/WebP EXIF UserComment), ComfyUI graphs
(PNG ``prompt`` and ``workflow``), NovelAI (PNG text chunks, and the "stealth" copy hidden in the
alpha channel's low bits), InvokeAI (``invokeai_metadata``, older ``sd-metadata``). Each file
gives one ``ai_generated`` (or ``ai_edited`` for image-to-image work) item with the parsed
settings, and one ``model_reference`` item per model or LoRA named by hash, which lists can
match. Parsing is bounded: JSON over the text limit is refused by the container, nesting too
deep for the parser is an error item, and graphs are read node by node, never followed.
"""

from __future__ import annotations

import json
from typing import Any

from vigil.evidence.base import Evidence, Extractor, registry
from vigil.evidence.container import EXIF_IFD, FileView, Text
from vigil.evidence.infotext import decode_user_comment, model_references, parse_infotext
from vigil.evidence.stealth import read_stealth

__all__ = ["Generator"]

USER_COMMENT = 0x9286
MAX_NODES = 10_000
_CHECKPOINT = {"CheckpointLoaderSimple": "ckpt_name", "CheckpointLoader": "ckpt_name",
               "ImageOnlyCheckpointLoader": "ckpt_name", "UNETLoader": "unet_name"}  # fmt: skip
_LORA = {"LoraLoader", "LoraLoaderModelOnly"}
_SEED = ("seed", "noise_seed")


def _json(text: Text) -> Any:
    try:
        return json.loads(text.text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


def _short(value: Any, limit: int = 2000) -> Any:
    return value[:limit] if isinstance(value, str) else value


@registry.register
class Generator(Extractor):
    name = "generator"
    description = "A1111/Forge, ComfyUI, NovelAI (incl. stealth alpha), InvokeAI parameters"

    def extract(self, view: FileView) -> list[Evidence]:
        items: list[Evidence] = []
        for reader in (self._a1111, self._comfyui, self._novelai, self._invokeai):
            try:
                items.extend(reader(view))
            except ValueError as exc:
                items.append(
                    self.item("error", str(exc), f"{reader.__name__[1:]} metadata", "none")
                )
        return items

    # -- AUTOMATIC1111 / Forge -----------------------------------------------------------------
    def _a1111(self, view: FileView) -> list[Evidence]:
        found = view.text("parameters")
        if found is not None:
            return self._infotext(found.text, found.source)
        tags = view.exif_tags
        if tags is not None:
            comment = tags.get_ifd(EXIF_IFD).get(USER_COMMENT)
            if comment:
                where = f"{view.exif[1] if view.exif else 'EXIF'} UserComment"
                return self._infotext(decode_user_comment(comment), where)
        return []

    def _infotext(self, text: str, source: str) -> list[Evidence]:
        info = parse_infotext(text)
        if info is None:
            return []
        params = info["parameters"]
        edited = "Denoising strength" in params and "Hires upscale" not in params
        value = {"tool": "AUTOMATIC1111/Forge", **info}
        claim = "ai_edited" if edited else "ai_generated"
        items = [self.item(claim, value, source, "moderate")]
        for ref in model_references(info):
            items.append(self.item("model_reference", ref, source, "moderate"))
        return items

    # -- ComfyUI -------------------------------------------------------------------------------
    def _comfyui(self, view: FileView) -> list[Evidence]:
        prompt, workflow = view.text("prompt"), view.text("workflow")
        if prompt is None and workflow is None:
            return []
        found: dict[str, list[Any]] = {"checkpoints": [], "loras": [], "seeds": [], "prompts": []}
        edited = False
        if prompt is not None:
            graph = _json(prompt)
            if isinstance(graph, dict):
                edited = self._comfy_api(list(graph.values())[:MAX_NODES], found)
        if workflow is not None and not found["checkpoints"]:
            graph = _json(workflow)
            nodes = graph.get("nodes") if isinstance(graph, dict) else None
            if isinstance(nodes, list):
                self._comfy_ui(nodes[:MAX_NODES], found)
        source = (prompt or workflow).source  # type: ignore[union-attr]
        value = {"tool": "ComfyUI"} | {k: v[:50] for k, v in found.items()}
        return [self.item("ai_edited" if edited else "ai_generated", value, source, "moderate")]

    @staticmethod
    def _comfy_api(nodes: list[Any], found: dict[str, list[Any]]) -> bool:
        """Reads an API graph; True if it starts from a loaded image (image to image)."""
        loads_image = partial = False
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
                continue
            kind, inputs = str(node.get("class_type", "")), node["inputs"]
            if kind in _CHECKPOINT and isinstance(inputs.get(_CHECKPOINT[kind]), str):
                found["checkpoints"].append(_short(inputs[_CHECKPOINT[kind]]))
            elif kind in _LORA and isinstance(inputs.get("lora_name"), str):
                found["loras"].append({"name": _short(inputs["lora_name"]),
                                       "strength": inputs.get("strength_model")})  # fmt: skip
            elif kind == "CLIPTextEncode" and isinstance(inputs.get("text"), str):
                found["prompts"].append(_short(inputs["text"]))
            elif kind in ("LoadImage", "VAEEncodeForInpaint"):
                loads_image = True
            for key in _SEED:
                if isinstance(inputs.get(key), int):
                    found["seeds"].append(inputs[key])
            denoise = inputs.get("denoise")
            partial |= isinstance(denoise, int | float) and denoise < 1
        return loads_image and partial

    @staticmethod
    def _comfy_ui(nodes: list[Any], found: dict[str, list[Any]]) -> None:
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("widgets_values"), list):
                continue
            kind, widgets = str(node.get("type", "")), node["widgets_values"]
            first = widgets[0] if widgets else None
            if kind in _CHECKPOINT and isinstance(first, str):
                found["checkpoints"].append(_short(first))
            elif kind in _LORA and isinstance(first, str):
                found["loras"].append({"name": _short(first)})
            elif kind == "CLIPTextEncode" and isinstance(first, str):
                found["prompts"].append(_short(first))
            elif kind.startswith("KSampler") and isinstance(first, int):
                found["seeds"].append(first)

    # -- NovelAI -------------------------------------------------------------------------------
    def _novelai(self, view: FileView) -> list[Evidence]:
        software = view.text("Software")
        if software is not None and software.text.strip().startswith("NovelAI"):
            value: dict[str, Any] = {"tool": "NovelAI"}
            for key in ("Source", "Description", "Title"):
                found = view.text(key)
                if found is not None:
                    value[key.lower()] = _short(found.text)
            comment = view.text("Comment")
            if comment is not None:
                value["comment"] = _json(comment)
            return [self.item(self._nai_claim(value), value, software.source, "moderate")]
        hidden = read_stealth(view)
        if hidden is None:
            return []
        data, source = hidden
        return [self.item(self._nai_claim(data), {"tool": "NovelAI (stealth)", **data}, source,
                          "moderate")]  # fmt: skip

    @staticmethod
    def _nai_claim(value: dict[str, Any]) -> str:
        comment = value.get("comment") or value.get("Comment")
        if isinstance(comment, str):
            try:
                comment = json.loads(comment)
            except ValueError:
                comment = None
        kind = str(comment.get("request_type", "")) if isinstance(comment, dict) else ""
        return "ai_edited" if "img2img" in kind.lower() else "ai_generated"

    # -- InvokeAI ------------------------------------------------------------------------------
    def _invokeai(self, view: FileView) -> list[Evidence]:
        found = view.text("invokeai_metadata") or view.text("sd-metadata")
        if found is None:
            return []
        meta = _json(found)
        if not isinstance(meta, dict):
            raise ValueError(f"{found.source}: not a JSON object")
        mode = str(meta.get("generation_mode", "txt2img"))
        model: dict[str, Any] = meta["model"] if isinstance(meta.get("model"), dict) else {}
        value = {
            "tool": "InvokeAI",
            "prompt": _short(meta.get("positive_prompt")),
            "negative_prompt": _short(meta.get("negative_prompt")),
            "seed": meta.get("seed"),
            "steps": meta.get("steps"),
            "model": {k: model.get(k) for k in ("name", "model_name", "hash", "key", "base")},
            "generation_mode": mode,
            "loras": meta.get("loras") if isinstance(meta.get("loras"), list) else [],
        }
        edited = any(m in mode for m in ("img2img", "inpaint", "outpaint"))
        return [
            self.item("ai_edited" if edited else "ai_generated", value, found.source, "moderate")
        ]
