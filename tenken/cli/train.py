"""``tenken train``: assemble a LLaVA-style VLM, fine-tune it (SFT stages, GRPO), merge LoRA, make smoke data."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.cli.vlm import FamilyOpt

train_app = typer.Typer(
    name="train",
    help=(
        "Train VLMs on tenken training JSONL: assemble (vision tower + projector + LLM), SFT stages from YAML "
        "recipes (projector, LoRA, full), GRPO with verifiable rewards, LoRA merge.\n\n"
        "Example: tenken train sft --recipe lora-sft --data train.jsonl --val val.jsonl "
        "--model Qwen/Qwen2.5-VL-3B-Instruct --out runs/sft1"
    ),
    no_args_is_help=True,
)

RecipeOpt = Annotated[
    str, typer.Option("--recipe", "-r", help="Shipped recipe name (see `tenken train recipes`) or a YAML file.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe key, e.g. --set training.learning_rate=5e-4 (repeatable)."),
]
DataOpt = Annotated[Path, typer.Option("--data", "-d", help="Training JSONL (tenken's training-data format).")]
ValOpt = Annotated[Path | None, typer.Option("--val", help="Validation JSONL: scored for early stopping.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Checkpoint directory or hub id to start from.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (checkpoint, logs, summary.json).")]


def _printer(as_json: bool) -> Any:
    """A progress callback printing one line per log record (quiet with --json)."""

    def show(rec: dict[str, Any]) -> None:
        if as_json:
            return
        if "validation" in rec:
            v = rec["validation"]
            err_console.print(f"step {rec['step']}: validation f1_bbox={v['f1_bbox']:.3f} (n={v['n']})")
        elif "loss" in rec:
            err_console.print(f"step {rec['step']}/{rec.get('max_steps', '?')}: loss={rec['loss']:.4f}")

    return show


@train_app.command("sft")
def sft_cmd(
    recipe: RecipeOpt,
    data: DataOpt,
    model: ModelOpt,
    out: OutOpt,
    val: ValOpt = None,
    family: FamilyOpt = None,
    box_format: Annotated[
        str | None, typer.Option("--box-format", help="LLaVA-style models: the box frame to train (default rel1000).")
    ] = None,
    set_: SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in OUT.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use only N training samples.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Shuffling and trainer seed.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Supervised fine-tuning with a recipe; the result in OUT loads with `tenken.load_vlm(OUT)`.

    Examples:

      tenken train sft -r stage1.0-projector -d caption.jsonl -m runs/assembled -o runs/s10

      tenken train sft -r full -d data/train.jsonl --val data/val.jsonl -m tiny -o runs/tiny --set max_minutes=10
    """
    from tenken.train.recipe import load_recipe
    from tenken.train.sft import run_sft

    rec = load_recipe(recipe, set_ or [])
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its logs: keep stdout for --json
        summary = run_sft(
            rec, data, model, out, val=val, family=family, resume=resume, limit=limit, seed=seed,
            progress=_printer(as_json), **({"box_format": box_format} if box_format else {}),
        )  # fmt: skip

    if summary["rank"]:
        return  # distributed run (accelerate launch): only the main process reports

    def human() -> None:
        console.print(
            f"[green]trained[/] {summary['steps']} steps in {summary['seconds']:.0f} s "
            f"(loss {summary['train_loss']:.4f}, best {summary['best']}) -> {out}"
        )

    emit(summary, as_json, human)


@train_app.command("recipes")
def recipes_cmd(as_json: JsonFlag = False) -> None:
    """List the shipped recipes."""
    from tenken.train.recipe import load_recipe, recipe_names

    rows = [{"name": n, "stage": (r := load_recipe(n)).stage, "description": r.description} for n in recipe_names()]

    def human() -> None:
        for row in rows:
            console.print(f"[bold]{row['name']}[/] ({row['stage']}): {row['description']}")

    emit(rows, as_json, human)


