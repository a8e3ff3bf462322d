"""Statistics of a training JSONL: counts, kept/dropped per filter, label and box-size histograms (PNG).

:func:`training_stats` reads the kept samples and, when it sits beside them (a ``tenken data synth`` output
folder), the rejected side file, so each filter's tally is the number of samples it passed and dropped.
Box size is ``sqrt(area)`` in pixels of the stored image (the size DESIGN.md's recall-by-size uses).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.artifacts import LoadReport, iter_jsonl
from tenken.core.errors import InputError
from tenken.data.format import TrainingSample, iter_samples


def is_training_jsonl(path: str | os.PathLike) -> bool:
    """True when the first JSON line of ``path`` is a valid :class:`TrainingSample`."""
    p = Path(path)
    if not p.is_file():
        return False
    for _, obj in iter_jsonl(p, LoadReport()):
        try:
            TrainingSample.model_validate(obj)
            return True
        except ValueError:
            return False
    return False


def resolve_training_file(path: str | os.PathLike) -> tuple[Path, Path | None]:
    """``(samples file, rejected file or None)`` for a training JSONL or a ``tenken data synth`` folder.

    Raises:
        InputError: neither a training JSONL nor a folder holding ``samples.jsonl``.
    """
    p = Path(path)
    if p.is_dir() and (p / "samples.jsonl").is_file():
        p = p / "samples.jsonl"
    if not is_training_jsonl(p) and not (p.is_file() and p.stat().st_size == 0):
        raise InputError(f"{path}: not a training JSONL file (nor a folder holding samples.jsonl)")
    rejected = p.with_name(p.name.replace("samples", "rejected")) if "samples" in p.name else None
    return p, rejected if rejected is not None and rejected.is_file() else None


def training_stats(path: str | os.PathLike, plots: str | os.PathLike | None = None, top: int = 30) -> dict[str, Any]:
    """Counts, per-filter tallies and histograms of a training JSONL (or a synth output folder).

    Args:
        path: the training JSONL, or a folder with ``samples.jsonl`` (and ``rejected.jsonl``).
        plots: a folder for ``labels.png`` and ``box_sizes.png`` (None: no plots).
        top: labels shown in the label histogram.

    Returns:
        ``{"file", "kept", "rejected", "by_task", "by_lang", "by_recipe", "filters": {name: {"passed",
        "dropped"}}, "labels": {label: n}, "boxes": {"n", "per_sample_mean", "size_px": {quantiles},
        "size_hist": {"edges", "counts"}}, "plots": {...}, "input": load report}``.
    """
    samples_path, rejected_path = resolve_training_file(path)
    report = LoadReport()
    kept = [s for _, s in iter_samples(samples_path, report)]
    rejected = [s for _, s in iter_samples(rejected_path, report)] if rejected_path else []
    filters: dict[str, dict[str, int]] = {}
    for s in kept + rejected:
        for d in s.provenance.filters:
            row = filters.setdefault(d.name, {"passed": 0, "dropped": 0})
            row["passed" if d.keep else "dropped"] += 1
        rb = s.provenance.rejected_by
        if rb is not None and not any(d.name == rb.name and not d.keep for d in s.provenance.filters):
            filters.setdefault(rb.name, {"passed": 0, "dropped": 0})["dropped"] += 1
    labels = Counter(b.label or "(none)" for s in kept for b in s.boxes)
    sizes = np.array([np.sqrt(max(0.0, (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]))) for s in kept for b in s.boxes])
    edges = np.unique(np.concatenate([[0.0], np.geomspace(4, max(8.0, float(sizes.max()) if sizes.size else 8.0), 12)]))
    counts, _ = np.histogram(sizes, bins=edges)
    out: dict[str, Any] = {
        "file": str(samples_path),
        "rejected_file": None if rejected_path is None else str(rejected_path),
        "kept": len(kept),
        "rejected": len(rejected),
        "by_task": dict(Counter(s.task for s in kept)),
        "by_lang": dict(Counter(s.lang for s in kept)),
        "by_recipe": dict(Counter(s.provenance.recipe for s in kept)),
        "rejected_by": dict(Counter(s.provenance.rejected_by.name for s in rejected if s.provenance.rejected_by)),
        "filters": filters,
        "labels": dict(labels.most_common(top)),
        "boxes": {
            "n": int(sizes.size),
            "per_sample_mean": round(float(sizes.size) / len(kept), 3) if kept else 0.0,
            "size_px": {
                q: round(float(np.quantile(sizes, v)), 1) for q, v in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))
            }
            if sizes.size
            else {},
            "size_hist": {"edges": [round(float(e), 1) for e in edges], "counts": counts.tolist()},
        },
        "plots": {},
        "input": report.to_dict(),
    }
    if plots is not None:
        out["plots"] = plot_stats(out, Path(plots))
    return out


def plot_stats(stats: dict[str, Any], folder: Path) -> dict[str, str]:
    """``labels.png`` (top labels, horizontal bars) and ``box_sizes.png`` (sqrt(area) histogram, log bins)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    from tenken.viz.fonts import japanese_font_path

    font = FontProperties(fname=str(japanese_font_path()))
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    labels = stats["labels"]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(labels) + 1)))
    names = list(labels)[::-1]
    ax.barh(range(len(names)), [labels[n] for n in names], color="#4477aa")
    ax.set_yticks(range(len(names)), names, fontproperties=font)
    ax.set_xlabel("boxes")
    ax.set_title(f"labels (top {len(names)}) — {stats['kept']} samples", fontproperties=font)
    fig.tight_layout()
    paths["labels"] = str(folder / "labels.png")
    fig.savefig(paths["labels"], dpi=100)
    plt.close(fig)
    hist = stats["boxes"]["size_hist"]
    fig, ax = plt.subplots(figsize=(8, 4))
    edges = np.asarray(hist["edges"])
    ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge", color="#ee6677", edgecolor="white")
    ax.set_xscale("symlog", linthresh=4)
    ax.set_xlabel("box size sqrt(area), px")
    ax.set_ylabel("boxes")
    ax.set_title(f"box sizes — {stats['boxes']['n']} boxes")
    fig.tight_layout()
    paths["box_sizes"] = str(folder / "box_sizes.png")
    fig.savefig(paths["box_sizes"], dpi=100)
    plt.close(fig)
    return paths
