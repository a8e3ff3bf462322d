"""Stage 1 of curation: score one shard, sample by sample (the per-item filters, hashes and model scores).

Each sample becomes one *scored row* (written to ``<out>/scored/<shard>.jsonl``)::

    {"id": "...", "index": 12, "text": "normalised text",
     "sentences": [...], "n_sentences": 14, "text_tokens": 420  (documents only),
     "images": [{"name", "url", "w", "h", "phash": "16 hex digits", "nsfw": 0.01, "sim": 0.31,
                 "sentence": 4 (documents), "drop": {filter, reason, score, threshold, image} | null}],
     "drop": {...} | null}

The first filter that refuses a sample (or, in a document, an image) is its ``drop``; later filters do not
run on it. A row that could not be read and an image that cannot be decoded are drops (``read``,
``decodable``), never exceptions. Corpus-wide rules (frequent images, repeated texts, pair dedup, the
similarity percentile, document rules) run later on all scored rows (:mod:`tenken.data.curate.pipeline`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.artifacts import write_jsonl
from tenken.core.errors import ImageLoadError
from tenken.data.curate.decisions import Drop
from tenken.data.curate.dedup import within_group_duplicates
from tenken.data.curate.image_filters import decode_rgb, format_drop, image_drop, inspect_image, url_drop
from tenken.data.curate.interleaved import assign_images, merge_symbol_only, split_sentences, text_tokens
from tenken.data.curate.ja_text import alt_text_drop, document_text_drop, normalize_whitespace
from tenken.data.curate.nsfw import NsfwClassifier, load_nsfw
from tenken.data.curate.options import CurateOptions
from tenken.data.curate.shards import Sample, Shard, read_shard
from tenken.data.curate.similarity import ImageTextScorer, load_scorer


@dataclass
class Models:
    """The models a scoring process uses, loaded on first use and kept (one per process)."""

    opts: CurateOptions

    @cached_property
    def nsfw(self) -> NsfwClassifier | None:
        """The NSFW classifier (None when ``opts.nsfw == "none"``)."""
        return load_nsfw(self.opts)

    @cached_property
    def similarity(self) -> ImageTextScorer | None:
        """The image–text scorer (None without ``opts.similarity_model``)."""
        if not self.opts.similarity_model:
            return None
        return load_scorer(self.opts.similarity_model, self.opts.device, self.opts.batch_size)


@dataclass
class _Pending:
    """A sample between the cheap checks and the model scores."""

    row: dict[str, Any]
    sample: Sample
    pixels: dict[int, np.ndarray] = field(default_factory=dict)  # image index -> RGB for the models


def _drop(d: Drop | None) -> dict[str, Any] | None:
    return None if d is None else d.to_dict()


def _image_row(sample: Sample, k: int, opts: CurateOptions) -> dict[str, Any]:
    """Cheap checks of one image: format, decodable, min side, aspect, URL words; its size and pHash."""
    im = sample.images[k]
    row: dict[str, Any] = {"name": im.name, "url": im.url, "w": None, "h": None, "phash": None, "drop": None}
    if im.data is None:
        row["drop"] = _drop(Drop("read", im.error or "no image bytes", image=k))
        return row
    d = format_drop(im.data, opts)
    if d is None:
        try:
            info = inspect_image(im.data, im.name)
        except ImageLoadError as exc:
            row["drop"] = _drop(Drop("decodable", str(exc), image=k))
            return row
        row.update(w=info.width, h=info.height, phash=f"{info.phash:016x}")
        d = image_drop(info, opts) or url_drop(im.url, im.name, opts)
    if d is not None:
        row["drop"] = _drop(Drop(d.filter, d.reason, d.score, d.threshold, k))
    return row


def _cheap(sample: Sample, index: int, opts: CurateOptions) -> _Pending:
    row: dict[str, Any] = {"id": sample.id, "index": index, "text": "", "images": [], "drop": None}
    pending = _Pending(row, sample)
    if sample.error is not None:
        row["drop"] = _drop(Drop("read", sample.error))
        return pending
    row["images"] = [_image_row(sample, k, opts) for k in range(len(sample.images))]
    if opts.mode == "pairs":
        row["text"] = normalize_whitespace(sample.text)
        if len(sample.images) != 1:
            row["drop"] = _drop(Drop("read", f"an alt-text pair needs 1 image, has {len(sample.images)}"))
        elif row["images"][0]["drop"] is not None:
            row["drop"] = row["images"][0]["drop"]
        else:
            row["drop"] = _drop(alt_text_drop(row["text"], opts))
        return pending
    sentences = merge_symbol_only([normalize_whitespace(s) for s in split_sentences(sample.text)])
    row["sentences"] = sentences
    row["text"] = "".join(sentences)
    row["n_sentences"] = len(sentences)
    row["text_tokens"] = text_tokens(row["text"], opts)
    row["drop"] = _drop(document_text_drop(row["text"], opts))
    alive = [k for k, r in enumerate(row["images"]) if r["drop"] is None]
    if alive:
        hashes = [int(row["images"][k]["phash"], 16) for k in alive]
        areas = [row["images"][k]["w"] * row["images"][k]["h"] for k in alive]
        for a, b in within_group_duplicates(hashes, areas, opts.phash_radius).items():
            keep = row["images"][alive[b]]["name"]
            row["images"][alive[a]]["drop"] = _drop(Drop("phash_in_doc", f"near-duplicate of {keep}", image=alive[a]))
    return pending


def _alive(p: _Pending) -> list[int]:
    if p.row["drop"] is not None:
        return []
    return [k for k, r in enumerate(p.row["images"]) if r["drop"] is None]


def _decode_for_models(p: _Pending, opts: CurateOptions) -> None:
    for k in _alive(p):
        try:
            p.pixels[k] = decode_rgb(p.sample.images[k].data or b"")
        except ImageLoadError as exc:
            p.row["images"][k]["drop"] = _drop(Drop("decodable", str(exc), image=k))
            if opts.mode == "pairs":
                p.row["drop"] = p.row["images"][k]["drop"]


def _nsfw(batch: Sequence[_Pending], models: Models, opts: CurateOptions) -> None:
    clf = models.nsfw
    if clf is None:
        return
    keys = [(p, k) for p in batch for k in _alive(p)]
    scores = clf.scores([p.pixels[k] for p, k in keys])
    for (p, k), s in zip(keys, scores, strict=True):
        p.row["images"][k]["nsfw"] = s
        if s >= opts.nsfw_threshold:
            d = _drop(Drop("nsfw", f"{opts.nsfw} score {s:.2f} >= {opts.nsfw_threshold}", s, opts.nsfw_threshold, k))
            p.row["images"][k]["drop"] = d
            if opts.mode == "pairs" or opts.nsfw_drops_document:
                p.row["drop"] = d


def _similarity(batch: Sequence[_Pending], models: Models, opts: CurateOptions) -> None:
    scorer = models.similarity
    if scorer is None:
        return
    if opts.mode == "pairs":
        live = [p for p in batch if _alive(p)]
        sims = scorer.pair_scores([p.pixels[0] for p in live], [p.row["text"] for p in live])
        for p, s in zip(live, sims.tolist(), strict=True):
            p.row["images"][0]["sim"] = s
        return
    for p in batch:
        ks = _alive(p)
        if not ks or not p.row["sentences"]:
            continue
        sim = scorer.matrix([p.pixels[k] for k in ks], p.row["sentences"])
        for k, s_idx, row_sim in zip(ks, assign_images(sim).tolist(), sim, strict=True):
            p.row["images"][k]["sentence"] = s_idx
            p.row["images"][k]["sim"] = None if s_idx < 0 else float(row_sim[s_idx])


def score_samples(samples: Iterator[Sample], opts: CurateOptions, models: Models) -> Iterator[dict[str, Any]]:
    """Scored rows of ``samples`` (see the module doc), models run in batches of ``opts.batch_size`` samples."""
    batch: list[_Pending] = []

    def flush() -> Iterator[dict[str, Any]]:
        if opts.nsfw != "none" or opts.similarity_model:
            for p in batch:
                _decode_for_models(p, opts)
        _nsfw(batch, models, opts)
        _similarity(batch, models, opts)
        for p in batch:
            yield p.row
        batch.clear()

    for n, sample in enumerate(samples):
        batch.append(_cheap(sample, n, opts))
        if len(batch) >= opts.batch_size:
            yield from flush()
    yield from flush()


def scored_path(out: Path, shard: Shard) -> Path:
    """Where the scored rows of ``shard`` are written."""
    return out / "scored" / f"{shard.name}.jsonl"


def score_shard(shard: Shard, opts: CurateOptions, out: Path, models: Models) -> dict[str, Any]:
    """Score every sample of ``shard`` and write the rows to :func:`scored_path` (atomically).

    Returns:
        ``{"shard", "scored", "samples", "dropped"}`` (the run engine's line for this shard).
    """
    rows = list(score_samples(read_shard(shard), opts, models))
    path = write_jsonl(scored_path(out, shard), rows)
    return {"shard": str(shard.path), "scored": str(path), "samples": len(rows),
            "dropped": sum(r["drop"] is not None for r in rows)}  # fmt: skip
