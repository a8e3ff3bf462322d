"""The curation chain end to end: score shards, apply the corpus-wide rules, write the side table, the funnel
and the curated shards.

Stages (each resumable through :func:`tenken.core.runs.run_items`, one line per input shard):

1. **score** (:mod:`tenken.data.curate.score`): per sample, the image rules, text rules, in-document dedup,
   NSFW and similarity scores -> ``<out>/scored/<shard>.jsonl``. With ``shard=(I, N)`` only this stage runs,
   for every N-th input shard (progress in ``progress/score-IofN.jsonl``), so N machines can share it; a
   final run without ``shard`` and with ``resume`` picks their work up and finishes.
2. **decide** (:func:`decide`, all scored rows in memory, ~1.6 KB per pair): alt texts seen more
   than ``text_max_repeats`` times, images whose pHash is frequent across the corpus, (pHash, text) pair
   duplicates, the lowest ``similarity_drop_fraction`` of similarities (pairs); the document rules
   (documents). Writes ``dropped.jsonl`` (the side table: one row per dropped sample or image with filter,
   reason, score and threshold) and ``funnel.json``.
3. **write** (:func:`write_shard`): the kept samples of each input shard to ``<out>/shards/<shard name>`` in
   the same layout.

With ``engine="ray"`` stages 1 and 3 run as Ray Data tasks (:mod:`tenken.data.curate.ray_engine`); stage 2 runs
on the driver.

Chain order (the funnel's rows; a sample or image counts against the first filter that refused it):
:data:`CHAIN`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.artifacts import LoadReport, iter_jsonl, write_json, write_jsonl
from tenken.core.errors import InputError
from tenken.core.runs import RunEvent, run_items
from tenken.data.curate.decisions import Drop
from tenken.data.curate.dedup import frequent_mask, pair_duplicates
from tenken.data.curate.interleaved import compose, document_drop, image_order
from tenken.data.curate.options import CurateOptions
from tenken.data.curate.score import Models, score_shard, scored_path
from tenken.data.curate.shards import Shard, ShardWriter, find_shards, read_shard

CHAIN = (
    "read", "format", "decodable", "min_side", "aspect_ratio", "url_words", "phash_in_doc",
    "default_alt", "filename_like", "too_short", "japanese_script", "language_id", "adult_content",
    "nsfw", "text_repeats", "phash_frequent", "phash_text_dup", "similarity",
    "doc_images", "doc_sentences", "doc_similarity", "doc_tokens",
)  # fmt: skip
"""Every filter, in the order the chain applies them."""

ScoreFn = Callable[[list[Shard], CurateOptions, Path, Path, bool], None]


@dataclass
class Decision:
    """The verdict on one sample: its drop (None: kept) and its images' drops; when kept, the indices of its
    images in output order, (documents) each image's sentence (-1: left out), and the scores it passed
    (``filters``, for provenance)."""

    drop: Drop | None = None
    image_drops: dict[int, Drop] = field(default_factory=dict)
    images: list[int] = field(default_factory=list)
    assignment: list[int] = field(default_factory=list)
    filters: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CurateResult:
    """What a curation run did (``finished`` is False after a ``shard=(I, N)`` scoring-only run)."""

    out: Path
    shards: int
    samples: int = 0
    kept: int = 0
    images_in: int = 0
    images_kept: int = 0
    failed_shards: list[str] = field(default_factory=list)
    funnel: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = True
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


SNIPPET = 200
"""Characters of a document's text kept in memory for the corpus-wide step and the side table."""


def _slim(row: dict[str, Any]) -> dict[str, Any]:
    """A scored row without what the corpus-wide step does not need (a document's sentences and full text), so
    a document costs no more memory than a pair; writing reads the sentences back from the scored file."""
    if "sentences" in row:
        row.pop("sentences")
        row["text"] = row["text"][:SNIPPET]
    return row


def _scored_rows(out: Path, shard: Shard) -> list[dict[str, Any]]:
    path = scored_path(out, shard)
    return [r for _, r in iter_jsonl(path, LoadReport())] if path.exists() else []


def _load_scored(out: Path, shards: list[Shard]) -> dict[str, list[dict[str, Any]]]:
    return {s.name: [_slim(r) for r in _scored_rows(out, s)] for s in shards}


