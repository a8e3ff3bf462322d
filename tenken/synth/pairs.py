"""Synthetic anomaly pairs: a reference photo and a target re-shot later with new objects in it.

The generator turns a real photo (or a real homography sequence) into a pair that carries the hard parts of
field inspection: a small change of viewpoint, other exposure, white balance and gamma, blur, sensor noise and
JPEG, and 0–N pasted objects (alpha-matted cut-outs, or irregular pieces of other photos) whose boxes are the
ground truth. Every box is ``xyxy`` float pixels of the **target**; ``homography`` maps reference pixels to
target pixels, like :class:`tenken.align.types.Alignment`.

    >>> rng = np.random.default_rng(0)
    >>> bank = ObjectBank.from_folder("../shared/data/dev/cutouts", photos=[photo_a, photo_b])
    >>> pair = make_pair(photo, bank, rng)                 # pair.target, pair.reference, pair.boxes
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tenken.core.detections import Detections
from tenken.core.images import load_image
from tenken.synth.ignore import map_boxes


@dataclass
class SyntheticPair:
    """A reference, a target and the truth about what changed.

    Attributes:
        reference: ``(H, W, 3)`` uint8 RGB.
        target: ``(H', W', 3)`` uint8 RGB.
        boxes: ground-truth boxes of the pasted objects in target pixels (label ``change``, source ``gt``).
        homography: ``(3, 3)`` float64, reference pixels -> target pixels.
        kinds: what each pasted object is (``cutout:<name>`` or ``piece``), one per box.
        name: where the pair comes from (``photo:<file>`` or ``sequence:<scene>/img<k>``).
        ignore: ``(M, 4)`` float64 xyxy target pixels of "don't care" regions holding real changes no truth
            marks (:mod:`tenken.synth.ignore`); no object is pasted there, and a benchmark drops predictions
            lying mostly inside one before scoring. Empty for most pairs.
        nuisances: revisit nuisances applied after the pair was made (:func:`tenken.synth.nuisances.perturb_pair`),
            one ``{"name", "on", **drawn parameters}`` dict each; empty for a plain pair.
    """

    reference: np.ndarray
    target: np.ndarray
    boxes: Detections
    homography: np.ndarray
    kinds: list[str] = field(default_factory=list)
    name: str = ""
    ignore: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    nuisances: list[dict] = field(default_factory=list)


@dataclass
class PairSettings:
    """Ranges the generator samples from (uniformly unless stated).

    Attributes:
        max_objects: 0..max_objects objects per target (uniform), except ``clean_fraction`` of targets get none.
        clean_fraction: fraction of targets with no pasted object.
        object_size: (min, max) longest side of a pasted object in target pixels (sampled log-uniformly).
        corner_jitter: largest displacement of each image corner in the re-shoot, as a fraction of the
            image diagonal.
        gain: exposure multiplier range; ``white_balance``: per-channel multiplier range; ``gamma``: range.
        blur_sigma: Gaussian blur sigma range in pixels (applied to the target with probability 0.5).
        noise_sigma: additive Gaussian noise sigma range, 8-bit grey levels.
        jpeg_quality: JPEG quality range for both images.
        cutout_fraction: probability that an object is an alpha-matted cut-out rather than a piece of a photo.
        long_side: (min, max) longest side, pixels, photos are resized to before the re-shoot (log-uniform).
        sequence_fraction: in :func:`generate_pairs`, fraction of pairs taken from the homography sequences.
    """

    max_objects: int = 4
    clean_fraction: float = 1 / 3
    object_size: tuple[float, float] = (18.0, 220.0)
    corner_jitter: float = 0.03
    gain: tuple[float, float] = (0.7, 1.35)
    white_balance: tuple[float, float] = (0.88, 1.12)
    gamma: tuple[float, float] = (0.8, 1.25)
    blur_sigma: tuple[float, float] = (0.0, 1.2)
    noise_sigma: tuple[float, float] = (0.5, 4.0)
    jpeg_quality: tuple[int, int] = (70, 95)
    cutout_fraction: float = 0.5
    long_side: tuple[float, float] = (1000.0, 2400.0)
    sequence_fraction: float = 0.25


class ObjectBank:
    """Sources of objects to paste: RGBA cut-outs and photos to cut irregular pieces from.

    Args:
        cutouts: ``(h, w, 4)`` uint8 RGBA arrays, each cropped to its alpha's bounding box, with names.
        photos: ``(H, W, 3)`` uint8 RGB photos that irregular pieces are cut from.
    """

    def __init__(self, cutouts: Sequence[tuple[str, np.ndarray]], photos: Sequence[np.ndarray]) -> None:
        if not cutouts and not photos:
            raise ValueError("ObjectBank needs at least one cut-out or one photo")
        self.cutouts = [(name, _crop_to_alpha(rgba)) for name, rgba in cutouts]
        self.photos = list(photos)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, photos: Sequence[np.ndarray] = ()) -> ObjectBank:
        """Load every ``*.out.png`` RGBA cut-out of ``folder`` (the dev cut-outs layout)."""
        cutouts = []
        for path in sorted(Path(folder).glob("*.out.png")):
            rgba = np.asarray(Image.open(path).convert("RGBA"))
            cutouts.append((path.name.removesuffix(".out.png"), rgba))
        return cls(cutouts, photos)

    def sample(self, rng: np.random.Generator, size: float, cutout_fraction: float) -> tuple[str, np.ndarray]:
        """One RGBA object whose longest side is ``size`` pixels, and its kind."""
        use_cutout = self.cutouts and (not self.photos or rng.random() < cutout_fraction)
        if use_cutout:
            name, rgba = self.cutouts[int(rng.integers(len(self.cutouts)))]
            if rng.random() < 0.5:
                rgba = rgba[:, ::-1]
            return f"cutout:{name}", _resize_longest(rgba, size)
        return "piece", _irregular_piece(self.photos[int(rng.integers(len(self.photos)))], size, rng)


def reshoot_homography(size: tuple[int, int], rng: np.random.Generator, jitter: float) -> np.ndarray:
    """A random small viewpoint change: each corner moves by up to ``jitter`` x the diagonal (pixels)."""
    w, h = size
    d = jitter * float(np.hypot(w, h))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-d, d, size=(4, 2)).astype(np.float32)
    return cv2.getPerspectiveTransform(src, dst).astype(np.float64)


def photometric(image: np.ndarray, rng: np.random.Generator, settings: PairSettings) -> np.ndarray:
    """Another day's light: exposure gain, per-channel white balance and gamma (uint8 RGB in and out)."""
    x = image.astype(np.float32) / 255.0
    gamma = rng.uniform(*settings.gamma)
    gain = rng.uniform(*settings.gain) * rng.uniform(*settings.white_balance, size=3)
    y = np.clip(x, 0, 1) ** gamma * gain.astype(np.float32)
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


