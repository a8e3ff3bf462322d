"""What a curation run did, for people: the funnel (table and PNG bar plot) and contact sheets of dropped
samples, one PNG per filter, so a threshold can be judged by eye.

Reads a curation output folder (``funnel.json``, ``dropped.jsonl``, ``inputs.json``); images of dropped
samples are read back from the input shards.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from tenken.core.artifacts import LoadReport, iter_jsonl, read_jsonl
from tenken.core.errors import ImageLoadError, InputError
from tenken.data.curate.image_filters import decode_rgb
from tenken.data.curate.shards import Shard, read_shard, shard_kind
from tenken.viz.fonts import font, japanese_font_path

THUMB = 160
"""Thumbnail side in the contact sheets, pixels."""


def load_funnel(out: Path) -> list[dict[str, Any]]:
    """The funnel rows of a curation output folder (``{filter, unit, in, dropped, out}``, chain order).

    Raises:
        InputError: ``out`` is not a finished curation output.
    """
    path = out / "funnel.json"
    if not path.is_file():
        raise InputError(f"{out}: no funnel.json (not a finished `tenken data curate` output folder)")
    return read_jsonl(path)


def plot_funnel(funnel: list[dict[str, Any]], path: Path, title: str = "curation funnel") -> Path:
    """A horizontal bar chart: per filter (chain order), samples or images dropped, and what is left after it.

    Returns:
        ``path`` (PNG, 100 dpi).
    """
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    fp = font_manager.FontProperties(fname=str(japanese_font_path()))
    labels = [f"{r['filter']} ({r['unit']})" for r in funnel]
    fig = Figure(figsize=(8, 0.45 * max(len(funnel), 2) + 1.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ys = np.arange(len(funnel))[::-1]
    ax.barh(ys, [r["out"] for r in funnel], color="#9ecae1", label="left after the filter")
    bars = ax.barh(ys, [r["dropped"] for r in funnel], left=[r["out"] for r in funnel], color="#de2d26",
                   label="dropped")  # fmt: skip
    ax.bar_label(bars, labels=[f"-{r['dropped']}" for r in funnel], fontsize=8, padding=2)
    ax.set_yticks(ys, labels)
    for label in ax.get_yticklabels():
        label.set_fontproperties(fp)
    ax.set_xlabel("count")
    ax.set_title(title, fontproperties=fp)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _thumb(data: bytes | None) -> Image.Image:
    tile = Image.new("RGB", (THUMB, THUMB), (220, 220, 220))
    if data is None:
        return tile
    try:
        img = Image.fromarray(decode_rgb(data, max_side=2 * THUMB))
    except ImageLoadError:
        ImageDraw.Draw(tile).text((8, THUMB // 2 - 8), "undecodable", fill=(120, 0, 0), font=font(14))
        return tile
    img.thumbnail((THUMB, THUMB))
    tile.paste(img, ((THUMB - img.width) // 2, (THUMB - img.height) // 2))
    return tile


def contact_sheet(filter_name: str, rows: list[dict[str, Any]], images: list[bytes | None], path: Path,
                  total: int, cols: int = 4) -> Path:  # fmt: skip
    """One PNG: a title, then a grid of thumbnails each captioned with its score and text.

    Args:
        rows: side-table rows shown (same order as ``images``).
        images: encoded image bytes per row (None: the row has no image).
        total: how many items the filter dropped in all (for the title).
    """
    caption_h = 54
    n_rows = max(1, -(-len(rows) // cols))
    sheet = Image.new("RGB", (cols * (THUMB + 8) + 8, 40 + n_rows * (THUMB + caption_h + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 8), f"{filter_name}: {len(rows)} of {total} dropped", fill="black", font=font(20))
    for k, (row, data) in enumerate(zip(rows, images, strict=True)):
        x, y = 8 + (k % cols) * (THUMB + 8), 40 + (k // cols) * (THUMB + caption_h + 8)
        sheet.paste(_thumb(data), (x, y))
        score = "" if row.get("score") is None else f"{row['score']:.3g} / {row.get('threshold')}"
        text = str(row.get("text") or "")
        lines = [score, text[:11], text[11:22]] if score else [text[:11], text[11:22], text[22:33]]
        for n, line in enumerate(lines):
            draw.text((x, y + THUMB + 2 + 17 * n), line, fill="black", font=font(13))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def _images_for(rows: list[dict[str, Any]], inputs: dict[str, str]) -> list[bytes | None]:
    """The dropped image (or the sample's first image) of each side-table row, read back from its shard."""
    wanted: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for k, r in enumerate(rows):
        wanted[r["shard"]][r["index"]].append(k)
    out: list[bytes | None] = [None] * len(rows)
    for name, by_index in wanted.items():
        if name not in inputs or not Path(inputs[name]).is_file():
            continue
        path = Path(inputs[name])
        for n, sample in enumerate(read_shard(Shard(path, shard_kind(path)))):
            for k in by_index.get(n, []):
                i = rows[k].get("image") or 0
                out[k] = sample.images[i].data if i < len(sample.images) else None
    return out


def curation_stats(out: Path, dest: Path | None = None, per_filter: int = 16, seed: int = 0) -> dict[str, Any]:
    """The funnel of a curation run, its PNG plot, and one contact sheet per filter.

    Args:
        out: a ``tenken data curate`` output folder.
        dest: where the PNGs go (default ``out/stats``).
        per_filter: dropped items shown per filter (a random sample, ``seed``).

    Returns:
        ``{"funnel": rows, "plot": path, "sheets": {filter: path}, "summary": the run's summary}``.
    """
    funnel = load_funnel(out)
    dest = dest or out / "stats"
    report = LoadReport()
    dropped = [r for _, r in iter_jsonl(out / "dropped.jsonl", report)] if (out / "dropped.jsonl").exists() else []
    inputs = read_jsonl(out / "inputs.json")[0] if (out / "inputs.json").exists() else {}
    by_filter: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in dropped:
        by_filter[r["filter"]].append(r)
    rng = random.Random(seed)
    sheets = {}
    for name, rows in by_filter.items():
        shown = rng.sample(rows, min(per_filter, len(rows)))
        sheets[name] = contact_sheet(name, shown, _images_for(shown, inputs), dest / f"dropped_{name}.png", len(rows))
    summary = read_jsonl(out / "summary.json")[0] if (out / "summary.json").exists() else {}
    return {"funnel": funnel, "plot": plot_funnel(funnel, dest / "funnel.png"), "sheets": sheets, "summary": summary}
