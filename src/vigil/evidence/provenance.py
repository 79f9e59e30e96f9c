"""C2PA content credentials, read with ``c2pa-python``: every manifest's actions and
ingredients, the generator, digital source types, the signer and the validation state.

A manifest that validates up to a trust anchor the operator configured is ``verified``; one whose
signature is valid but whose signer is unknown is ``strong`` (the file is as its signer left
it, but anyone can sign); an invalid one is ``weak``. No network is used: remote manifests and
OCSP are not fetched.
"""

from __future__ import annotations

import io
import json
from typing import Any

from vigil.evidence.base import Evidence, Extractor, registry
from vigil.evidence.container import FileView
from vigil.evidence.sourcetype import claim_for

__all__ = ["C2PA"]

_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_STRENGTH = {"Trusted": "verified", "Valid": "strong"}
_EDIT_ACTIONS = {
    "c2pa.edited",
    "c2pa.filtered",
    "c2pa.color_adjustments",
    "c2pa.cropped",
    "c2pa.resized",
    "c2pa.drawing",
    "c2pa.orientation",
    "c2pa.transcoded",
}


@registry.register
class C2PA(Extractor):
    name = "c2pa"
    description = "C2PA manifests: actions, ingredients, generator, source type, validation"

    def applies(self, view: FileView) -> bool:
        return view.jumbf and view.kind in _MIME

    def _context(self) -> Any:
        import c2pa

        settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
        if self.config.trust_anchors is not None:
            settings["trust"] = {"trust_anchors": self.config.trust_anchors.read_text()}
        return c2pa.Context(c2pa.Settings.from_dict(settings))

    def extract(self, view: FileView) -> list[Evidence]:
        import c2pa

        where = f"C2PA manifest store ({view.kind})"
        try:
            reader = c2pa.Reader(
                _MIME[str(view.kind)], io.BytesIO(view.data), context=self._context()
            )
            store = json.loads(reader.json())
            state = reader.get_validation_state() or "Invalid"
        except c2pa.C2paError as exc:
            return [self.item("error", f"C2PA store unreadable: {exc}", where, "none")]
        strength = _STRENGTH.get(state, "weak")
        active = store.get("active_manifest")
        manifests: dict[str, Any] = store.get("manifests") or {}
        failures = [s.get("code") for s in store.get("validation_status") or []]
        items = [self._summary(active, manifests.get(active or "", {}), state, failures, where)]
        for label, manifest in manifests.items():
            tag = "active manifest" if label == active else "ingredient manifest"
            items.extend(self._manifest(label, manifest, f"C2PA {tag} {label}", strength))
        return items

    def _summary(self, label: str | None, manifest: dict[str, Any], state: str,
                 failures: list[str], where: str) -> Evidence:  # fmt: skip
        signer = manifest.get("signature_info") or {}
        value = {
            "active_manifest": label,
            "validation_state": state,
            "trusted": state == "Trusted",
            "failures": failures,
            "signer": {k: signer.get(k) for k in ("issuer", "common_name", "alg", "time")},
            "title": manifest.get("title"),
        }
        return self.item("provenance", value, where, _STRENGTH.get(state, "weak"))

    def _manifest(self, label: str, manifest: dict[str, Any], where: str,
                  strength: str) -> list[Evidence]:  # fmt: skip
        items = []
        for info in manifest.get("claim_generator_info") or []:
            name = " ".join(str(info.get(k, "")) for k in ("name", "version")).strip()
            items.append(self.item("software", name, f"{where} claim_generator_info", strength))
        if manifest.get("claim_generator"):
            gen = str(manifest["claim_generator"])
            items.append(self.item("software", gen, f"{where} claim_generator", strength))
        for assertion in manifest.get("assertions") or []:
            if str(assertion.get("label", "")).startswith("c2pa.actions"):
                items.extend(self._actions(assertion, where, strength))
        for ing in manifest.get("ingredients") or []:
            value = {k: ing.get(k) for k in ("title", "format", "relationship", "active_manifest")}
            items.append(self.item("provenance", value, f"{where} ingredient", strength))
        return items

    def _actions(self, assertion: dict[str, Any], where: str, strength: str) -> list[Evidence]:
        items = []
        for act in (assertion.get("data") or {}).get("actions") or []:
            name = str(act.get("action", ""))
            source = f"{where} {assertion['label']} action {name!r}"
            agent = act.get("softwareAgent")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            value = {"action": name, "digitalSourceType": act.get("digitalSourceType"),
                     "softwareAgent": agent}  # fmt: skip
            found = claim_for(str(act.get("digitalSourceType") or ""))
            if found:
                items.append(
                    self.item(found[0], value | {"source_type": found[1]}, source, strength)
                )
            elif name in _EDIT_ACTIONS:
                items.append(self.item("edited", value, source, strength))
        return items
