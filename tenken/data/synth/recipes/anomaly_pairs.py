"""``anomaly-pairs``: change-detection training pairs by copy-paste, no teacher needed.

Per destination photo (an item), with a random generator seeded by the item id (a resumed job draws the same):

1. Objects come from RGBA cut-outs (``cutouts``: a folder of ``*.out.png``, class = file name without a
   trailing ``-N``: ``car-2.out.png`` -> ``car``) and/or instance masks of a COCO-style annotation file
   (``masks``: each annotation's mask cut out of its image, class = its category name).
2. :func:`tenken.synth.pairs.make_pair` makes the pair: pre-paste photo = **reference**; the **target** is the
   photo under a mild re-shoot homography (parallax/misalignment), another day's light (gain, white balance,
   gamma), blur, noise and JPEG, with 0..``max_objects`` objects pasted; the pasted boxes are the labels.
3. The sample shows the side-by-side composite (target left, reference right, as tenken's pass 1 does) with
   tenken's pass-1 prompt listing the pasted classes plus ``dummy_classes`` classes absent from the pair
   (from the anomaly class list), and answers one ``<bbox>`` per pasted object (composite pixels = target
   pixels, since the target is on the left).

Reference, target and composite images are written under ``images/`` of the output folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from tenken.core.errors import InputError
from tenken.core.images import load_image, save_image
from tenken.data.format import BOX_MARK, IMAGE_MARK, FilterDecision
from tenken.data.synth.recipe import Outcome, Recipe, RecipeOptions, SynthContext, SynthItem, register, rng_for
from tenken.tasks.prompts import ANOMALY_PASS1
from tenken.tasks.prompts import fill as fill_task

if TYPE_CHECKING:
    from tenken.synth.pairs import ObjectBank


class AnomalyPairsOptions(RecipeOptions):
    """Options of ``anomaly-pairs``."""

    cutouts: str | None = Field(None, description="folder of RGBA cut-outs (*.out.png; class from the file name)")
    masks: str | None = Field(None, description="COCO-style instances JSON whose masks are cut out and pasted")
    max_masks: int = Field(500, ge=1, description="at most this many COCO masks are cut out")
    max_objects: int = Field(3, ge=1, description="objects pasted per target: 1..max_objects")
    clean_fraction: float = Field(0.2, ge=0.0, le=1.0, description="fraction of pairs with nothing pasted")
    object_size: tuple[float, float] = Field((24.0, 200.0), description="longest side of a pasted object, px")
    corner_jitter: float = Field(0.02, ge=0.0, le=0.2, description="re-shoot corner shift, fraction of diagonal")
    long_side: int | None = Field(1280, ge=64, description="photos are resized to this longest side (None: kept)")
    dummy_classes: int = Field(2, ge=0, description="absent classes added to the prompt's class list")
    gap: int = Field(8, ge=0, description="white gap between the two halves of the composite, px")


def class_of(name: str) -> str:
    """``"car-2"`` -> ``"car"``; ``"traffic_cone"`` -> ``"traffic cone"``."""
    return re.sub(r"[-_ ]?\d+$", "", name).replace("_", " ").strip() or name


@register("anomaly-pairs")
class AnomalyPairsRecipe(Recipe):
    """Copy-paste change pairs with boxes as labels and the pass-1 prompt on the composite."""

    task = "anomaly"
    needs = ()
    Options = AnomalyPairsOptions
    summary = "copy-paste change pairs (reference = pre-paste, target = post-paste + re-shoot + nuisances)"

    _bank: ObjectBank | None = None

    def prepare(self, options: RecipeOptions) -> None:
        """Read the objects to paste (cut-outs and/or COCO masks) once, before any item."""
        from tenken.synth.pairs import ObjectBank

        opts: AnomalyPairsOptions = options  # type: ignore[assignment]
        cutouts: list[tuple[str, np.ndarray]] = []
        if opts.cutouts:
            folder = Path(opts.cutouts).expanduser()
            if not folder.is_dir():
                raise InputError(f"cutouts={opts.cutouts}: not a folder")
            cutouts += ObjectBank.from_folder(folder).cutouts
        if opts.masks:
            cutouts += coco_cutouts(Path(opts.masks).expanduser(), opts.max_masks)
        if not cutouts:
            raise InputError("anomaly-pairs needs objects to paste: set cutouts=FOLDER and/or masks=COCO.json")
        self._bank = ObjectBank(cutouts, [])

    def run(self, item: SynthItem, ctx: SynthContext) -> Outcome:
        """One pair per photo."""
        import cv2

        from tenken.configs import load_anomaly_classes
        from tenken.synth.pairs import PairSettings, make_pair
        from tenken.viz.draw import side_by_side

        opts: AnomalyPairsOptions = ctx.options  # type: ignore[assignment]
        bank = self._bank
        assert bank is not None, "prepare() reads the objects before the items run"
        rng = rng_for(item.id, "anomaly-pairs")
        photo = load_image(item.image)
        if opts.long_side:
            h, w = photo.shape[:2]
            s = opts.long_side / max(h, w)
            photo = cv2.resize(photo, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        settings = PairSettings(
            max_objects=opts.max_objects,
            clean_fraction=opts.clean_fraction,
            object_size=opts.object_size,
            corner_jitter=opts.corner_jitter,
            cutout_fraction=1.0,
        )
        pair = make_pair(photo, bank, rng, settings)
        labels = [class_of(k.split(":", 1)[-1]) for k in pair.kinds]
        folder = ctx.out_dir / "images"
        stem = item.id.replace("/", "__")
        ref_path = save_image(pair.reference, folder / f"{stem}-reference.jpg")
        tgt_path = save_image(pair.target, folder / f"{stem}-target.jpg")
        comp_path = save_image(
            side_by_side(pair.target, pair.reference, gap=opts.gap), folder / f"{stem}-composite.jpg"
        )
        present = list(dict.fromkeys(labels))
        catalogue = [c.name(opts.lang) for c in load_anomaly_classes().classes]
        absent = [c for c in catalogue if c not in present and c.replace("_", " ") not in present]
        dummies = [absent[i] for i in rng.permutation(len(absent))[: opts.dummy_classes]]
        classes = [*present, *dummies]
        classes = [classes[i] for i in rng.permutation(len(classes))]
        sep = "、" if opts.lang == "ja" else ", "
        question = IMAGE_MARK + fill_task(ANOMALY_PASS1, opts.lang, classes=sep.join(classes), fmt="").strip()
        answer = BOX_MARK * len(labels) if labels else "[]"
        out = Outcome()
        out.keep(
            ctx.sample(
                f"anomaly-pairs-{item.id}",
                images=[ctx.image_ref(comp_path)],
                messages=[("user", question), ("assistant", answer)],
                task=self.task,
                boxes=list(zip(pair.boxes.xyxy.tolist(), labels, strict=True)),
                filters=[FilterDecision(name="paste_visible", keep=True, score=float(len(labels)))],
                reference=ctx.image_ref(ref_path),
                target=ctx.image_ref(tgt_path),
                homography=pair.homography.tolist(),
                classes_shown=classes,
                dummy_classes=dummies,
            )
        )
        return out


def coco_cutouts(path: Path, limit: int) -> list[tuple[str, np.ndarray]]:
    """RGBA cut-outs ``(class name, (h, w, 4) uint8)`` of the instance masks of a COCO-style JSON (images
    resolved against the JSON's folder), at most ``limit``, crowd annotations skipped."""
    from pycocotools.coco import COCO

    if not path.is_file():
        raise InputError(f"masks={path}: no such file")
    coco = COCO(str(path))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    out: list[tuple[str, np.ndarray]] = []
    cache: dict[int, np.ndarray] = {}
    for ann in coco.loadAnns(coco.getAnnIds(iscrowd=False)):
        if len(out) >= limit:
            break
        info = coco.loadImgs(ann["image_id"])[0]
        if ann["image_id"] not in cache:
            cache = {ann["image_id"]: load_image(path.parent / info["file_name"])}
        rgb = cache[ann["image_id"]]
        mask = coco.annToMask(ann)
        if mask.shape != rgb.shape[:2] or mask.sum() < 64:
            continue
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        rgba = np.dstack([rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1].astype(np.uint8) * 255])
        out.append((names.get(ann["category_id"], "object"), rgba))
    return out
