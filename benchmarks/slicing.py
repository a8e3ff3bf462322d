"""Benchmark of sliced grounding (issue 15): small objects in 4K frames, plumbing measured, not a model.

    python benchmarks/slicing.py              # 8 images, about a minute on 2 busy cores
    python benchmarks/slicing.py --images 20

Synthetic 3840x2160 frames (textured grey background) with small pure-red objects (sides 20-60 px, drawn
independently) and two large ones (280-400 px). The "model" (``tests/vlm/fakes.blob_answer``) sees red blobs
in the image it is given, *after* downscaling to its own pixel budget (1024x1024 pixels), and only those at
least 16 px on both sides as it sees them; it answers in its family's box frame rounded to integers (Qwen3-VL
0-1000 relative, Qwen2.5-VL pixels of the processor's resized image), so the numbers measure tiling, mapping
back and merging.

The inspect rows run the pass-1 detectors on aligned pairs of the same frames (reference: the background
without the objects, 4% darker): the vlm detector on the whole target|reference composite vs sliced (the same
tiles of both; the model's budget is doubled there, 2x1024x1024, since a composite holds two images); the
classical change detector alone; and the hybrid mark mode with the change detector as proposer and a scripted
model that picks the right mark numbers (``tests/vlm/fakes.mark_picker``), which must reach the proposer's
recall with the very same boxes (``same_boxes``).

Reported per configuration: recall of small and large objects (greedy one-to-one match at IoU >= 0.5),
precision, the mean and max corner error of matched boxes in full-image pixels, requests per image, and
wall time per image. Prints a table and writes ``benchmarks/results/slicing.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tenken.align.types import Alignment  # noqa: E402
from tenken.changedet import ChangeDetector  # noqa: E402
from tenken.configs import load_anomaly_classes  # noqa: E402
from tenken.core.artifacts import write_json  # noqa: E402
from tenken.core.boxes import box_iou  # noqa: E402
from tenken.core.contracts import AlignedPair  # noqa: E402
from tenken.core.detections import Detections  # noqa: E402
from tenken.tasks.anomaly import VLMCandidateDetector  # noqa: E402
from tenken.tasks.anomaly_marks import MarkCandidateDetector  # noqa: E402
from tenken.tasks.grounding import ground  # noqa: E402
from tenken.tasks.sliced import sliced_ground  # noqa: E402
from tenken.vlm.slicing import slice_options  # noqa: E402
from tests.vlm.fakes import BLOB_RGB, blob_answer, mark_picker, scripted_vlm  # noqa: E402

SIZE = (3840, 2160)
MODEL_PIXELS = 1024 * 1024
MIN_PX = 16
CLASSES = load_anomaly_classes()


def scene(
    rng: np.random.Generator, n_small: int = 15, n_large: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A frame, its objects' boxes ``(N, 4)`` (pixels), a size flag (True = large) and the background alone."""
    w, h = SIZE
    base = rng.integers(60, 140, size=(h // 8, w // 8), dtype=np.uint8)
    grey = np.kron(base, np.ones((8, 8), dtype=np.uint8))[:h, :w]
    img = np.repeat(grey[..., None], 3, axis=2)
    background = img.copy()
    boxes: list[list[int]] = []
    large: list[bool] = []
    for is_large, count in ((True, n_large), (False, n_small)):
        while sum(1 for f in large if f == is_large) < count:
            bw, bh = (rng.integers(280, 401, 2) if is_large else rng.integers(20, 61, 2)).tolist()
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            cand = [x, y, x + bw, y + bh]
            pad = np.array([[-12, -12, 12, 12]])
            if boxes and (box_iou(np.array([cand]) + pad, np.array(boxes)) > 0).any():
                continue
            boxes.append(cand)
            large.append(is_large)
            img[y : y + bh, x : x + bw] = BLOB_RGB
    return img, np.array(boxes, dtype=np.float64), np.array(large), background


def match(gt: np.ndarray, pred: Detections, thr: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one (gt, pred) pairs by IoU, highest first, IoU >= ``thr``."""
    if len(gt) == 0 or len(pred) == 0:
        return []
    iou = box_iou(gt, pred.xyxy)
    pairs, used_g, used_p = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        g, p = np.unravel_index(flat, iou.shape)
        if iou[g, p] < thr:
            break
        if g not in used_g and p not in used_p:
            pairs.append((int(g), int(p)))
            used_g.add(g)
            used_p.add(p)
    return pairs


CONFIGS = [
    ("whole image (no slicing)", None),
    ("sliced, NMS", {}),
    ("sliced, WBF", {"merge": "wbf"}),
    ("sliced, NMS, no whole-image pass", {"whole_image": False}),
    ("sliced 640 px tiles, NMS", {"tile": 640, "pixel_budget": 640 * 640}),
]


INSPECT_CONFIGS = ["inspect vlm, whole pair", "inspect vlm, sliced", "inspect classical", "inspect hybrid marks"]


def _pair(img: np.ndarray, background: np.ndarray) -> AlignedPair:
    reference = (background.astype(np.float32) * 0.96).astype(np.uint8)
    return AlignedPair(img, reference, np.ones(img.shape[:2], bool), Alignment(ok=True))


def detect(config: str, family: str, img: np.ndarray, gt: np.ndarray, background: np.ndarray) -> tuple[Detections, int]:
    """One configuration's boxes on one frame (or pair) and the number of model requests it sent."""
    if config in INSPECT_CONFIGS:
        pair = _pair(img, background)
        if config == "inspect classical":
            return ChangeDetector().detect(pair), 0
        if config == "inspect hybrid marks":
            proposals = ChangeDetector().detect(pair)
            vlm = scripted_vlm(mark_picker(proposals, gt), family=family)
            dets = MarkCandidateDetector(vlm, CLASSES, ChangeDetector()).detect(pair)
            return dets, vlm.backend.stats.requests
        vlm = scripted_vlm(blob_answer(family, MIN_PX, max_pixels=2 * MODEL_PIXELS), family=family)
        slicing = slice_options(family) if config.endswith("sliced") else None
        dets = VLMCandidateDetector(vlm, CLASSES, "en", slicing=slicing).detect(pair)
        return dets, vlm.backend.stats.requests
    overrides = dict(CONFIGS)[config]
    vlm = scripted_vlm(blob_answer(family, MIN_PX, max_pixels=MODEL_PIXELS), family=family)
    if overrides is None:
        dets = ground(vlm, img, "object", lang="en", warnings_out=[])
    else:
        dets = sliced_ground(vlm, img, "object", "en", slice_options(family, **overrides), warnings_out=[])
    return dets, vlm.backend.stats.requests


def run(n_images: int, family: str) -> list[dict]:
    rng = np.random.default_rng(15)
    scenes = [scene(rng) for _ in range(n_images)]
    rows = []
    proposer_boxes: list[np.ndarray] = []
    for name in [c for c, _ in CONFIGS] + INSPECT_CONFIGS:
        found = {True: 0, False: 0}
        totals = {True: 0, False: 0}
        n_pred = n_tp = requests = 0
        errors: list[float] = []
        boxes: list[np.ndarray] = []
        t0 = time.perf_counter()
        for img, gt, large, background in scenes:
            dets, sent = detect(name, family, img, gt, background)
            requests += sent
            boxes.append(dets.xyxy)
            pairs = match(gt, dets)
            n_pred += len(dets)
            n_tp += len(pairs)
            for flag in (True, False):
                totals[flag] += int((large == flag).sum())
                found[flag] += sum(1 for g, _ in pairs if large[g] == flag)
            errors.extend(np.abs(gt[g] - dets.xyxy[p]).max() for g, p in pairs)
        elapsed = time.perf_counter() - t0
        extra = {}
        if name == "inspect classical":
            proposer_boxes = boxes
        if name == "inspect hybrid marks":  # every picked box is one of the proposer's, unchanged
            extra["same_boxes"] = all(
                all((p == b[None]).all(axis=1).any() for b in picked)
                for picked, p in zip(boxes, proposer_boxes, strict=True)
            )
        rows.append(
            {
                "family": family,
                "config": name,
                **extra,
                "recall_small": found[False] / max(totals[False], 1),
                "recall_large": found[True] / max(totals[True], 1),
                "precision": n_tp / max(n_pred, 1),
                "mean_corner_error_px": float(np.mean(errors)) if errors else None,
                "max_corner_error_px": float(np.max(errors)) if errors else None,
                "requests_per_image": requests / n_images,
                "ms_per_image": 1000 * elapsed / n_images,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "slicing.json"), help="JSON written here.")
    args = ap.parse_args()
    rows = [r for fam in ("qwen3-vl", "qwen2.5-vl") for r in run(args.images, fam)]
    print(
        f"{'family':<11} {'config':<34} {'R small':>7} {'R large':>7} {'prec':>5} {'err mean':>8} {'err max':>7} "
        f"{'req/img':>7} {'ms/img':>7}"
    )
    nan = float("nan")
    for r in rows:
        mean_err, max_err = r["mean_corner_error_px"], r["max_corner_error_px"]
        print(
            f"{r['family']:<11} {r['config']:<34} {r['recall_small']:>7.3f} {r['recall_large']:>7.3f} "
            f"{r['precision']:>5.2f} {nan if mean_err is None else mean_err:>8.2f} "
            f"{nan if max_err is None else max_err:>7.2f} {r['requests_per_image']:>7.1f} {r['ms_per_image']:>7.0f}"
        )
    for r in rows:
        if "same_boxes" in r:
            print(f"{r['family']}: hybrid marks boxes identical to the change detector's: {r['same_boxes']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    setup = {"images": args.images, "size": SIZE, "model_pixels": MODEL_PIXELS, "min_px": MIN_PX}
    write_json(out, {"machine": platform.platform(), "setup": setup, "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
