"""Proof that tenken's train -> infer -> eval chain is right, on this machine's CPU (issue 13).

For each family (a tiny Qwen2.5-VL built from a config; a tiny LLaVA assembled by ``tenken train assemble``
from a tiny SigLIP and a tiny Qwen3 LM), on synthetic colour-distractor grounding ("where is the red
square?" among squares of other colours, 32x32 images, boxes written in the family's convention; the target
is red in every scene, ``--target-colour any`` draws it per scene so the model must also bind the colour word
to the image, a harder task the tiny models do not learn in the budget: see docs/train.md):

1. ``tenken eval run rec`` of the untrained model on held-out scenes (acc@0.5 ~ 0);
2. ``tenken train sft --recipe full`` on a few thousand scenes (capped in CPU time of the training process,
   all threads: a budget that does not depend on what else the machine runs), then ``tenken eval run rec``
   through ``tenken.load_vlm`` on the held-out scenes (target: acc@0.5 >= 0.9 within 15 CPU minutes);
3. the blind baseline: the same training with every image replaced by noise, evaluated on the real scenes;
4. (stage ``grpo``) ``tenken train grpo`` from the SFT checkpoint on a harder variant (more, smaller distractors),
   mean REC IoU reward on held-out scenes before and after.

Prints a table, writes ``benchmarks/results/train.json`` and PNG curves (validation F1 per step; GRPO reward).

    python benchmarks/train.py --families qwen2.5-vl --stages sft grpo &   # processes can run at once
    python benchmarks/train.py --families llava --stages sft grpo &
    python benchmarks/train.py --families qwen2.5-vl llava --stages blind
    python benchmarks/train.py --report                                  # merge, plot, table
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>", "<image>",
]  # fmt: skip
SCENES = {"langs": ("en",), "size": (8, 14)}
"""Scenes of the SFT stage: squares of 8-14 px on 32x32 (IoU >= 0.5 allows ~2 px of error per edge)."""
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}IMAGE"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tenken(*args: str, log: Path) -> dict:
    """Run ``python -m tenken ... --json`` and return its JSON (stderr appended to ``log``)."""
    cmd = [sys.executable, "-m", "tenken", *args, "--json"]
    with log.open("a") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        res = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    if res.returncode:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(cmd)}; see {log}")
    return json.loads(res.stdout)


def build_tokenizer(corpus: list[str]):
    """A byte-level BPE tokenizer trained on the task's own prompts and answers.

    Digit runs are isolated (every coordinate is one token); everything else merges across spaces, so the
    fixed instruction text of the prompt becomes a few tokens and a sample is ~45 tokens (16 of them image
    tokens) instead of ~100: about half the CPU per step, and a shorter context to find the image in."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\d+"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1500, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def corpus(families: list) -> list[str]:
    """Prompts and answers of every family, to train the tokenizer on."""
    from tenken.tasks.prompts import GROUND, fill
    from tenken.train.synthetic import COLOURS, expression

    rng = np.random.default_rng(0)
    out = []
    for fam in families:
        for lang in ("en", "ja"):
            for c in COLOURS:
                expr = expression(c, lang)
                out.append(fill(GROUND, lang, expression=expr, fmt=fam.box_instruction(lang)) * 3)
                for _ in range(30):
                    x1, y1 = rng.integers(0, 26, 2)
                    s = rng.integers(6, 13)
                    box = np.array([[x1, y1, min(x1 + s, 32), min(y1 + s, 32)]], dtype=float)
                    out.append(fam.format_boxes(box, [expr], (32, 32)))
        grid = fam.box_values(np.array([[k, k, k, k] for k in range(33)], dtype=float), (32, 32))
        out.extend(" ".join(str(row[0]) for row in grid) for _ in range(20))  # every coordinate: one token
    return out