@train_app.command("colour-data")
def colour_data_cmd(
    out: OutOpt,
    n: Annotated[int, typer.Option("--n", min=1, help="Number of scenes.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    side: Annotated[int, typer.Option("--side", min=16, help="Image side in pixels.")] = 32,
    blind: Annotated[bool, typer.Option("--blind", help="Replace images by noise (the blind baseline).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Synthetic colour-distractor grounding data (smoke test of train -> infer -> eval).

    Example: tenken train colour-data -o data/colour --n 4000
    """
    from tenken.train.synthetic import write_colour_grounding

    train, rec = write_colour_grounding(out, n, seed=seed, side=side, blind=blind)
    result = {"train": str(train), "rec": {k: str(v) for k, v in rec.items()}, "n": n}
    emit(result, as_json, lambda: console.print(f"wrote {n} scenes: {train} and {', '.join(map(str, rec.values()))}"))


@train_app.command("assemble")
def assemble_cmd(
    vision: Annotated[str, typer.Option("--vision", help="SigLIP / SigLIP 2 (fixed-resolution) checkpoint.")],
    llm: Annotated[str, typer.Option("--llm", help="Causal LLM checkpoint (with its tokenizer).")],
    out: OutOpt,
    chat_template: Annotated[
        Path | None, typer.Option("--chat-template", help="Jinja chat template file placing {'type': 'image'} items.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the projector's initialisation.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Vision tower + new 2-layer MLP projector + LLM -> a LLaVA checkpoint loadable by tenken.load_vlm / vLLM.

    Example: tenken train assemble --vision google/siglip2-so400m-patch14-384 --llm Qwen/Qwen2.5-0.5B-Instruct
    -o runs/assembled   (then: tenken train sft -r stage1.0-projector -m runs/assembled ...)
    """
    from tenken.train.assemble import assemble

    template = chat_template.read_text(encoding="utf-8") if chat_template else None
    info = assemble(vision, llm, out, chat_template=template, seed=seed)
    emit(info, as_json, lambda: console.print(f"[green]assembled[/] {info['parameters']} -> {out}"))


def _reward_weights(items: list[str] | None) -> dict[str, float] | None:
    """``["iou_f1=2", "format"]`` -> ``{"iou_f1": 2.0, "format": 1.0}``."""
    from tenken.core.errors import InputError

    if not items:
        return None
    out = {}
    for item in items:
        name, _, weight = item.partition("=")
        try:
            out[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise InputError(f"--reward {item!r}: expected NAME or NAME=WEIGHT, e.g. iou_f1=2") from None
    return out


@train_app.command("grpo")
def grpo_cmd(
    recipe: RecipeOpt,
    data: DataOpt,
    model: ModelOpt,
    out: OutOpt,
    val: ValOpt = None,
    reward: Annotated[
        list[str] | None,
        typer.Option("--reward", help="NAME[=WEIGHT], repeatable (default: the recipe's). See `tenken train rewards`."),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="JSON Schema for the 'schema' reward (e.g. the report schema).")
    ] = None,
    family: FamilyOpt = None,
    set_: SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in OUT.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use only N training prompts.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Shuffling and trainer seed.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """GRPO with verifiable rewards (TRL GRPOTrainer) from an SFT checkpoint; the result in OUT loads with
    tenken.load_vlm.

    Examples:

      tenken train grpo -r grpo-lora -d train.jsonl --val val.jsonl -m runs/sft1 -o runs/grpo1

      tenken train grpo -r grpo-lora -d reports.jsonl -m runs/sft1 -o runs/grpo2 --reward schema=1 --reward iou_f1=2
      --schema tenken/schemas/report.schema.json
    """
    from tenken.train.grpo import run_grpo
    from tenken.train.recipe import load_recipe

    rec = load_recipe(recipe, set_ or [])
    options = {k: dict(v) for k, v in rec.reward_options.items()}
    if schema is not None:
        options.setdefault("schema", {})["schema"] = str(schema)
    with contextlib.redirect_stdout(sys.stderr):
        summary = run_grpo(
            rec, data, model, out, val=val, rewards=_reward_weights(reward), reward_options=options,
            family=family, resume=resume, limit=limit, seed=seed, progress=_printer(as_json),
        )  # fmt: skip
    if not summary["rank"]:  # distributed run (accelerate launch): only the main process reports
        emit(summary, as_json, lambda: console.print(f"[green]GRPO[/] {summary['steps']} steps -> {out}"))


@train_app.command("rewards")
def rewards_cmd(as_json: JsonFlag = False) -> None:
    """List the GRPO rewards."""
    from tenken.train.rewards import REWARDS

    rows = [
        {"name": n, "doc": " ".join((REWARDS.get(n).__doc__ or "").split("\n\n")[0].split())} for n in REWARDS.names()
    ]
    emit(rows, as_json, lambda: [console.print(f"[bold]{r['name']}[/]: {r['doc']}") for r in rows])


@train_app.command("merge")
def merge_cmd(
    base: Annotated[str, typer.Option("--base", help="The base checkpoint the adapter was trained on.")],
    adapter: Annotated[Path, typer.Option("--adapter", help="LoRA adapter folder (adapter_config.json).")],
    out: OutOpt,
    as_json: JsonFlag = False,
) -> None:
    """Merge a LoRA adapter into its base: a plain checkpoint for tenken.load_vlm, `tenken serve` and vLLM.

    Example: tenken train merge --base Qwen/Qwen2.5-VL-3B-Instruct --adapter runs/sft1/adapter -o runs/merged
    """
    from tenken.train.stages import merge_adapter

    path = merge_adapter(base, adapter, out)
    emit({"out": str(path)}, as_json, lambda: console.print(f"[green]merged[/] -> {path}"))


@train_app.command("budget")
def budget_cmd(
    images: Annotated[list[str], typer.Argument(help="Image files or sizes WIDTHxHEIGHT (e.g. 7680x2160).")],
    tile_size: Annotated[int, typer.Option("--tile-size", min=14, help="Tile side in pixels.")] = 448,
    max_tiles: Annotated[int, typer.Option("--max-tiles", min=1, help="Most tiles per image.")] = 12,
    tokens_per_tile: Annotated[int, typer.Option("--tokens-per-tile", min=1, help="Visual tokens per tile.")] = 256,
    no_thumbnail: Annotated[bool, typer.Option("--no-thumbnail", help="No whole-image thumbnail tile.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Dynamic-tiling token budget per image (InternVL / Eagle 2 grid): tiles, tokens and the scale kept.

    Example (a side-by-side pair vs one frame): tenken train budget 7680x2160 3840x2160 --tile-size 384
    --tokens-per-tile 729
    """
    import re

    from tenken.core.errors import InputError
    from tenken.core.images import image_size, load_image
    from tenken.vlm.tiling import budget_report

    rows = []
    for item in images:
        m = re.fullmatch(r"(\d+)x(\d+)", item)
        if m:
            size = (int(m.group(1)), int(m.group(2)))
        elif Path(item).is_file():
            size = image_size(load_image(item))
        else:
            raise InputError(f"{item}: neither an image file nor a size WIDTHxHEIGHT")
        b = budget_report(size, tile_size, max_tiles, tokens_per_tile, not no_thumbnail)
        rows.append({"image": item, **b.to_dict()})

    def human() -> None:
        for r in rows:
            console.print(
                f"{r['image']}: grid {r['grid'][0]}x{r['grid'][1]}, {r['n_tiles']} tiles, {r['tokens']} tokens, "
                f"scale {r['scale']:.2f}, {r['pixels_per_token']:.0f} px per token"
            )

    emit(rows, as_json, human)
