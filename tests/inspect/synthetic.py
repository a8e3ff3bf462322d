"""A real dev photo pair made in the test: the photo as reference, a re-shot view with a pasted object as target."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

WIDTH = 640


def make_pair(assets: Path, out: Path, paste: bool = True) -> tuple[Path, Path, list[float] | None]:
    """Write ``reference.jpg`` and ``target.jpg`` under ``out``; return their paths and the pasted box (xyxy px).

    Reference: ``backgrounds/jetson_humans_4.jpg`` at 640 px. Target: the same photo under a small perspective
    change, brighter and warmer, with the ``plants-1`` cut-out (a potted plant, alpha matte) pasted 60 px high.
    """
    out.mkdir(parents=True, exist_ok=True)
    img = Image.open(assets / "backgrounds" / "jetson_humans_4.jpg").convert("RGB")
    ref = np.asarray(img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.LANCZOS))
    h, w = ref.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[-8, 6], [w - 12, -6], [w + 9, h - 5], [5, h + 7]])
    tgt = cv2.warpPerspective(ref, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT)
    tgt = np.clip(tgt.astype(np.float32) * np.float32([1.12, 1.05, 0.95]), 0, 255).astype(np.uint8)
    box = None
    if paste:
        obj = Image.open(assets / "cutouts" / "plants-1.out.png").convert("RGBA")
        obj = obj.crop(obj.getchannel("A").point(lambda a: 255 if a > 20 else 0).getbbox())
        obj = np.asarray(obj.resize((round(obj.width * 60 / obj.height), 60), Image.LANCZOS))
        x, y = 300, h - obj.shape[0] - 60
        alpha = obj[:, :, 3:4].astype(np.float32) / 255
        region = tgt[y : y + obj.shape[0], x : x + obj.shape[1]].astype(np.float32)
        blended = obj[:, :, :3] * alpha + region * (1 - alpha)
        tgt[y : y + obj.shape[0], x : x + obj.shape[1]] = blended.astype(np.uint8)
        ys, xs = np.nonzero(obj[:, :, 3] > 127)
        box = [float(x + xs.min()), float(y + ys.min()), float(x + xs.max() + 1), float(y + ys.max() + 1)]
    Image.fromarray(ref).save(out / "reference.jpg", quality=90)
    Image.fromarray(tgt).save(out / "target.jpg", quality=90)
    return out / "target.jpg", out / "reference.jpg", box


def other_place(assets: Path, out: Path) -> Path:
    """A photo of a different place (``backgrounds/sam_dogs.jpg``, beach) at 640 px."""
    img = Image.open(assets / "backgrounds" / "sam_dogs.jpg").convert("RGB")
    path = out / "elsewhere.jpg"
    img.resize((WIDTH, round(img.height * WIDTH / img.width))).save(path, quality=90)
    return path


def iou(a: list[float], b: list[float]) -> float:
    """IoU of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
