"""Markdown tables of scores: one run's summary, its size tables, and several runs side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tenken.eval.tasks import TASKS


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 10 else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; floats are rounded to 4 digits, None and NaN (no data) are "–"."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def headline(task: str, scores: dict[str, Any]) -> dict[str, Any]:
    """The headline metrics of ``task`` (a :mod:`tenken.eval.tasks` name) from a scores dict (absent ones
    omitted; none for a task tenken does not know, e.g. a ``scores.json`` of a newer version)."""
    metrics = TASKS.get(task).headline if task in TASKS else ()
    return {k: scores[k] for k in metrics if k in scores}


def size_table(scores: dict[str, Any]) -> str:
    """Detection recall / agreement by size quartile and size lower bound, with box and sample counts."""
    rows = []
    for r in [*scores.get("size_quartiles", []), *scores.get("size_lower_bounds", [])]:
        rng = f"{r['lower']:.0f}–{r['upper']:.0f} px" if r.get("upper") is not None else ""
        rows.append([r["name"], rng, r["n_boxes"], r["n_samples"], r["recall"], r["agreement"], r["recall_label"]])
    return markdown_table(["size", "range", "boxes", "samples", "recall", "agreement", "recall (label)"], rows)


def run_table(result: dict[str, Any]) -> str:
    """A one-run summary (``scores.json`` of a runner): headline metrics plus counts."""
    task = result.get("task", "")
    scores = result.get("scores", {})
    rows: list[list[Any]] = [[k, v] for k, v in headline(task, scores).items()]
    primary = result.get("primary") or {}
    if primary.get("ci95"):
        lo, hi = primary["ci95"]
        rows.append([f"{primary['metric']} (mean, 95% CI)", f"{primary['mean']:.4g} [{lo:.4g}, {hi:.4g}]"])
    rows += [
        ["samples", result.get("n_samples")],
        ["errors", result.get("n_errors")],
        ["skipped lines", scores.get("input", {}).get("n_skipped")],
        ["missing predictions", scores.get("input", {}).get("n_missing")],
    ]
    text = markdown_table(["metric", f"{result.get('benchmark')} / {result.get('model')}"], rows)
    extra = TASKS.get(task)().extra_table(scores) if task in TASKS else None
    return text + "\n\n" + extra if extra else text


def compare_table(
    results: Sequence[dict[str, Any]], names: Sequence[str] | None = None, diffs: Sequence[Any] | None = None
) -> str:
    """Several runs side by side: one column per run, one row per headline metric (union over runs).

    ``diffs[i]`` (from :func:`tenken.eval.compare.paired_vs_first`) adds a row "Δ metric vs first [95 % CI]".
    """
    names = list(names) if names is not None else [f"{r.get('model')}" for r in results]
    metrics: dict[str, None] = {}
    for r in results:
        for k in headline(r.get("task", ""), r.get("scores", {})):
            metrics[k] = None
    rows: list[list[Any]] = [["benchmark", *[r.get("benchmark") for r in results]]]
    rows.append(["model", *[r.get("model") for r in results]])
    if any(r.get("settings") for r in results):  # runs of one model that differ by --detector / --param
        rows.append(["settings", *[_settings_text(r.get("settings") or {}) for r in results]])
    for m in metrics:
        rows.append([m, *[r.get("scores", {}).get(m) for r in results]])
    if diffs is not None and any(d for d in diffs):
        metric = next(d["metric"] for d in diffs if d)
        rows.append([f"Δ {metric} vs {names[0]} [95% CI]", *[_diff_text(d) for d in diffs]])
    rows.append(["samples", *[r.get("n_samples") for r in results]])
    rows.append(["errors", *[r.get("n_errors") for r in results]])
    rows.append(["s / sample", *[r.get("seconds_per_sample") for r in results]])
    return markdown_table(["metric", *names], rows)


def _diff_text(d: dict[str, Any] | None) -> str | None:
    if not d or d.get("diff") is None:
        return None
    return f"{d['diff']:+.4g} [{d['low']:+.4g}, {d['high']:+.4g}] (n={d['n']})"


def _settings_text(settings: dict[str, Any]) -> str:
    """``{"detector": "hybrid", "params": ["a=1"], "registered": True}`` -> ``detector hybrid; a=1; registered``."""
    parts = [f"detector {settings['detector']}"] if settings.get("detector") else []
    parts += list(settings.get("params") or [])
    parts += ["registered"] if settings.get("registered") else []
    return "; ".join(parts) or "default"
