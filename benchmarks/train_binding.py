"""Why the tiny models do not learn the colour-binding variant of the training proof (issue 13; docs/train.md).

A plain PyTorch loop (no trainer, one thread) over the same tiny LLaVA that ``benchmarks/train.py`` assembles, on
the same scenes, so one variant takes a few CPU-minutes. Every ``--eval-every`` steps: greedy acc@0.5 on 120
held-out scenes (1-3 distractors), the share of answers that box *some* square and, of those, the share that
box the asked one. Prints the curve; ``--out`` writes it as JSON.

    OMP_NUM_THREADS=1 python benchmarks/train_binding.py                         # colour drawn per scene
    OMP_NUM_THREADS=1 python benchmarks/train_binding.py --target red            # the proof's task: 1.0 by step 500
    OMP_NUM_THREADS=1 python benchmarks/train_binding.py --order text-first      # prompt, then the image
    OMP_NUM_THREADS=1 python benchmarks/train_binding.py --colours red green --distractors 1 1
    OMP_NUM_THREADS=1 python benchmarks/train_binding.py --embedding-scale 10 --vision-lr 1e-4
    OMP_NUM_THREADS=1 python benchmarks/train_binding.py --negatives 0.3         # absent colours asked, answer []
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tenken.tasks.prompts import GROUND, fill  # noqa: E402
from tenken.train import synthetic  # noqa: E402
from tenken.vlm.families import get_family  # noqa: E402
from tenken.vlm.parse import parse_detections  # noqa: E402

FAMILY = get_family("llava")


def build_base(root: Path) -> Path:
    """The tiny LLaVA of ``benchmarks/train.py`` (3 text layers), assembled by ``tenken train assemble``."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from train import build_llava_parts, build_tokenizer, corpus

    fams = [get_family("qwen2.5-vl", factor=12, min_pixels=48 * 48, max_pixels=48 * 48), FAMILY]
    vision, lm = build_llava_parts(root / "parts", build_tokenizer(corpus(fams)), text_layers=3)
    cmd = [sys.executable, "-m", "tenken", "train", "assemble", "--vision", str(vision), "--llm", str(lm)]
    subprocess.run([*cmd, "--out", str(root / "base")], check=True, cwd=REPO, capture_output=True)
    return root / "base"