def degrade(image: np.ndarray, rng: np.random.Generator, settings: PairSettings, blur: bool) -> np.ndarray:
    """Optional blur, sensor noise, then a JPEG round trip (uint8 RGB in and out)."""
    out = image
    if blur:
        sigma = rng.uniform(*settings.blur_sigma)
        if sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), sigma)
    noise = rng.normal(0, rng.uniform(*settings.noise_sigma), size=out.shape).astype(np.float32)
    out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return jpeg_roundtrip(out, int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1)))


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def make_pair(
    photo: np.ndarray,
    bank: ObjectBank,
    rng: np.random.Generator,
    settings: PairSettings | None = None,
    n_objects: int | None = None,
) -> SyntheticPair:
    """Reference = ``photo`` (JPEG'd); target = ``photo`` re-shot, relit, degraded, with objects pasted.

    Args:
        photo: ``(H, W, 3)`` uint8 RGB.
        n_objects: force this many objects (default: sampled from ``settings``).
    """
    s = settings or PairSettings()
    h, w = photo.shape[:2]
    hom = reshoot_homography((w, h), rng, s.corner_jitter)
    target = cv2.warpPerspective(photo, hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    target = photometric(target, rng, s)
    reference = degrade(photo, rng, s, blur=False)
    return _finish(reference, target, hom, bank, rng, s, n_objects, blur=rng.random() < 0.5, ignore=np.zeros((0, 4)))


def pair_from_sequence(
    reference: np.ndarray,
    target: np.ndarray,
    homography: np.ndarray,
    bank: ObjectBank,
    rng: np.random.Generator,
    settings: PairSettings | None = None,
    n_objects: int | None = None,
    ignore: np.ndarray | None = None,
) -> SyntheticPair:
    """A real pair of one planar scene (``homography``: reference -> target pixels) plus pasted objects.

    ``ignore``: ``(M, 4)`` xyxy boxes in **reference** pixels around real changes no truth marks; they are
    mapped into the target (``SyntheticPair.ignore``) and no object is pasted over them.
    """
    s = settings or PairSettings()
    hom = np.asarray(homography, dtype=np.float64)
    hom = hom / hom[2, 2]
    th, tw = target.shape[:2]
    ignore_t = map_boxes(np.zeros((0, 4)) if ignore is None else ignore, hom, (tw, th))
    ref = jpeg_roundtrip(reference, int(rng.integers(s.jpeg_quality[0], s.jpeg_quality[1] + 1)))
    return _finish(ref, photometric(target, rng, s), hom, bank, rng, s, n_objects, blur=False, ignore=ignore_t)


def _finish(
    reference: np.ndarray,
    target: np.ndarray,
    hom: np.ndarray,
    bank: ObjectBank,
    rng: np.random.Generator,
    s: PairSettings,
    n_objects: int | None,
    blur: bool,
    ignore: np.ndarray,
) -> SyntheticPair:
    th, tw = target.shape[:2]
    rh, rw = reference.shape[:2]
    covered = cv2.warpPerspective(np.full((rh, rw), 255, np.uint8), hom, (tw, th), flags=cv2.INTER_NEAREST) > 0
    covered = cv2.erode(covered.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    for x1, y1, x2, y2 in ignore:  # objects go where both images agree, never onto an ignore region
        covered[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))] = False
    if n_objects is None:
        n_objects = 0 if rng.random() < s.clean_fraction else int(rng.integers(1, s.max_objects + 1))
    boxes: list[list[float]] = []
    kinds: list[str] = []
    occupied = np.zeros((th, tw), dtype=bool)
    lo, hi = np.log(s.object_size[0]), np.log(s.object_size[1])
    for _ in range(4 * n_objects):
        if len(boxes) == n_objects:
            break
        size = float(np.exp(rng.uniform(lo, hi)))
        size = min(size, 0.4 * min(tw, th))
        kind, rgba = bank.sample(rng, size, s.cutout_fraction)
        placed = _place(target, rgba, covered, occupied, rng)
        if placed is not None:
            boxes.append(placed)
            kinds.append(kind)
    target = degrade(target, rng, s, blur=blur)
    dets = Detections(
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        np.ones(len(boxes)),
        ["change"] * len(boxes),
        ["gt"] * len(boxes),
        (tw, th),
        {"kind": kinds},
    )
    return SyntheticPair(reference, target, dets, hom, kinds, ignore=ignore)