def build_qwen25(out: Path, tokenizer, text_layers: int = 4) -> Path:
    """A tiny Qwen2.5-VL: 6-px patches, merge 2 (factor 12), images resized to 48x48 (so the model's box frame
    differs from the 32-px image's), 4 vision blocks of width 96, 3 text layers of width 128.

    Qwen2.5-VL's vision tower has no absolute position embedding: where an image token sits reaches the text
    model only through M-RoPE, whose height and width sections take the *lowest* rotary frequencies. At the
    usual ``rope_theta`` of 10000 a 4x4 token grid turns the width rotation by ~0.02 rad end to end, so the text
    model cannot tell columns apart and never learns a coordinate (measured: acc@0.5 0.03 after 400 steps).
    ``rope_theta`` 3 turns it by 1-2 rad across the grid (real models see grids of 30-100 tokens, where 10000
    does the same)."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessorPil,
    )

    from tenken.vlm.backends.hf import image_only_processor_class

    template = CHATML.replace("IMAGE", "<|vision_start|><|image_pad|><|vision_end|>")
    tokenizer.chat_template = template
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIALS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": 128, "intermediate_size": 256,
            "num_hidden_layers": text_layers, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "mrope_section": [4, 6, 6], "rope_theta": 3.0},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 4, "hidden_size": 96, "intermediate_size": 192, "num_heads": 4, "out_hidden_size": 128,
            "patch_size": 6, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 48,
            "fullatt_block_indexes": [0, 1, 2, 3],
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    image_processor = Qwen2VLImageProcessorPil(patch_size=6, merge_size=2, min_pixels=48 * 48, max_pixels=48 * 48)
    processor = image_only_processor_class(Qwen2_5_VLProcessor)(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=template
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def build_llava_parts(root: Path, tokenizer, text_layers: int = 4) -> tuple[Path, Path]:
    """A tiny SigLIP vision tower (4 layers, width 96, 8-px patches on 32x32) and a tiny Qwen3 causal LM
    (3 layers, width 128), saved separately: the inputs of ``tenken train assemble``.

    Qwen3 rather than Qwen2: transformers 5 loads any ``qwen2`` checkpoint's tokenizer as ``Qwen2Tokenizer``,
    rebuilt with Qwen2's own pre-tokenizer (one digit per token), whatever ``tokenizer.json`` holds, so the
    task tokenizer of :func:`build_tokenizer` would not survive ``tenken train assemble``."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM, SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    from tenken.train.assemble import CHATML_TEMPLATE

    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    vcfg = SiglipVisionConfig(
        hidden_size=96, intermediate_size=192, num_hidden_layers=4, num_attention_heads=4, image_size=32, patch_size=8
    )
    SiglipVisionModel(vcfg).save_pretrained(root / "siglip")
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(root / "siglip")
    tokenizer.chat_template = CHATML_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIALS}
    lcfg = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=text_layers,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=512,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )  # fmt: skip
    Qwen3ForCausalLM(lcfg).save_pretrained(root / "qwen3-lm")
    tokenizer.save_pretrained(root / "qwen3-lm")
    return root / "siglip", root / "qwen3-lm"


