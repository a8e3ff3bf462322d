"""PNG plots comparing runs: detection recall by box size (bars) and REC accuracy against IoU threshold.

Text is drawn with tenken's bundled Japanese font (:func:`tenken.viz.fonts.japanese_font_path`) through
matplotlib's ``font_manager``, per figure, without changing matplotlib's global style.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _font() -> Any:
    from matplotlib import font_manager

    from tenken.viz.fonts import japanese_font_path

    path = str(japanese_font_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path)


def _figure(width: float = 8.0, height: float = 4.5) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _finish(fig: Any, ax: Any, font: Any, title: str, path: str | Path) -> Path:
    ax.set_title(title, fontproperties=font)
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontproperties(font)
    ax.xaxis.label.set_fontproperties(font)
    ax.yaxis.label.set_fontproperties(font)
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_fontproperties(font)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _bars(ax: Any, xs: np.ndarray, values: Sequence[float | None], width: float, name: str) -> None:
    """One run's bars, each labelled with its value; a missing or NaN value is a "–" on the axis, not a 0 bar."""
    missing = [v is None or not np.isfinite(v) for v in values]
    heights = [0.0 if m else float(v) for v, m in zip(values, missing, strict=True)]  # type: ignore[arg-type]
    bars = ax.bar(xs, heights, width, label=name)
    ax.bar_label(bars, labels=["–" if m else f"{h:.2f}" for h, m in zip(heights, missing, strict=True)], fontsize=8)


def plot_size_recall(
    runs: Sequence[dict[str, Any]], names: Sequence[str], path: str | Path, metric: str = "recall"
) -> Path:
    """Grouped bars of ``metric`` (``recall``, ``agreement``, ``recall_label``) per size row, a bar per run.

    ``runs`` are detection score dicts (with ``size_quartiles`` and ``size_lower_bounds``). Rows are taken
    from the first run (its box count under each label); each bar carries its value, and "–" marks a row
    with no data (no box of that size), which is not a 0.
    """
    font = _font()
    rows = [*runs[0].get("size_quartiles", []), *runs[0].get("size_lower_bounds", [])]
    labels = [r["name"] for r in rows]
    fig, ax = _figure(max(6.0, 1.1 * len(labels) + 2.0))
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(runs))
    for i, (run, name) in enumerate(zip(runs, names, strict=True)):
        table = {r["name"]: r for r in [*run.get("size_quartiles", []), *run.get("size_lower_bounds", [])]}
        values = [table.get(lab, {}).get(metric) for lab in labels]
        _bars(ax, x + (i - (len(runs) - 1) / 2) * width, values, width, name)
    # the first run's box count under each row: a 0 bar over 3 boxes and one over none read differently
    ax.set_xticks(x, [f"{r['name']}\n({r.get('n_boxes', 0)})" for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel({"recall": "検出率 recall", "agreement": "ラベル一致率 agreement"}.get(metric, metric))
    ax.set_xlabel("箱の大きさ box size (sqrt(area), px)")
    ax.legend()
    return _finish(fig, ax, font, f"サイズ別 {metric} by box size", path)


def plot_threshold_curves(runs: Sequence[dict[str, Any]], names: Sequence[str], path: str | Path) -> Path:
    """REC accuracy against IoU threshold (0.5..0.95), one line per run (score dicts with ``curve``)."""
    font = _font()
    fig, ax = _figure()
    for run, name in zip(runs, names, strict=True):
        curve = run.get("curve", {})
        t = sorted(float(k) for k in curve)
        ax.plot(t, [curve[f"{v:g}"] for v in t], marker="o", label=name)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("IoU しきい値 threshold (IoU > t)")
    ax.set_ylabel("正解率 accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, ax, font, "グラウンディング精度 REC accuracy vs IoU threshold", path)


def plot_metric_bars(values: dict[str, dict[str, float | None]], path: str | Path, title: str) -> Path:
    """Grouped bars of headline metrics: ``values[run_name][metric]``."""
    font = _font()
    names = list(values)
    metrics = list(dict.fromkeys(m for v in values.values() for m in v))
    fig, ax = _figure(max(6.0, 1.3 * len(metrics) + 2.0))
    x = np.arange(len(metrics))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        _bars(ax, x + (i - (len(names) - 1) / 2) * width, [values[name].get(m) for m in metrics], width, name)
    ax.set_xticks(x, metrics)
    ax.legend()
    return _finish(fig, ax, font, title, path)