def _place(
    target: np.ndarray, rgba: np.ndarray, covered: np.ndarray, occupied: np.ndarray, rng: np.random.Generator
) -> list[float] | None:
    """Paste ``rgba`` (in place) where it is fully covered by the reference, visible and not on another object."""
    oh, ow = rgba.shape[:2]
    th, tw = target.shape[:2]
    if ow >= tw or oh >= th:
        return None
    alpha = rgba[:, :, 3].astype(np.float32) / 255.0
    for _ in range(30):
        x = int(rng.integers(0, tw - ow))
        y = int(rng.integers(0, th - oh))
        if (
            not covered[y : y + oh, x : x + ow].all()
            or occupied[max(0, y - 4) : y + oh + 4, max(0, x - 4) : x + ow + 4].any()
        ):
            continue
        region = target[y : y + oh, x : x + ow].astype(np.float32)
        pasted = rgba[:, :, :3].astype(np.float32) * alpha[..., None] + region * (1 - alpha[..., None])
        inside = alpha > 0.5
        if not _visible(region[inside], pasted[inside]):
            continue
        target[y : y + oh, x : x + ow] = np.clip(pasted + 0.5, 0, 255).astype(np.uint8)
        occupied[y : y + oh, x : x + ow] |= inside
        ys, xs = np.nonzero(inside)
        return [float(x + xs.min()), float(y + ys.min()), float(x + xs.max() + 1), float(y + ys.max() + 1)]
    return None


def _visible(before: np.ndarray, after: np.ndarray) -> bool:
    """A pasted object counts only if a person could see it: mean colour change >= 12 grey levels."""
    if before.size == 0:
        return False
    return float(np.abs(after - before).mean()) >= 12.0


