"""tenken (点検): an open toolkit for vision-language-model field inspection, Japanese first and English equally.

The public API is re-exported here; heavy parts (alignment, models) are imported on first use.

    >>> import tenken
    >>> img = tenken.load_image("examples/walkway/target.jpg")        # (H, W, 3) uint8 RGB
    >>> dets = tenken.Detections([[10, 20, 110, 220]], labels=["traffic_cone"], image_size=(640, 480))
"""

from __future__ import annotations

import importlib
from typing import Any

from tenken.configs import AnomalyClasses, TaskSet, load_anomaly_classes, load_task_set
from tenken.core.detections import Detections
from tenken.core.errors import (
    AlignmentError,
    ConfigError,
    ImageLoadError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    ModelOutputError,
    TenkenError,
)
from tenken.core.images import load_image, save_image

__version__ = "0.1.0"

# name -> module that defines it; imported lazily so `import tenken` stays light.
_LAZY: dict[str, str] = {
    "Alignment": "tenken.align.types",
    "FeatureCache": "tenken.align.match",
    "ReferenceIndex": "tenken.align.retrieve",
    "align_best": "tenken.align.pair",
    "align_pair": "tenken.align.pair",
    "ChangeDetector": "tenken.changedet",
    "ChangeParams": "tenken.changedet",
    "detect_changes": "tenken.changedet",
    "read_telemetry": "tenken.align.telemetry",
    "draw_detections": "tenken.viz.draw",
    "side_by_side": "tenken.viz.draw",
    "load_vlm": "tenken.vlm.loader",
    "VLM": "tenken.vlm.model",
    "VLMRequest": "tenken.vlm.backends.base",
    "parse_detections": "tenken.vlm.parse",
    "ask": "tenken.tasks.vqa",
    "ground": "tenken.tasks.grounding",
    "count": "tenken.tasks.counting",
    "classify_task": "tenken.tasks.factory",
    "VLMCandidateDetector": "tenken.tasks.anomaly",
    "VLMLabeller": "tenken.tasks.anomaly",
    "Inspector": "tenken.inspect.pipeline",
    "Report": "tenken.inspect.report",
    "render_annotated": "tenken.inspect.render",
    "run_batch": "tenken.inspect.batch",
    "read_manifest": "tenken.inspect.batch",
    "score_detections": "tenken.eval.detection",
    "map50": "tenken.eval.coco_map",
    "rec_scores": "tenken.eval.rec",
    "rouge_l": "tenken.eval.text",
    "LLMJudge": "tenken.eval.judge",
    "run_benchmark": "tenken.eval.runners",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tenken' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AlignmentError",
    "AnomalyClasses",
    "ConfigError",
    "Detections",
    "ImageLoadError",
    "InputError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelOutputError",
    "TaskSet",
    "TenkenError",
    "load_anomaly_classes",
    "load_image",
    "load_task_set",
    "save_image",
    *_LAZY,
]