def decide(rows_by_shard: dict[str, list[dict[str, Any]]], opts: CurateOptions) -> dict[tuple[str, int], Decision]:
    """Apply the corpus-wide rules to all scored rows.

    Args:
        rows_by_shard: ``{shard name: scored rows}`` (see :mod:`tenken.data.curate.score`).

    Returns:
        ``{(shard name, row index): Decision}`` for every row.
    """
    keys = [(name, r["index"]) for name, rows in rows_by_shard.items() for r in rows]
    rows = [r for rs in rows_by_shard.values() for r in rs]
    dec = {
        k: Decision(
            Drop.from_dict(r["drop"]) if r["drop"] else None,
            {i: Drop.from_dict(im["drop"]) for i, im in enumerate(r["images"]) if im["drop"]},
        )
        for k, r in zip(keys, rows, strict=True)
    }

    def alive(k: tuple[str, int]) -> bool:
        return dec[k].drop is None

    if opts.mode == "pairs":
        counts = Counter(r["text"] for r in rows if r["text"])
        for k, r in zip(keys, rows, strict=True):
            if alive(k) and counts[r["text"]] > opts.text_max_repeats:
                c = counts[r["text"]]
                reason = f"alt text seen {c} times > {opts.text_max_repeats}"
                dec[k].drop = Drop("text_repeats", reason, c, opts.text_max_repeats)
    # frequent images across the corpus: every decodable image's hash takes part in the count
    images = [(n, i) for n, r in enumerate(rows) for i, im in enumerate(r["images"]) if im["phash"]]
    if images:
        hashes = np.array([int(rows[n]["images"][i]["phash"], 16) for n, i in images], np.uint64)
        mask, hits = frequent_mask(
            hashes, opts.phash_radius, opts.frequent_sample, opts.frequent_max, opts.frequent_rounds, opts.seed
        )
        for (n, i), m, c in zip(images, mask.tolist(), hits.tolist(), strict=True):
            k = keys[n]
            if m and alive(k) and i not in dec[k].image_drops:
                reason = f"image seen {c} times in a sample of {opts.frequent_sample} > {opts.frequent_max}"
                d = Drop("phash_frequent", reason, c, opts.frequent_max, i)
                dec[k].image_drops[i] = d
                if opts.mode == "pairs":
                    dec[k].drop = d
    if opts.mode == "pairs":
        _pairs_rules(keys, rows, dec, opts)
    else:
        _document_rules(keys, rows, dec, opts)
    for k, r in zip(keys, rows, strict=True):
        if dec[k].drop is None:
            dec[k].filters = _passed(r, dec[k], opts)
    return dec


def _passed(row: dict[str, Any], d: Decision, opts: CurateOptions) -> list[dict[str, Any]]:
    """The scored filters a kept sample passed, as training-data-format filter decisions."""
    images = [row["images"][i] for i in d.images]
    out: list[dict[str, Any]] = [{"name": "phash", "keep": True, "reason": ",".join(im["phash"] for im in images)}]
    for name, key, threshold in (("nsfw", "nsfw", opts.nsfw_threshold), ("similarity", "sim", None)):
        scores = [im.get(key) for im in images if im.get(key) is not None]
        if scores:
            score = max(scores) if name == "nsfw" else min(scores)
            out.append({"name": name, "keep": True, "score": score, "threshold": threshold})
    return out


def _pairs_rules(keys: list, rows: list, dec: dict[tuple[str, int], Decision], opts: CurateOptions) -> None:
    live = [n for n, k in enumerate(keys) if dec[k].drop is None]
    hashes = [int(rows[n]["images"][0]["phash"], 16) for n in live]
    areas = [rows[n]["images"][0]["w"] * rows[n]["images"][0]["h"] for n in live]
    for a, b in pair_duplicates(hashes, [rows[n]["text"] for n in live], areas, opts.phash_radius).items():
        dec[keys[live[a]]].drop = Drop("phash_text_dup", f"same text and near-duplicate image as {rows[live[b]]['id']}")
    sims = [(n, rows[n]["images"][0].get("sim")) for n in live if dec[keys[n]].drop is None]
    sims = [(n, s) for n, s in sims if s is not None]
    if sims and opts.similarity_drop_fraction > 0:
        cut = float(np.quantile([s for _, s in sims], opts.similarity_drop_fraction))
        for n, s in sims:
            if s < cut:
                reason = f"cosine {s:.3f} below the {opts.similarity_drop_fraction:.0%} quantile {cut:.3f}"
                dec[keys[n]].drop = Drop("similarity", reason, s, cut)
    for k in keys:
        if dec[k].drop is None:
            dec[k].images = [0]