def _crop_to_alpha(rgba: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(rgba[:, :, 3] > 127)
    if len(ys) == 0:
        raise ValueError("cut-out has an empty alpha matte")
    return np.ascontiguousarray(rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def _resize_longest(rgba: np.ndarray, size: float) -> np.ndarray:
    h, w = rgba.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(3, round(w * scale)), max(3, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgba, (nw, nh), interpolation=interp)


def _irregular_piece(photo: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """A blob-shaped piece (random star polygon, soft edge) of ``photo``, longest side ``size`` pixels."""
    s = max(6, round(size))
    aspect = rng.uniform(0.5, 1.0)
    w, h = (s, max(4, round(s * aspect))) if rng.random() < 0.5 else (max(4, round(s * aspect)), s)
    ph, pw = photo.shape[:2]
    # cut from the photo at a random scale so textures are natural, then resize to the wanted size
    src_scale = rng.uniform(0.5, 2.0)
    cw, ch = min(pw, max(4, round(w * src_scale))), min(ph, max(4, round(h * src_scale)))
    x0 = int(rng.integers(0, pw - cw + 1))
    y0 = int(rng.integers(0, ph - ch + 1))
    rgb = cv2.resize(photo[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
    n = int(rng.integers(6, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.55, 1.0, n)
    pts = np.stack([(1 + radii * np.cos(angles)) * (w - 1) / 2, (1 + radii * np.sin(angles)) * (h - 1) / 2], 1)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.6, s / 60))
    rgba = np.dstack([rgb, mask])
    return _crop_to_alpha(rgba) if (mask > 127).any() else np.dstack([rgb, np.full((h, w), 255, np.uint8)])


@dataclass
class DevSources:
    """What :func:`generate_pairs` draws from, loaded from the dev data layout (``backgrounds/``, ``pairs/``,
    ``homography/<scene>/img<k>.png`` + ``H1to<k>p``, ``cutouts/*.out.png``)."""

    photos: list[tuple[str, np.ndarray]]
    sequences: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]
    bank: ObjectBank
    ignore: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike,
        steps: Mapping[str, Sequence[int]] | None = None,
        ignore: Mapping[str, np.ndarray] | None = None,
    ) -> DevSources:
        """Read every photo, the chosen sequence steps and every cut-out under ``data_dir``.

        Args:
            data_dir: the dev data layout (see the class).
            steps: which images ``k`` of each homography sequence serve as targets (image 1 is the
                reference), e.g. ``{"kaze_iguazu": (2, 3, 4)}``; None: images 2 and 3 of every sequence found.
            ignore: "don't care" boxes per sequence, ``(N, 4)`` xyxy pixels of its image 1, around real
                changes no ground truth marks (see :mod:`tenken.synth.ignore`); carried into the pairs.

        Raises:
            FileNotFoundError: no photo under ``backgrounds/`` or ``pairs/``.
        """
        root = Path(data_dir)
        photos = [
            (p.name, load_image(p))
            for sub in ("backgrounds", "pairs")
            for p in sorted((root / sub).glob("*"))
            if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        ]
        if steps is None:
            steps = {d.name: (2, 3) for d in sorted((root / "homography").glob("*")) if (d / "img1.png").is_file()}
        sequences = []
        for scene, ks in steps.items():
            folder = root / "homography" / scene
            if not (folder / "img1.png").is_file():
                continue
            first = load_image(folder / "img1.png")
            for k in ks:
                hom = np.loadtxt(folder / f"H1to{k}p").reshape(3, 3)
                sequences.append((f"{scene}/img{k}", first, load_image(folder / f"img{k}.png"), hom / hom[2, 2]))
        if not photos:
            raise FileNotFoundError(f"no photos under {root}/backgrounds or {root}/pairs")
        bank = ObjectBank.from_folder(root / "cutouts", photos=[img for _, img in photos])
        boxes = {k: np.asarray(v, dtype=np.float64).reshape(-1, 4) for k, v in (ignore or {}).items()}
        return cls(photos, sequences, bank, boxes)


def generate_pairs(sources: DevSources, n: int, seed: int, settings: PairSettings | None = None) -> list[SyntheticPair]:
    """``n`` synthetic pairs, deterministic in ``seed`` (pair ``i`` depends only on ``seed`` and ``i``).

    Exactly ``round(n * clean_fraction)`` targets are clean (which ones is drawn from ``seed``); the others get
    1..``max_objects`` objects. About ``sequence_fraction`` of the pairs are real homography-sequence steps,
    the rest photos re-shot under a random perspective change after resizing to ``long_side``. Pairs of a
    sequence with boxes in ``sources.ignore`` carry them as ignore regions in target pixels.
    """
    s = settings or PairSettings()
    order = np.random.default_rng([seed, 1 << 20]).permutation(n)
    clean = set(order[: round(n * s.clean_fraction)].tolist())
    pairs = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        n_obj = 0 if i in clean else int(rng.integers(1, s.max_objects + 1))
        if sources.sequences and rng.random() < s.sequence_fraction:
            name, ref, tgt, hom = sources.sequences[int(rng.integers(len(sources.sequences)))]
            ignore = sources.ignore.get(name.split("/")[0])
            pair = pair_from_sequence(ref, tgt, hom, sources.bank, rng, s, n_objects=n_obj, ignore=ignore)
            pair.name = f"sequence:{name}"
        else:
            name, photo = sources.photos[int(rng.integers(len(sources.photos)))]
            side = float(np.exp(rng.uniform(np.log(s.long_side[0]), np.log(s.long_side[1]))))
            pair = make_pair(_resize_photo(photo, side), sources.bank, rng, s, n_objects=n_obj)
            pair.name = f"photo:{name}"
        pairs.append(pair)
    return pairs


def _resize_photo(photo: np.ndarray, long_side: float) -> np.ndarray:
    h, w = photo.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
