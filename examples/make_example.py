"""Regenerate the example pair in ``examples/walkway/`` (deterministic; no randomness).

The reference is a street photo (segment-anything's ``truck.jpg``, Apache-2.0) at 1280 px. The target is the
same scene seen from a slightly different viewpoint (a small perspective warp) in other light (exposure,
white balance, gamma), with two objects left on the street: a potted plant (rembg's ``plants-1`` cut-out with
its alpha matte, MIT) and a drawn traffic cone. ``truth.json`` holds their boxes (target pixels, xyxy).

    python examples/make_example.py [--data ../shared/data/dev]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
WIDTH = 1280


def _reference(data: Path) -> np.ndarray:
    img = Image.open(data / "backgrounds" / "sam_truck.jpg").convert("RGB")
    h = round(img.height * WIDTH / img.width)
    return np.asarray(img.resize((WIDTH, h), Image.LANCZOS))


def _new_view(ref: np.ndarray) -> np.ndarray:
    """Another viewpoint (corners moved by up to ~2.5%) and other light (brighter, warmer, gamma 0.9)."""
    h, w = ref.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[-18, 12], [w - 30, -14], [w + 22, h - 10], [10, h + 16]])
    warped = cv2.warpPerspective(ref, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT)
    x = warped.astype(np.float32) / 255.0
    x = x * np.float32([1.10, 1.04, 0.92]) * 1.08
    x = np.clip(x, 0, 1) ** 0.9
    return (x * 255 + 0.5).astype(np.uint8)


def _paste(base: np.ndarray, rgba: np.ndarray, x: int, y: int) -> list[float]:
    """Alpha-composite ``rgba`` with its top-left at ``(x, y)``; the box of its opaque pixels (xyxy px)."""
    h, w = rgba.shape[:2]
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    region = base[y : y + h, x : x + w].astype(np.float32)
    base[y : y + h, x : x + w] = (rgba[:, :, :3] * alpha + region * (1 - alpha) + 0.5).astype(np.uint8)
    ys, xs = np.nonzero(rgba[:, :, 3] > 127)
    return [float(x + xs.min()), float(y + ys.min()), float(x + xs.max() + 1), float(y + ys.max() + 1)]


def _plant(data: Path, height: int) -> np.ndarray:
    img = Image.open(data / "cutouts" / "plants-1.out.png").convert("RGBA")
    box = img.getchannel("A").point(lambda a: 255 if a > 20 else 0).getbbox()
    img = img.crop(box)
    return np.asarray(img.resize((round(img.width * height / img.height), height), Image.LANCZOS))


def _cone(height: int) -> np.ndarray:
    """A traffic cone drawn at 4x and shrunk (anti-aliased): orange body, white bands, dark base."""
    s = 4
    w, h = round(height * 0.75) * s, height * s
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    base_h = h // 10
    d.rectangle([0, h - base_h, w, h], fill=(40, 40, 40, 255))
    top, bottom = w * 0.08, w * 0.40
    d.polygon([(w / 2 - top, 0), (w / 2 + top, 0), (w / 2 + bottom, h - base_h), (w / 2 - bottom, h - base_h)],
              fill=(240, 90, 20, 255))  # fmt: skip
    for y0, y1 in ((0.28, 0.40), (0.58, 0.70)):
        a, b = y0 * (h - base_h), y1 * (h - base_h)
        ha, hb = top + (bottom - top) * y0, top + (bottom - top) * y1
        d.polygon([(w / 2 - ha, a), (w / 2 + ha, a), (w / 2 + hb, b), (w / 2 - hb, b)], fill=(245, 245, 245, 255))
    return np.asarray(img.resize((w // s, h // s), Image.LANCZOS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "dev")
    args = parser.parse_args()
    out = HERE / "walkway"
    out.mkdir(parents=True, exist_ok=True)
    ref = _reference(args.data)
    target = _new_view(ref)
    truth = [
        {"label": "potted_plant", "box": _paste(target, _plant(args.data, 120), 170, 640)},
        {"label": "traffic_cone", "box": _paste(target, _cone(80), 1010, 690)},
    ]
    Image.fromarray(ref).save(out / "reference.jpg", quality=85)
    Image.fromarray(target).save(out / "target.jpg", quality=85)
    (out / "truth.json").write_text(json.dumps({"boxes": truth}, indent=2) + "\n", encoding="utf-8")
    # a clean pair for the batch example: the same street again, only light and viewpoint changed
    Image.fromarray(_new_view(ref)).save(out / "target_clean.jpg", quality=85)
    print(f"wrote {out}/reference.jpg, target.jpg, target_clean.jpg, truth.json")


if __name__ == "__main__":
    main()