def _document_rules(keys: list, rows: list, dec: dict[tuple[str, int], Decision], opts: CurateOptions) -> None:
    for k, r in zip(keys, rows, strict=True):
        d = dec[k]
        if d.drop is not None:
            continue
        kept = [i for i in range(len(r["images"])) if i not in d.image_drops]
        sims = [r["images"][i].get("sim") for i in kept]
        assigned = None if any(s is None for s in sims) or opts.similarity_model is None else sims
        if assigned is None:  # no similarity model: images keep their stored order, placed before sentence 0
            assignment = [0 if i in kept else -1 for i in range(len(r["images"]))]
        else:
            assignment = [r["images"][i].get("sentence", -1) if i in kept else -1 for i in range(len(r["images"]))]
        order = image_order(assignment)
        d.drop = document_drop(len(order), r["n_sentences"], assigned, r["text_tokens"], opts)
        if d.drop is None:
            d.images, d.assignment = order, assignment


def side_table(rows_by_shard: dict[str, list[dict[str, Any]]], dec: dict[tuple[str, int], Decision]) -> list[dict]:
    """One row per dropped sample (``image`` null) and per dropped image of a kept document, with its shard,
    id, image name and URL: ``{shard, index, id, filter, reason, score, threshold, image, image_name, url}``."""
    out = []
    for name, rows in rows_by_shard.items():
        for r in rows:
            d = dec[(name, r["index"])]
            drops = [d.drop] if d.drop is not None else list(d.image_drops.values())
            for drop in drops:
                im = r["images"][drop.image] if drop.image is not None and drop.image < len(r["images"]) else None
                first = r["images"][0] if r["images"] else {}
                out.append({"shard": name, "index": r["index"], "id": r["id"], **drop.to_dict(),
                            "image_name": (im or first).get("name"), "url": (im or first).get("url"),
                            "text": r["text"][:200]})  # fmt: skip
    return out


def funnel(rows_by_shard: dict[str, list[dict[str, Any]]], dec: dict[tuple[str, int], Decision]) -> list[dict]:
    """Kept and dropped counts per filter in chain order: ``{filter, unit, in, dropped, out}`` for samples
    and (for documents' images, whose drops do not drop the document) for images."""
    n = sum(len(rs) for rs in rows_by_shard.values())
    by_sample = Counter(d.drop.filter for d in dec.values() if d.drop is not None)
    by_image = Counter(x.filter for d in dec.values() if d.drop is None for x in d.image_drops.values())
    table = []
    left = n
    for f in CHAIN:
        if by_sample[f]:
            table.append(
                {"filter": f, "unit": "sample", "in": left, "dropped": by_sample[f], "out": left - by_sample[f]}
            )
            left -= by_sample[f]
    images_left = sum(len(d.image_drops) + len(d.images) for d in dec.values() if d.drop is None)
    for f in CHAIN:
        if by_image[f]:
            out = images_left - by_image[f]
            table.append({"filter": f, "unit": "image", "in": images_left, "dropped": by_image[f], "out": out})
            images_left = out
    return table


def _score_with_runs(
    todo: list[Shard], opts: CurateOptions, out: Path, progress_file: Path, resume: bool,
    shard: tuple[int, int] | None = None, on_start: Callable[[int], None] | None = None,
    progress: Callable[[RunEvent], None] | None = None,
) -> None:  # fmt: skip
    models = Models(opts)
    if todo:  # load the models now: a wrong path or name is one clear error, not one per shard
        _ = models.nsfw, models.similarity
    run_items(todo, lambda s: score_shard(s, opts, out, models), progress_file, key=lambda s: s.name,
              resume=resume, shard=shard, error_row=lambda s, _m: {"shard": str(s.path)},
              on_start=on_start, progress=progress)  # fmt: skip


def _done_shards(out: Path, stage: str = "score") -> set[str]:
    """Names of shards an earlier (possibly sharded) run of ``stage`` (``score`` or ``write``) finished."""
    done = set()
    field_name = {"score": "scored", "write": "written"}[stage]
    for f in (out / "progress").glob(f"{stage}*.jsonl"):
        for _, row in iter_jsonl(f, LoadReport()):
            if "error" not in row and Path(str(row.get(field_name, ""))).exists():
                done.add(str(row["id"]))
    return done


