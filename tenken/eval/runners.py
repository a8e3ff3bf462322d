"""Benchmark runs: predict each sample with a model, write ``predictions.jsonl``, score ``scores.json``.

A run directory holds:

- ``run.json`` — benchmark, model spec, data path, settings, tenken version (a rerun with another model,
  benchmark or settings into the same directory is refused, so predictions of two models are never mixed);
- ``ground_truth.jsonl`` — the samples in tenken's JSONL format (so ``tenken eval vqa|rec|...`` can rescore);
- ``predictions.jsonl`` — one line per sample, written by the run engine :func:`tenken.core.runs.run_items`
  (appended and fsync'ed as soon as a sample is predicted; a sample whose prediction raised is
  ``{"id", "error"}``);
- ``per_sample.jsonl`` — each sample's scores (for error analysis and paired comparison of runs);
- ``scores.json`` — the scores (see :mod:`tenken.eval.scoring`), the headline ("primary") per-sample metric
  with its 95 % bootstrap interval, what was skipped, errors and timing.

Resuming: a run directory is always resumed (the run engine with ``resume=True``): rerunning the same command
keeps every finished prediction, retries samples that errored, and predicts the rest. The runner
(:func:`run_benchmark`) takes any per-sample ``predict`` function, so it is tested without a model;
:func:`model_predictor` builds the model-backed ones through the benchmark's task (:mod:`tenken.eval.tasks`).
Progress goes through the ``on_start`` / ``progress`` callbacks; nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tenken.core.artifacts import LoadReport, read_jsonl, write_json, write_jsonl
from tenken.core.errors import InputError
from tenken.core.runs import RunEvent, RunSummary, run_items
from tenken.eval.stats import bootstrap_ci
from tenken.eval.tasks import get_task
from tenken.eval.tasks.base import BenchmarkSpec, ModelSettings, Predict, Scored

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge


def check_images(samples: Sequence[Any]) -> list[str]:
    """Image paths of ``samples`` that do not exist.

    Raises:
        InputError: none exists at all (a wrong ``--data`` folder or ``--images``), so a run does not spend
            hours recording the same error.
    """
    paths = list(dict.fromkeys(p for s in samples for p in s.image_paths()))
    missing = [p for p in paths if not os.path.isfile(p)]
    if paths and len(missing) == len(paths):
        raise InputError(f"none of the {len(paths)} image files exists (first: {paths[0]}); check --data / --images")
    return missing


@dataclass
class PrimaryScore:
    """The headline per-sample metric of a run: its mean and 95 % bootstrap interval (None without samples)."""

    metric: str
    mean: float | None
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        """``{"metric", "mean", "ci95": [low, high] | None}``."""
        return {"metric": self.metric, "mean": self.mean, "ci95": list(self.ci95) if self.ci95 else None}


@dataclass
class RunResult:
    """What a benchmark run produced (``scores.json``).

    Attributes:
        benchmark, model, data, settings: what was run (as in ``run.json``).
        task: the benchmark's task name.
        n_samples: samples in the benchmark; n_resumed: predicted by an earlier run; n_predicted: predicted
            now; n_errors: of those, failed (their error lines are in ``predictions.jsonl``).
        predict_seconds: wall time of the predictions made now; seconds_per_sample: per prediction.
        scored: the scores (with ``input``: what was skipped or missing).
        primary: the headline per-sample metric with its interval.
        data_input: what the dataset reader skipped.
    """

    benchmark: str
    model: str
    data: str
    settings: dict[str, Any]
    task: str
    n_samples: int
    n_resumed: int
    n_predicted: int
    n_errors: int
    predict_seconds: float
    scored: Scored[Any]
    primary: PrimaryScore
    data_input: LoadReport = field(default_factory=LoadReport)

    @property
    def seconds_per_sample(self) -> float | None:
        """Seconds per prediction made in this run (None when none was made)."""
        return self.predict_seconds / self.n_predicted if self.n_predicted else None

    def to_dict(self) -> dict[str, Any]:
        """The ``scores.json`` content."""
        return {
            "benchmark": self.benchmark,
            "model": self.model,
            "data": self.data,
            "settings": self.settings,
            "task": self.task,
            "n_samples": self.n_samples,
            "n_resumed": self.n_resumed,
            "n_predicted": self.n_predicted,
            "n_errors": self.n_errors,
            "predict_seconds": self.predict_seconds,
            "seconds_per_sample": self.seconds_per_sample,
            "scores": self.scored.to_dict(),
            "primary": self.primary.to_dict(),
            "data_input": self.data_input.to_dict(),
        }


def run_benchmark(
    benchmark: BenchmarkSpec,
    samples: Sequence[Any],
    predict: Predict,
    out_dir: str | Path,
    model: str,
    data: str | Path = "",
    data_report: LoadReport | None = None,
    judge: LLMJudge | None = None,
    workers: int = 1,
    settings: dict[str, Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[RunEvent[Any]], None] | None = None,
) -> RunResult:
    """Predict the samples not yet done (resuming ``out_dir``), score them, write ``scores.json``.

    Args:
        benchmark: what is being run (its task decides the scorer).
        samples: the ground-truth samples.
        predict: ``sample -> dict`` of prediction fields (``{"prediction": str}``, ``{"box": [...] | None}``,
            or a report dict with ``"detections"``); an exception is recorded as that sample's error.
        out_dir: the run directory (created; reused to resume).
        model: the model spec (recorded; a different spec in an existing run directory is refused).
        data: the data path (recorded).
        data_report: what the dataset reader skipped (copied into ``scores.json``).
        judge: an optional LLM judge for VQA.
        workers: samples predicted at once in threads (for models behind a server, which batch concurrent
            requests; keep 1 for in-process models). Lines are written as they finish, in any order.
        settings: what else decides the predictions (e.g. ``{"detector": "hybrid", "params": [...]}``);
            recorded, and an existing run directory with other settings is refused like another model.
        on_start: called once with the number of samples to predict now.
        progress: called after each prediction with a :class:`~tenken.core.runs.RunEvent`.

    Raises:
        InputError: ``out_dir`` holds a run of another benchmark, model or settings.
    """
    out = Path(out_dir)
    meta = {"benchmark": benchmark.name, "model": model, "data": str(data), "settings": settings or {}}
    _claim_run_dir(out, meta)
    write_jsonl(out / "ground_truth.jsonl", (s.to_dict() for s in samples))
    run = run_items(
        samples,
        predict,
        out / "predictions.jsonl",
        key=lambda s: s.id,
        resume=True,
        workers=workers,
        on_start=on_start,
        progress=progress,
    )
    task = get_task(benchmark.task)
    scored = task.score(out / "ground_truth.jsonl", out / "predictions.jsonl", judge=judge, per_sample=True)
    rows = scored.per_sample or []
    scored.per_sample = None  # kept in per_sample.jsonl, not in scores.json
    write_jsonl(out / "per_sample.jsonl", rows)
    result = _result(meta, task.name, task.primary, len(samples), run, scored, rows, data_report)
    write_json(out / "scores.json", result.to_dict())
    return result


def _claim_run_dir(out: Path, meta: dict[str, Any]) -> None:
    """Create ``out`` with ``run.json``, or check that its ``run.json`` is of the same run.

    Raises:
        InputError: ``out`` holds a run of another benchmark, model or settings, or an unreadable run.json.
    """
    meta_path = out / "run.json"
    if not meta_path.is_file():
        from tenken import __version__

        write_json(meta_path, {**meta, "tenken": __version__})
        return
    report = LoadReport()
    old = next(iter(read_jsonl(meta_path, report)), None)
    if old is None:
        raise InputError(f"{meta_path}: not a readable run.json ({report.skipped[0] if report.skipped else 'empty'})")
    if (old.get("benchmark"), old.get("model")) != (meta["benchmark"], meta["model"]):
        raise InputError(
            f"{out} holds a run of benchmark {old.get('benchmark')!r} with model {old.get('model')!r}; "
            f"use another --out for {meta['benchmark']!r} with {meta['model']!r}"
        )
    if old.get("settings", {}) != meta["settings"]:  # e.g. another --detector or --param: not mixed
        raise InputError(
            f"{out} holds a run with settings {old.get('settings', {})}; use another --out for {meta['settings']}"
        )


def _result(
    meta: dict[str, Any],
    task: str,
    primary: str,
    n_samples: int,
    run: RunSummary,
    scored: Scored[Any],
    rows: list[dict[str, Any]],
    data_report: LoadReport | None,
) -> RunResult:
    values = [r[primary] for r in rows]
    return RunResult(
        **meta,
        task=task,
        n_samples=n_samples,
        n_resumed=run.skipped,
        n_predicted=run.done + run.failed,
        n_errors=run.failed,
        predict_seconds=run.seconds,
        scored=scored,
        primary=PrimaryScore(primary, float(np.mean(values)) if values else None, bootstrap_ci(values)),
        data_input=data_report or LoadReport(),
    )


def model_predictor(
    benchmark: BenchmarkSpec,
    model: str,
    lang: str | None = None,
    tasks: str | None = None,
    family: str | None = None,
    detector: str | None = None,
    inspect_options: dict[str, Any] | None = None,
    **vlm_options: Any,
) -> Predict:
    """The per-sample predict function of ``benchmark`` backed by the model ``model`` (a VLM spec).

    Built by the benchmark's task (:meth:`tenken.eval.tasks.base.BenchmarkTask.predictor`): VQA benchmarks
    call ``tenken.tasks.vqa.ask``, REC ones ``tenken.tasks.grounding.ground`` (the first, highest-ranked box is
    the answer; none is a miss), ``classify`` calls ``tenken.tasks.factory.classify_task`` with the task set
    ``tasks`` (default: the shipped example), and ``anomaly`` runs ``tenken.inspect.pipeline.Inspector`` with
    ``detector`` (``classical``, ``vlm`` or ``hybrid``; default ``classical`` when ``model`` is
    ``"classical"``, else ``hybrid``) and ``inspect_options`` (``change_params``, ``align_options``) as keyword
    arguments. ``family`` and ``vlm_options`` go to :func:`tenken.load_vlm`.
    """
    settings = ModelSettings(
        model=model,
        lang=lang,
        family=family,
        vlm_options=vlm_options,
        tasks=tasks,
        detector=detector,
        inspect_options=inspect_options or {},
    )
    return get_task(benchmark.task).predictor(benchmark, settings)