def scenes(args: argparse.Namespace, n: int, seed: int, distractors: tuple[int, int], negatives: float = 0.0):
    """``(scene, colour asked)`` pairs; with ``negatives``, that share asks a colour absent from the scene
    (the scene's ``box`` is then None: the answer is ``[]``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = synthetic.make_scene(rng, 32, distractors, tuple(args.size), args.target)
        if negatives and rng.random() < negatives:
            absent = [c for c, (rgb, _) in synthetic.COLOURS.items() if not (s.image == rgb).all(-1).any()]
            if absent:
                c = absent[int(rng.integers(len(absent)))]
                out.append((synthetic.ColourScene(s.image, None, c), c))  # type: ignore[arg-type]
                continue
        out.append((s, s.colour))
    return out


def prompt(colour: str, order: str) -> str:
    q = fill(GROUND, "en", expression=synthetic.expression(colour, "en"), fmt=FAMILY.box_instruction("en"))
    user = "<image>\n" + q if order == "image-first" else q + "\n<image>\n"
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def encode(proc, rows, order: str) -> tuple[torch.Tensor, ...]:
    """Padded ``input_ids``, ``labels`` (answer tokens only), ``attention_mask``, ``pixel_values``."""
    ids, labels, pix = [], [], []
    for s, colour in rows:
        boxes = np.array([s.box]) if s.box is not None else np.zeros((0, 4))
        names = [synthetic.expression(colour, "en")] * len(boxes)
        p = prompt(colour, order)
        image = [Image.fromarray(s.image)]
        enc = proc(
            text=p + FAMILY.format_boxes(boxes, names, (32, 32)) + "<|im_end|>\n", images=image, return_tensors="pt"
        )
        x = enc["input_ids"][0]
        y = x.clone()
        y[: len(proc(text=p, images=image)["input_ids"][0])] = -100
        ids.append(x), labels.append(y), pix.append(enc["pixel_values"][0])
    n, width = len(ids), max(len(x) for x in ids)
    x_out = torch.full((n, width), proc.tokenizer.pad_token_id)
    y_out, mask = torch.full((n, width), -100), torch.zeros((n, width), dtype=torch.long)
    for i, (x, y) in enumerate(zip(ids, labels, strict=True)):
        x_out[i, : len(x)], y_out[i, : len(y)], mask[i, : len(x)] = x, y, 1
    return x_out, y_out, mask, torch.stack(pix)


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


def evaluate(net, proc, test, order: str) -> dict:
    """acc@0.5, the share of answers boxing some square, and of those the share boxing the asked one."""
    net.eval()
    proc.tokenizer.padding_side = "left"
    images = [Image.fromarray(s.image) for s, _ in test]
    enc = proc(text=[prompt(c, order) for _, c in test], images=images, return_tensors="pt", padding=True)
    with torch.no_grad():
        gen = net.generate(**enc, max_new_tokens=16, do_sample=False)
    texts = proc.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    hits = some = 0
    for (s, _), text in zip(test, texts, strict=True):
        det = parse_detections(text, FAMILY, (32, 32))
        if not len(det):
            continue
        box = det.xyxy[0]
        hits += iou(box, s.box) >= 0.5
        for rgb, _ in synthetic.COLOURS.values():
            ys, xs = np.nonzero((s.image == rgb).all(-1))
            if len(xs) and iou(box, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)) >= 0.5:
                some += 1
                break
    net.train()
    proc.tokenizer.padding_side = "right"
    return {"acc@0.5": hits / len(test), "picked": some / len(test), "right": hits / some if some else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="an assembled tiny LLaVA (default: build one in a temp folder)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--vision-lr", type=float, help="learning rate of the vision tower and projector")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--order", choices=["image-first", "text-first"], default="image-first")
    ap.add_argument("--target", help="fix the target colour (the proof's task); default: drawn per scene")
    ap.add_argument("--colours", nargs="+", help="use only these colours")
    ap.add_argument("--distractors", type=int, nargs=2, default=[0, 3], help="training distractors, min max")
    ap.add_argument("--size", type=int, nargs=2, default=[8, 14], help="square side, px, min max")
    ap.add_argument("--embedding-scale", type=float, default=1.0, help="multiply the text embeddings first")
    ap.add_argument("--negatives", type=float, default=0.0, help="share of training scenes asking an absent colour")
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--out", type=Path, help="JSON of the curve")
    args = ap.parse_args()
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.colours:
        for c in [c for c in synthetic.COLOURS if c not in args.colours]:
            del synthetic.COLOURS[c]
    base = args.base or build_base(Path(tempfile.mkdtemp(prefix="tenken-binding-")))
    proc = AutoProcessor.from_pretrained(base)
    net = LlavaForConditionalGeneration.from_pretrained(base)
    with torch.no_grad():
        net.get_input_embeddings().weight.mul_(args.embedding_scale)
    train = encode(proc, scenes(args, args.n_train, 0, tuple(args.distractors), args.negatives), args.order)
    test = scenes(args, 120, 2, (1, 3))
    vis = [p for n, p in net.named_parameters() if "vision_tower" in n or "multi_modal_projector" in n]
    rest = [p for n, p in net.named_parameters() if not ("vision_tower" in n or "multi_modal_projector" in n)]
    opt = torch.optim.AdamW([{"params": vis, "lr": args.vision_lr or args.lr}, {"params": rest}], lr=args.lr)
    warm = 50  # then cosine, as the benchmark's recipe
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
    )
    g, t0, curve = torch.Generator().manual_seed(0), time.process_time(), []
    net.train()
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(train[0]), (args.batch_size,), generator=g)
        ids, labels, mask, pix = (t[idx] for t in train)
        loss = net(input_ids=ids, attention_mask=mask, pixel_values=pix, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad()
        if step % args.eval_every == 0 or step == args.steps:
            row = {"step": step, "loss": loss.item(), "cpu_s": time.process_time() - t0,
                   **evaluate(net, proc, test, args.order)}  # fmt: skip
            curve.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "curve": curve}))


if __name__ == "__main__":
    main()