def curate(
    inputs: list[Path],
    out: Path,
    opts: CurateOptions | None = None,
    *,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    engine: str = "local",
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[RunEvent], None] | None = None,
) -> CurateResult:
    """Curate the shards ``inputs`` (files or folders) into ``out`` (see the module doc for the stages).

    Args:
        inputs: shard files or folders of them (WebDataset ``.tar``, ``.parquet``, ``.jsonl``).
        out: output folder: ``shards/``, ``dropped.jsonl``, ``funnel.json``, ``summary.json``, ``scored/``,
            ``progress/``.
        opts: thresholds and models (defaults: the recipe's values).
        resume: keep earlier work (finished shards are not scored or written again).
        shard: ``(I, N)``: score only every N-th input shard, then stop (finish with a run without it).
        engine: ``"local"`` (this process) or ``"ray"`` (stage 1 as Ray Data tasks; see
            :mod:`tenken.data.curate.ray_engine`).
        on_start, progress: run-engine callbacks of the scoring and writing stages (per shard).

    Raises:
        InputError: bad inputs or options.
    """
    opts = (opts or CurateOptions()).validate()
    if engine not in ("local", "ray"):
        raise InputError(f"engine must be local or ray, got {engine!r}")
    t0 = time.perf_counter()
    shards = find_shards(inputs)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "options.json", opts.to_dict())
    write_json(out / "inputs.json", {s.name: str(s.path.resolve()) for s in shards})
    result = CurateResult(out, len(shards))
    if shard is not None:
        i, n = shard
        _score_with_runs(shards, opts, out, out / "progress" / f"score-{i}of{n}.jsonl", resume, shard,
                         on_start, progress)  # fmt: skip
        result.finished = False
        result.seconds = time.perf_counter() - t0
        return result
    done = _done_shards(out) if resume else set()
    todo = [s for s in shards if s.name not in done]
    if engine == "ray":
        from tenken.data.curate.ray_engine import score_with_ray

        score_with_ray(todo, opts, out, out / "progress" / "score.jsonl", resume, on_start, progress)
    else:
        _score_with_runs(todo, opts, out, out / "progress" / "score.jsonl", resume, None, on_start, progress)
    scored = _done_shards(out)
    failed = [s.name for s in shards if s.name not in scored]
    rows = _load_scored(out, [s for s in shards if s.name not in failed])
    dec = decide(rows, opts)
    write_jsonl(out / "dropped.jsonl", side_table(rows, dec))
    result.funnel = funnel(rows, dec)
    write_json(out / "funnel.json", result.funnel)
    _write_outputs([s for s in shards if s.name not in failed], dec, opts, out, resume, engine, on_start, progress)
    result.failed_shards = failed
    result.samples = len(dec)
    result.kept = sum(d.drop is None for d in dec.values())
    result.images_in = sum(len(r["images"]) for rs in rows.values() for r in rs)
    result.images_kept = sum(len(d.images) for d in dec.values() if d.drop is None)
    result.seconds = time.perf_counter() - t0
    write_json(out / "summary.json", result.to_dict())
    return result


def kept_by_shard(dec: dict[tuple[str, int], Decision]) -> dict[str, dict[int, Decision]]:
    """``{shard name: {row index: Decision}}`` of the kept samples (what the writing stage needs)."""
    kept: dict[str, dict[int, Decision]] = {}
    for (name, n), d in dec.items():
        if d.drop is None:
            kept.setdefault(name, {})[n] = d
    return kept


def write_shard(shard: Shard, kept: dict[int, Decision], opts: CurateOptions, out: Path) -> dict[str, Any]:
    """Write the kept samples of ``shard`` (``{row index: Decision}``) to ``out/shards/<name>``, same layout.

    Returns:
        The run engine's line: ``{"shard", "written", "kept"}``.
    """
    path = out / "shards" / shard.name
    texts = {r["index"]: (r["text"], r.get("sentences")) for r in _scored_rows(out, shard) if r["index"] in kept}
    with ShardWriter(path, shard.kind, opts.mode) as writer:
        for n, sample in enumerate(read_shard(shard)):
            d = kept.get(n)
            if d is None:
                continue
            text, sentences = texts[n]
            if sentences is not None:
                text = compose(sentences, d.assignment)[0]
            sample.images = [sample.images[i] for i in d.images]
            writer.add(sample, text, {"filters": d.filters})
    return {"shard": str(shard.path), "written": str(path), "kept": len(kept)}


def _write_outputs(
    shards: list[Shard], dec: dict[tuple[str, int], Decision], opts: CurateOptions, out: Path, resume: bool,
    engine: str, on_start: Callable[[int], None] | None, progress: Callable[[RunEvent], None] | None,
) -> None:  # fmt: skip
    kept = kept_by_shard(dec)
    progress_file = out / "progress" / "write.jsonl"
    if engine == "ray":
        from tenken.data.curate.ray_engine import write_with_ray

        todo = [s for s in shards if s.name not in _done_shards(out, "write")] if resume else shards
        write_with_ray(todo, kept, opts, out, progress_file, resume, on_start, progress)
        return
    run_items(shards, lambda s: write_shard(s, kept.get(s.name, {}), opts, out), progress_file,
              key=lambda s: s.name, resume=resume, on_start=on_start, progress=progress)  # fmt: skip
