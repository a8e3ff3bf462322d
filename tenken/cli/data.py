"""``tenken data``: build and audit training data (synthetic-data recipes, converters, statistics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.core.errors import InputError

data_app = typer.Typer(
    name="data",
    help=(
        "Training data: generate it with teacher models (synth recipes), convert it, and audit it.\n\n"
        "Example: tenken data synth count photos/ --vlm openai:Qwen/Qwen3-VL-235B-A22B-Instruct@http://gpu:8000/v1 "
        "--family qwen3-vl --segmenter facebook/sam3 --out data/count && tenken data stats data/count"
    ),
    no_args_is_help=True,
)


# -- tenken data synth / recipes / convert (issue 11: the data engine) --------------------------------------

_SYNTH_HELP = """Generate training data with a recipe and the teacher models you plug in.

Runs over a folder or manifest of images (translate: over a training JSONL). Writes OUT/samples.jsonl (kept,
tenken's training format), OUT/rejected.jsonl (every dropped sample with the filter and reason),
OUT/items.jsonl (the resumable journal) and OUT/run.json.
Recipes and their options: `tenken data recipes`.

Examples:

  tenken data synth count photos/ --out d/count --vlm openai:Qwen/Qwen3-VL-235B-A22B-Instruct@http://gpu:8000/v1
  --family qwen3-vl --segmenter ./sam3

  tenken data synth tool-rec photos/ --out d/tools --vlm ./Qwen2.5-VL-7B-Instruct --set iou_threshold=0.6

  tenken data synth translate d/count/samples.jsonl --out d/count-ja --llm openai:Qwen/Qwen3-32B@http://gpu:8001/v1
  --llm2 openai:gpt-oss-120b@http://gpu:8002/v1 --embedder ./paraphrase-multilingual-MiniLM-L12-v2

  tenken data synth anomaly-pairs photos/ --out d/pairs --set cutouts=cutouts/

  tenken data synth count photos/ --out d/count ... --resume      (after a kill: only what is missing)
"""


def parse_sets(values: list[str] | None) -> dict[str, Any]:
    """``["k=v", ...]`` -> ``{k: v}``, each value read as JSON when it is JSON (numbers, true/false, lists),
    else as text."""
    out: dict[str, Any] = {}
    for raw in values or []:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {raw!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _progress(json_out: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, transient=json_out)  # fmt: skip


@data_app.command("synth", help=_SYNTH_HELP)
def synth_cmd(
    recipe: Annotated[str, typer.Argument(help="Recipe name (tenken data recipes).")],
    source: Annotated[Path, typer.Argument(help="Image folder, manifest (.txt/.jsonl), or training JSONL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    vlm: Annotated[str | None, typer.Option(help="Teacher VLM: checkpoint, hub id, or openai:MODEL@URL.")] = None,
    family: Annotated[str | None, typer.Option(help="The VLM's family (needed over a server).")] = None,
    llm: Annotated[str | None, typer.Option(help="Text LLM: openai:MODEL@URL or a local checkpoint.")] = None,
    llm2: Annotated[str | None, typer.Option(help="Second text LLM (translate's retranslation).")] = None,
    segmenter: Annotated[
        str | None, typer.Option(help="SAM 3 checkpoint or hub id, or vlm:SPEC (a grounding VLM).")
    ] = None,
    segmenter_family: Annotated[str | None, typer.Option(help="Family of a vlm:SPEC segmenter.")] = None,
    segmenter_threshold: Annotated[float, typer.Option(help="SAM 3 instance score threshold.")] = 0.5,
    embedder: Annotated[str | None, typer.Option(help="sentence-transformers checkpoint or hub id.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Recipe option KEY=VALUE (repeatable).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Keep OUT's journal; do only what is missing.")] = False,
    shard: Annotated[str | None, typer.Option(help="I/N: only items I, I+N, ... (files get a .I-of-N tag).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Items in flight at once (for teachers on servers).")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request to a teacher server.")] = 120.0,
    retries: Annotated[int, typer.Option(min=0, help="Retries per request to a teacher server.")] = 2,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Cap on each teacher answer's tokens.")] = 1024,
    llm_temperature: Annotated[
        float, typer.Option(min=0.0, help="Sampling temperature of --llm/--llm2 (best of N needs > 0).")
    ] = 0.7,
    json_out: JsonFlag = False,
) -> None:
    from tenken.core.runs import parse_shard
    from tenken.data.synth.job import run_synth
    from tenken.data.synth.recipe import RECIPES
    from tenken.data.synth.teachers import Embedder, Teachers, load_llm, load_segmenter, load_teacher_vlm

    cls = RECIPES.get(recipe)
    options = cls.parse_options(parse_sets(set_))  # before any model loads: a typo fails at once
    shard_t = parse_shard(shard)
    given = {"vlm": vlm, "llm": llm, "llm2": llm2, "segmenter": segmenter, "embedder": embedder}
    missing = [r for r in cls.needs if not given[r]]
    if missing:  # checked before any model loads
        raise InputError(f"recipe {recipe!r} needs the teacher(s) {', '.join(missing)}: give --{' --'.join(missing)}")
    server = {"timeout": timeout, "max_retries": retries, "max_new_tokens": max_new_tokens}
    teachers = Teachers(
        vlm=load_teacher_vlm(vlm, family=family, **server) if vlm else None,
        llm=load_llm(llm, temperature=llm_temperature, **server) if llm else None,
        llm2=load_llm(llm2, temperature=llm_temperature, **server) if llm2 else None,
        segmenter=load_segmenter(segmenter, family=segmenter_family, threshold=segmenter_threshold)
        if segmenter
        else None,
        embedder=Embedder(embedder) if embedder else None,
    )
    with _progress(json_out) as bar:
        task = bar.add_task(f"{recipe}", total=None)
        summary = run_synth(
            recipe, source, out, teachers, options.model_dump(), resume=resume, shard=shard_t, workers=workers,
            limit=limit, on_start=lambda n: bar.update(task, total=n),
            progress=lambda ev: bar.update(task, completed=ev.done + ev.failed),
        )  # fmt: skip
    result = summary.to_dict()

    def human() -> None:
        it = result["items"]
        console.print(
            f"{recipe}: {it['done']} item(s) done, {it['skipped']} already done, {it['failed']} failed; "
            f"{result['kept']} sample(s) kept, {result['dropped']} rejected"
        )
        for name, n in sorted(result["rejected_by"].items(), key=lambda kv: -kv[1]):
            console.print(f"  rejected by {escape(name)}: {n}")
        for rid, err in list(result["failed_items"].items())[:10]:
            err_console.print(f"[yellow]failed[/] {escape(rid)}: {escape(err)}", soft_wrap=True)
        console.print(f"samples: {escape(result['samples'])}\nrejected: {escape(result['rejected'])}")
        if it["failed"]:
            console.print("rerun with --resume to retry the failed items")

    emit(result, json_out, human)


@data_app.command("recipes")
def recipes_cmd(json_out: JsonFlag = False) -> None:
    """List the data recipes: what each makes, the teachers it needs, its options and prompt versions.

    Example: tenken data recipes --json | jq '.count.options'
    """
    from tenken.data.synth.recipe import RECIPES

    info: dict[str, Any] = {}
    for name, cls in RECIPES.items():
        info[name] = {
            "summary": cls.summary,
            "task": cls.task,
            "needs": list(cls.needs),
            "uses": list(cls.uses),
            "prompts": [p.version for p in cls.prompts],
            "options": {
                k: {"default": f.get_default(call_default_factory=True), "description": f.description}
                for k, f in cls.Options.model_fields.items()
            },
        }

    def human() -> None:
        for name, r in info.items():
            needs = ", ".join(r["needs"]) or "none"
            console.print(f"[bold]{name}[/] — {escape(r['summary'])} (teachers: {needs})")
            table = Table("option", "default", "meaning", box=None, pad_edge=False)
            for k, o in r["options"].items():
                table.add_row(k, escape(json.dumps(o["default"], ensure_ascii=False)), escape(o["description"] or ""))
            console.print(table)

    emit(info, json_out, human)


@data_app.command("convert")
def convert_cmd(
    src: Annotated[Path, typer.Argument(help="Training JSONL (e.g. OUT/samples.jsonl).")],
    dst: Annotated[Path, typer.Argument(help="Output file (.jsonl; .json for coco).")],
    to: Annotated[str, typer.Option("--to", help="llava, swift (ms-swift objects) or coco.")],
    family: Annotated[str, typer.Option(help="llava: the family whose box frame fills <bbox> marks.")] = "qwen2.5-vl",
    json_out: JsonFlag = False,
) -> None:
    """Convert training JSONL to LLaVA conversations, ms-swift grounding records, or COCO detection JSON.

    Examples:

      tenken data convert d/rec/samples.jsonl d/rec.llava.jsonl --to llava --family qwen3-vl

      tenken data convert d/rec/samples.jsonl d/rec.swift.jsonl --to swift

      tenken data convert d/pairs/samples.jsonl d/pairs.coco.json --to coco
    """
    from tenken.data.convert import convert

    result = convert(src, dst, to, family)
    emit(
        result, json_out, lambda: console.print(f"wrote {result['written']} {to} record(s) to {escape(result['path'])}")
    )


@data_app.command("stats")
def stats_cmd(
    path: Annotated[Path, typer.Argument(help="Training JSONL, `tenken data synth` folder, or curation folder.")],
    plots: Annotated[Path | None, typer.Option(help="Folder for the PNG plots.")] = None,
    per_filter: Annotated[int, typer.Option(help="Curation: dropped samples shown per filter.")] = 16,
    json_out: JsonFlag = False,
) -> None:
    """Statistics of training data (counts, kept/dropped per filter, label and box-size histograms) or, for a
    `tenken data curate` folder, its funnel.

    Example: tenken data stats d/count --plots d/count/stats
    """
    import importlib.util

    from tenken.data.stats import is_training_jsonl, training_stats

    training = is_training_jsonl(path) or (path / "samples.jsonl").is_file()
    if not training and path.is_dir() and importlib.util.find_spec("tenken.data.curate.stats") is not None:
        from tenken.data.curate.stats import curation_stats

        emit(curation_stats(path, plots, per_filter), json_out, lambda: None)
        return
    stats = training_stats(path, plots)

    def human() -> None:
        console.print(f"{stats['kept']} sample(s) kept, {stats['rejected']} rejected — {escape(stats['file'])}")
        for key in ("by_task", "by_lang", "by_recipe"):
            console.print(f"{key[3:]}: " + ", ".join(f"{escape(k)} {v}" for k, v in stats[key].items()))
        table = Table("filter", "passed", "dropped", title="filters")
        for name, row in stats["filters"].items():
            table.add_row(escape(name), str(row["passed"]), str(row["dropped"]))
        console.print(table)
        b = stats["boxes"]
        console.print(f"boxes: {b['n']} ({b['per_sample_mean']} per sample), sqrt(area) px {b['size_px']}")
        if stats["labels"]:
            console.print("labels: " + ", ".join(f"{escape(k)} {v}" for k, v in list(stats["labels"].items())[:15]))
        for name, p in stats["plots"].items():
            console.print(f"{name}: {escape(p)}")

    emit(stats, json_out, human)


# -- end of data-engine commands ----------------------------------------------------------------------------
