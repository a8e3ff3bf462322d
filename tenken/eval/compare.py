"""Compare benchmark runs: load run folders, pair their per-sample scores, tabulate and plot.

The difference of each run from the first (the baseline) is measured on the samples both runs scored, with a
95 % paired-bootstrap interval (:func:`tenken.eval.stats.paired_difference`), so "B beats A by 2.1 points
[0.4, 3.9]" is a statement about the data, not a coin toss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenken.core.artifacts import LoadReport, read_jsonl
from tenken.core.errors import InputError
from tenken.eval.stats import paired_difference
from tenken.eval.tasks import TASKS


@dataclass
class Comparison:
    """Runs side by side: ``names`` (folder names, made unique), ``results`` (their ``scores.json``),
    ``diffs[i]`` (run i minus run 0 on the primary metric, None when not comparable), the markdown
    ``table`` and the ``plots`` written."""

    names: list[str]
    results: list[dict[str, Any]]
    diffs: list[dict[str, Any] | None]
    table: str
    plots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"runs": self.names, "table": self.table, "diffs": self.diffs, "plots": self.plots,
                "results": self.results}  # fmt: skip


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def _per_sample(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "per_sample.jsonl"
    if not path.is_file():
        return {}
    return {str(r["id"]): r for r in read_jsonl(path) if "id" in r}


def paired_vs_first(folders: Sequence[Path], results: Sequence[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Run ``i`` minus run 0 on the primary per-sample metric over their common sample ids.

    None for run 0, for runs of another benchmark, and when a run has no ``per_sample.jsonl``.
    """
    base_task, base_bench = results[0].get("task"), results[0].get("benchmark")
    metric = TASKS.get(str(base_task)).primary if base_task in TASKS else None
    base = _per_sample(folders[0])
    out: list[dict[str, Any] | None] = [None]
    for folder, res in zip(folders[1:], results[1:], strict=True):
        rows = _per_sample(folder)
        if metric is None or res.get("benchmark") != base_bench or not base or not rows:
            out.append(None)
            continue
        common = [i for i in base if i in rows]
        d = paired_difference([base[i][metric] for i in common], [rows[i][metric] for i in common])
        out.append({"metric": metric, **d})
    return out


def compare_runs(runs: Sequence[str | Path], plots: str | Path | None = None) -> Comparison:
    """Load run folders (or their ``scores.json``), compare them to the first, optionally write PNG plots."""
    from tenken.eval.tables import compare_table

    folders, results = [], []
    for r in map(Path, runs):
        path = r / "scores.json" if r.is_dir() else r
        if not path.is_file():
            raise InputError(f"{r}: no scores.json (run `tenken eval run ...` first)")
        report = LoadReport()
        rows = read_jsonl(path, report)
        if len(rows) != 1:
            why = report.skipped[0].reason if report.skipped else "not one JSON object"
            raise InputError(f"{path}: not a readable scores.json ({why}); rerun `tenken eval run ...`")
        results.append(rows[0])
        folders.append(path.parent)
    if not results:
        raise InputError("give at least one run folder")
    names = _unique([f.name for f in folders])
    diffs = paired_vs_first(folders, results)
    comp = Comparison(names, results, diffs, compare_table(results, names, diffs))
    if plots is not None:
        comp.plots = _plots(names, results, Path(plots))
    return comp


def _plots(names: list[str], results: list[dict[str, Any]], folder: Path) -> list[str]:
    """The headline-metric bars of every run, then each task's own plots over the runs of that task."""
    from tenken.eval.plots import plot_metric_bars
    from tenken.eval.tables import headline

    pairs = list(zip(names, results, strict=True))
    written = [
        plot_metric_bars(
            {n: headline(r.get("task", ""), r.get("scores", {})) for n, r in pairs}, folder / "metrics.png",
            "指標の比較 metrics",
        )
    ]  # fmt: skip
    for task in dict.fromkeys(str(r.get("task")) for r in results):
        if task not in TASKS:
            continue
        mine = [(n, r["scores"]) for n, r in pairs if r.get("task") == task]
        written += TASKS.get(task)().plots([n for n, _ in mine], [s for _, s in mine], folder)
    return [str(p) for p in written]
