"""A learned synthetic-image detector, supplied by the operator: an ONNX model plus its own
calibration. Vigil ships no model and downloads none; without one configured this extractor
does nothing. Its output is one ``synthetic_score`` item (a calibrated probability): a hint
that the summary counts as weak ``ai_generated`` evidence at or above the calibrated threshold.

Calibration (JSON): ``{"name": ..., "input_size": [w, h], "mean": [r, g, b], "std": [r, g, b],
"layout": "NCHW" | "NHWC", "output_index": 0, "platt": {"a": 1.0, "b": 0.0}, "threshold": 0.9}``:
the model's output at ``output_index`` is a logit, mapped to a probability by
``sigmoid(a * logit + b)`` (Platt scaling fitted by the operator on their validation data).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vigil.errors import UsageError
from vigil.evidence.base import Evidence, Extractor, registry
from vigil.evidence.container import FileView

__all__ = ["Detector", "load_detector"]


@lru_cache(maxsize=4)
def load_detector(model: Path, calibration: Path | None) -> tuple[Any, dict[str, Any]]:
    """(onnxruntime session, calibration); UsageError if either cannot be loaded."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise UsageError("a detector is configured but onnxruntime is not installed "
                         "(pip install 'vigil[detector]')") from exc  # fmt: skip
    cal_path = calibration or model.with_suffix(".json")
    try:
        cal = json.loads(cal_path.read_text())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable models
        raise UsageError(f"detector {model}: cannot load it or its calibration: {exc}") from exc
    return session, cal


@registry.register
class Detector(Extractor):
    name = "detector"
    description = "operator-supplied ONNX synthetic-image detector with its calibration"

    def applies(self, view: FileView) -> bool:
        return self.config.detector is not None and view.is_image

    def extract(self, view: FileView) -> list[Evidence]:
        assert self.config.detector is not None
        session, cal = load_detector(self.config.detector, self.config.detector_calibration)
        decoded = view.decoded
        if decoded is None:
            return []
        w, h = cal.get("input_size", [224, 224])
        rgb = np.asarray(decoded.image.convert("RGB").resize((w, h)), np.float32) / 255.0
        x = (rgb - np.array(cal.get("mean", [0, 0, 0]), np.float32)) / np.array(
            cal.get("std", [1, 1, 1]), np.float32
        )
        x = x[None] if cal.get("layout") == "NHWC" else x.transpose(2, 0, 1)[None]
        name = session.get_inputs()[0].name
        out = np.asarray(session.run(None, {name: x.astype(np.float32)})[0]).ravel()
        logit = float(out[int(cal.get("output_index", 0))])
        platt = cal.get("platt", {"a": 1.0, "b": 0.0})
        z = float(platt["a"]) * logit + float(platt["b"])
        probability = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
        value = {
            "detector": cal.get("name", self.config.detector.name),
            "probability": round(probability, 4),
            "threshold": float(cal.get("threshold", 0.9)),
            "logit": round(logit, 4),
        }
        return [self.item("synthetic_score", value, "pixels (learned detector)", "weak")]