def eval_rec(model: Path, data: Path, out: Path, log: Path, limit: int) -> dict:
    """acc@0.5 etc. from ``tenken eval run rec`` (a fresh run folder)."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    res = tenken(
        "eval", "run", "rec", "--model", str(model), "--data", str(data), "--out", str(out), "--lang", "en",
        "--limit", str(limit), "--max-new-tokens", "48", log=log,
    )  # fmt: skip
    return res.get("scores", res)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="+", default=["qwen2.5-vl", "llava"], choices=["qwen2.5-vl", "llava"])
    ap.add_argument("--n-train", type=int, default=8000)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--cpu-minutes", type=float, default=15.0, help="CPU-time cap of each SFT run (all threads)")
    ap.add_argument("--blind-cpu-minutes", type=float, default=5.0, help="CPU-time cap of each blind run")
    ap.add_argument("--max-steps", type=int, default=1200, help="steps of the cosine schedule")
    ap.add_argument(
        "--target-colour",
        default="red",
        help="colour of every scene's target (distractors: the other colours); 'any': drawn per scene",
    )
    ap.add_argument("--val-every", type=int, default=200, help="validation (48 scenes) every this many steps")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--text-layers", type=int, default=4, help="layers of the tiny text model")
    ap.add_argument("--warmup-steps", type=int, default=50)
    ap.add_argument(
        "--stages",
        nargs="+",
        default=["sft", "blind", "grpo"],
        choices=["sft", "blind", "grpo"],
        help="sft: before + SFT; blind: the noise-image baseline; grpo: GRPO from the SFT checkpoint",
    )
    ap.add_argument("--grpo-minutes", type=float, default=4.0, help="CPU-time cap of each GRPO run")
    ap.add_argument("--grpo-lr", type=float, default=5e-5)
    ap.add_argument("--work", type=Path, default=Path("/tmp/tenken-bench-train"))
    ap.add_argument("--report", action="store_true", help="only merge results/train-*.json, plot and print")
    args = ap.parse_args()
    if args.report:
        report(args.work)
        return

    sys.path.insert(0, str(REPO))
    from tenken.train.synthetic import write_colour_grounding
    from tenken.vlm.families import get_family

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    scenes = {**SCENES, "target": None if args.target_colour == "any" else args.target_colour}
    fams = [get_family("qwen2.5-vl", factor=12, min_pixels=48 * 48, max_pixels=48 * 48), get_family("llava")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.families:
        root = work / name
        root.mkdir(exist_ok=True)
        log = root / f"log-{'-'.join(args.stages)}.txt"
        d = root / "data"  # per family: several families may run at once (separate processes)
        data = {
            # training scenes have 0-3 distractors (a quarter with none: where the object is, learnt before
            # which one); validation and test scenes have 1-3
            "train": write_colour_grounding(d / "train", args.n_train, seed=0, distractors=(0, 3), **scenes),
            "blind": write_colour_grounding(
                d / "blind", args.n_train, seed=0, distractors=(0, 3), blind=True, **scenes
            ),
            "val": write_colour_grounding(d / "val", 48, seed=1, **scenes),
            "test": write_colour_grounding(d / "test", args.n_test, seed=2, **scenes),
        }
        out_json = RESULTS / f"train-{name}-{'-'.join(args.stages)}.json"
        row = {"settings": {k: str(v) for k, v in vars(args).items()}}
        kinds = [k for k in ("sft", "blind") if k in args.stages]
        if kinds:
            tok = build_tokenizer(corpus(fams))
            # a blind-only run builds its own copy of the (deterministic) base: runs may go at once
            parts = root / ("parts" if "sft" in kinds else "parts-blind")
            base = root / ("base" if "sft" in kinds else "base-blind")
            if name == "qwen2.5-vl":
                build_qwen25(base, tok, args.text_layers)
            else:
                vision, lm = build_llava_parts(parts, tok, args.text_layers)
                tenken("train", "assemble", "--vision", str(vision), "--llm", str(lm), "--out", str(base), log=log)
        if "sft" in kinds:  # untrained answers are noise of max length: 40 samples show acc ~ 0 in little time
            row["before"] = eval_rec(base, data["test"][1]["en"], root / "eval-before", log, min(40, args.n_test))
        budgets = {"sft": args.cpu_minutes, "blind": args.blind_cpu_minutes}
        for kind, minutes in ((k, budgets[k]) for k in kinds):
            t0 = time.perf_counter()
            summary = tenken(
                "train", "sft", "--recipe", "full", "--data", str(data[kind if kind == "blind" else "train"][0]),
                "--val", str(data["val"][0]), "--model", str(base), "--out", str(root / kind),
                "--set", f"max_cpu_minutes={minutes}", "--set", f"training.learning_rate={args.lr}",
                "--set", f"training.max_steps={args.max_steps}", "--set", f"training.warmup_steps={args.warmup_steps}",
                "--set", f"training.per_device_train_batch_size={args.batch_size}",
                "--set", f"early_stopping.every_steps={args.val_every}",
                "--set", "early_stopping.samples=48", "--set", "early_stopping.patience=1000",
                "--set", "early_stopping.max_new_tokens=48", log=log,
            )  # fmt: skip
            row[kind] = {
                "train_seconds": time.perf_counter() - t0,
                "train_cpu_seconds": summary["cpu_seconds"],
                "steps": summary["steps"],
                "best_val_f1": summary["best"],
                "validation": summary["validation"],
                "eval": eval_rec(root / kind, data["test"][1]["en"], root / f"eval-{kind}", log, args.n_test),
            }
            print(name, kind, json.dumps(row[kind]["eval"].get("acc@0.5")), flush=True)
        out_json.write_text(json.dumps(row, indent=2, default=str))
        if "grpo" in args.stages:
            row["grpo"] = grpo(root, hard_data(d, scenes["target"]), args, log)
            out_json.write_text(json.dumps(row, indent=2, default=str))
    report(work)


def hard_data(d: Path, target: str | None) -> dict:
    """The harder variant for GRPO: 3-5 distractors, 4-9 px squares (the SFT scenes' are 8-14 px)."""
    from tenken.train.synthetic import write_colour_grounding

    kw = {"langs": ("en",), "distractors": (3, 5), "size": (4, 9), "target": target}
    return {
        "train": write_colour_grounding(d / "hard-train", 1024, seed=3, **kw),
        "val": write_colour_grounding(d / "hard-val", 48, seed=4, **kw),
    }


def report(work: Path | None = None) -> None:
    """Merge ``results/train-*.json`` into ``results/train.json``, plot, print the table. Runs still going (or
    stopped) in ``work`` contribute their validation lines so far as ``{kind}: {"partial": true, ...}``."""
    results: dict = {"families": {}}
    for path in sorted(RESULTS.glob("train-*.json")):  # train-{family}-{stages}.json
        name = next(f for f in ("qwen2.5-vl", "llava") if path.stem.startswith(f"train-{f}-"))
        results["families"].setdefault(name, {}).update(json.loads(path.read_text()))
    for val in sorted(work.glob("*/*/validation.jsonl")) if work else []:
        name, kind = val.parent.parent.name, val.parent.name
        row = results["families"].setdefault(name, {})
        if kind in ("sft", "blind") and kind not in row:
            hist = [json.loads(line) for line in val.read_text().splitlines() if line.strip()]
            row[kind] = {"partial": True, "validation": hist, "steps": hist[-1]["step"] if hist else 0}
    (RESULTS / "train.json").write_text(json.dumps(results, indent=2, default=str))
    plot(results)
    table(results)


def grpo(root: Path, hard: dict, args: argparse.Namespace, log: Path) -> dict:
    """``tenken train grpo`` from the SFT checkpoint on the harder variant; greedy mean REC IoU on held-out
    hard scenes before and during training (``validation`` of the summary)."""
    summary = tenken(
        "train", "grpo", "--recipe", "grpo-full", "--data", str(hard["train"][0]), "--val", str(hard["val"][0]),
        "--model", str(root / "sft"), "--out", str(root / "grpo"), "--set", f"max_cpu_minutes={args.grpo_minutes}",
        "--set", f"training.learning_rate={args.grpo_lr}", log=log,
    )  # fmt: skip
    before = summary["validation_before"]["rewards"]["rec_iou"]
    hist = summary["validation"]
    print(root.name, "grpo rec_iou", before, "->", [round(h["rewards"]["rec_iou"], 3) for h in hist], flush=True)
    return {
        "steps": summary["steps"],
        "seconds": summary["seconds"],
        "val_rec_iou_before": before,
        "val_rec_iou_after": hist[-1]["rewards"]["rec_iou"] if hist else None,
        "val_rec_iou_best": max((h["rewards"]["rec_iou"] for h in hist), default=None),
        "validation": [{"step": 0, "rec_iou": before}]
        + [{"step": h["step"], "rec_iou": h["rewards"]["rec_iou"]} for h in hist],
        "train_rewards": summary["train_rewards"],
    }


def plot(results: dict) -> None:
    """``benchmarks/results/train_sft.png``: validation F1 per step for each family (real and blind)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, row in results["families"].items():
        for kind, style in (("sft", "-"), ("blind", ":")):
            hist = row.get(kind, {}).get("validation", [])
            ax.plot([h["step"] for h in hist], [h["f1_bbox"] for h in hist], style, label=f"{name} {kind}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("validation F1@0.5 (bbox)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "train_sft.png", dpi=100)
    runs = {n: r["grpo"] for n, r in results["families"].items() if r.get("grpo")}
    if runs:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, g in runs.items():
            ax.plot([h["step"] for h in g["validation"]], [h["rec_iou"] for h in g["validation"]], "-o",
                    label=f"{name}: held-out mean IoU (greedy)")  # fmt: skip
            tr = [h for h in g["train_rewards"] if "rewards/rec_iou/mean" in h]
            ax.plot([h["step"] for h in tr], [h["rewards/rec_iou/mean"] for h in tr], ":",
                    label=f"{name}: training mean IoU (sampled)")  # fmt: skip
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("REC IoU reward")
        ax.set_ylim(0, 1)
        ax.legend()
        fig.tight_layout()
        fig.savefig(RESULTS / "train_grpo.png", dpi=100)


def table(results: dict) -> None:
    print(f"{'family':<12} {'before':>7} {'sft':>7} {'blind':>7} {'sft cpu s':>9} {'wall s':>7} {'steps':>6} "
          f"{'last val F1':>11} {'grpo IoU':>16}")  # fmt: skip
    for name, row in results["families"].items():
        g = row.get("grpo") or {}
        giou = f"{g['val_rec_iou_before']:.3f}->{g['val_rec_iou_after']:.3f}" if g.get("validation") else "-"

        def acc(kind: str, row: dict = row) -> float:
            r = row.get(kind, {})
            r = r.get("eval", r)
            return float(r.get("acc@0.5", float("nan")))

        sft = row.get("sft", {})
        last = sft["validation"][-1]["f1_bbox"] if sft.get("validation") else float("nan")
        print(
            f"{name:<12} {acc('before'):>7.3f} {acc('sft'):>7.3f} {acc('blind'):>7.3f} "
            f"{sft.get('train_cpu_seconds', float('nan')):>9.0f} {sft.get('train_seconds', float('nan')):>7.0f} "
            f"{sft.get('steps', 0):>6} {last:>11.3f} {giou:>16}"
        )


if __name__ == "__main__":
    main()
