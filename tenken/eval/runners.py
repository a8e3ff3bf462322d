"""Benchmark runners: predict each sample with a model, write ``predictions.jsonl``, score ``scores.json``.

A run directory holds:

- ``run.json`` — benchmark, model spec, data path, tenken version (a rerun with another model or benchmark
  into the same directory is refused, so predictions of two models are never mixed);
- ``ground_truth.jsonl`` — the samples in tenken's JSONL format (so ``tenken eval vqa|rec|...`` can rescore);
- ``predictions.jsonl`` — one line per sample, appended and flushed as soon as it is predicted; a sample
  whose prediction raised is written as ``{"id", "error"}``;
- ``per_sample.jsonl`` — each sample's scores (for error analysis and paired comparison of runs);
- ``scores.json`` — the scores (see :mod:`tenken.eval.scoring`), the headline ("primary") per-sample metric
  with its 95 % bootstrap interval, what was skipped, errors and timing.

Resuming: rerunning the same command keeps every finished prediction, retries samples that errored, and
predicts the rest. The runner core (:func:`run_benchmark`) takes any per-sample ``predict`` function, so it
is tested without a model; :func:`model_predictor` builds the model-backed ones (VLM tasks from
``tenken.tasks``, the inspection pipeline for anomaly pairs), importing them only when called.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.errors import InputError
from tenken.eval import formats
from tenken.eval.formats import AnomalySample, LoadReport, RECSample, TaskSample, VQASample
from tenken.eval.stats import PRIMARY, bootstrap_ci

Predict = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class BenchmarkSpec:
    """A named benchmark: how to read its data and which scorer applies.

    Attributes:
        name: the CLI name (``tenken eval run NAME``).
        task: the scorer: ``"vqa"``, ``"rec"``, ``"classify"`` or ``"detection"``.
        load: ``path -> (samples, LoadReport)``.
        lang: the prompt language used by the model-backed predictor.
        short: VQA only: ask for a short answer.
        description: one line for ``--help``.
        has_split: ``load`` takes a ``split=`` keyword (published datasets).
    """

    name: str
    task: str
    load: Callable[[Path], tuple[list[Any], LoadReport]]
    lang: str
    short: bool
    description: str
    has_split: bool = False

    def read(
        self, path: str | Path, split: str | None = None, images_dir: str | Path | None = None
    ) -> tuple[list[Any], LoadReport]:
        """Read the benchmark's samples from ``path`` (``split`` and ``images_dir`` only for published
        datasets, whose image folder is separate from the annotation file)."""
        if (split is not None or images_dir is not None) and not self.has_split:
            raise InputError(
                f"benchmark {self.name!r} reads image paths from its JSONL; --split/--images are for "
                "published datasets (ja-vg-vqa-500, ref-l4)"
            )
        kwargs: dict[str, Any] = {}
        if split is not None:
            kwargs["split"] = split
        if images_dir is not None:
            kwargs["images_dir"] = images_dir
        return self.load(Path(path), **kwargs)


BENCHMARKS: dict[str, BenchmarkSpec] = {
    b.name: b
    for b in (
        BenchmarkSpec("vqa", "vqa", formats.read_vqa, "ja", False, "VQA JSONL {id,image,question,answer}"),
        BenchmarkSpec("ja-vg-vqa-500", "vqa", formats.read_ja_vg_vqa_500, "ja", True,
                      "SakanaAI/JA-VG-VQA-500 local copy (folder with data/test-*.parquet)", True),
        BenchmarkSpec("rec", "rec", formats.read_rec, "ja", False, "REC JSONL {id,image,expression,box}"),
        BenchmarkSpec("ref-l4", "rec", formats.read_ref_l4, "en", False,
                      "JierunChen/Ref-L4 local copy (folder with ref-l4-val.parquet and images/)", True),
        BenchmarkSpec("classify", "classify", formats.read_classification, "ja", False,
                      "task classification JSONL {id,image,label}"),
        BenchmarkSpec("anomaly", "detection", formats.read_anomaly, "ja", False,
                      "anomaly pairs JSONL {id,target,reference,boxes,labels} through the inspect pipeline"),
    )
}  # fmt: skip


def get_benchmark(name: str) -> BenchmarkSpec:
    """The benchmark called ``name`` (``InputError`` listing the known ones otherwise)."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise InputError(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS)}") from None


def image_paths(sample: Any) -> list[str]:
    """The image files a sample needs (target and references for anomaly pairs)."""
    if isinstance(sample, AnomalySample):
        return [sample.target, *sample.reference]
    return [sample.image]


def check_images(samples: Sequence[Any]) -> list[str]:
    """Image paths of ``samples`` that do not exist; raises ``InputError`` when none exists at all (a wrong
    ``--data`` folder or ``--images``), so a run does not spend hours recording the same error."""
    paths = list(dict.fromkeys(p for s in samples for p in image_paths(s)))
    missing = [p for p in paths if not os.path.isfile(p)]
    if paths and len(missing) == len(paths):
        raise InputError(f"none of the {len(paths)} image files exists (first: {paths[0]}); check --data / --images")
    return missing


def ground_truth_line(sample: Any) -> dict[str, Any]:
    """A sample as a line of tenken's JSONL format (absolute image paths)."""
    if isinstance(sample, VQASample):
        return {"id": sample.id, "image": sample.image, "question": sample.question, "answer": sample.answer}
    if isinstance(sample, RECSample):
        return {"id": sample.id, "image": sample.image, "expression": sample.expression,
                "box": [float(v) for v in sample.box]}  # fmt: skip
    if isinstance(sample, TaskSample):
        return {"id": sample.id, "image": sample.image, "label": sample.label}
    if isinstance(sample, AnomalySample):
        return {"id": sample.id, "target": sample.target, "reference": sample.reference,
                "boxes": sample.truth.xyxy.tolist(), "labels": sample.truth.labels}  # fmt: skip
    raise TypeError(f"not a benchmark sample: {type(sample).__name__}")


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _finished(pred_path: Path, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Successful prediction lines of an earlier run (first per id); error lines and junk are dropped."""
    done: dict[str, dict[str, Any]] = {}
    if not pred_path.is_file():
        return done
    for raw in pred_path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line cut by an interruption
        if isinstance(obj, dict) and str(obj.get("id")) in ids and "error" not in obj:
            done.setdefault(str(obj["id"]), obj)
    return done


def score_run(task: str, gt_path: Path, pred_path: Path, judge: Any = None) -> dict[str, Any]:
    """Score a run directory's files with the scorer for ``task`` (with ``per_sample`` rows)."""
    from tenken.eval import scoring

    if task == "vqa":
        return scoring.score_vqa_files(gt_path, pred_path, judge=judge, per_sample=True)
    if task == "rec":
        return scoring.score_rec_files(gt_path, pred_path, per_sample=True)
    if task == "classify":
        return scoring.score_classification_files(gt_path, pred_path, per_sample=True)
    if task == "detection":
        return scoring.score_detection_files(gt_path, pred_path, per_sample=True)
    raise InputError(f"unknown task {task!r}")


def run_benchmark(
    benchmark: BenchmarkSpec,
    samples: Sequence[Any],
    predict: Predict,
    out_dir: str | Path,
    model: str,
    data: str | Path = "",
    data_report: LoadReport | None = None,
    judge: Any = None,
    progress: bool = True,
    workers: int = 1,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Predict the samples not yet done, append each to ``predictions.jsonl``, score, write ``scores.json``.

    Args:
        benchmark: what is being run (decides the scorer).
        samples: the ground-truth samples.
        predict: ``sample -> dict`` of prediction fields (``{"prediction": str}``, ``{"box": [...] | None}``,
            or a report dict with ``"detections"``); an exception is recorded as that sample's error.
        out_dir: the run directory (created; reused to resume).
        model: the model spec (recorded; a different spec in an existing run directory is refused).
        data: the data path (recorded).
        data_report: what the dataset reader skipped (copied into ``scores.json``).
        judge: an optional :class:`~tenken.eval.judge.LLMJudge` for VQA.
        progress: show a rich progress bar.
        workers: samples predicted at once in threads (for models behind a server, which batch concurrent
            requests; keep 1 for in-process models). Lines are written as they finish, in any order.
        settings: what else decides the predictions (e.g. ``{"detector": "hybrid", "params": [...]}``);
            recorded, and an existing run directory with other settings is refused like another model.

    Returns:
        The ``scores.json`` content.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"benchmark": benchmark.name, "model": model, "data": str(data), "settings": settings or {}}
    meta_path = out / "run.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text(encoding="utf-8"))
        if (old.get("benchmark"), old.get("model")) != (meta["benchmark"], meta["model"]):
            raise InputError(
                f"{out} holds a run of benchmark {old.get('benchmark')!r} with model {old.get('model')!r}; "
                f"use another --out for {meta['benchmark']!r} with {meta['model']!r}"
            )
        if old.get("settings", {}) != meta["settings"]:  # e.g. another --detector or --param: not mixed
            raise InputError(
                f"{out} holds a run with settings {old.get('settings', {})}; use another --out for {meta['settings']}"
            )
    else:
        from tenken import __version__

        meta_path.write_text(json.dumps({**meta, "tenken": __version__}, ensure_ascii=False, indent=2) + "\n")
    gt_path = out / "ground_truth.jsonl"
    _write_jsonl(gt_path, [ground_truth_line(s) for s in samples])

    pred_path = out / "predictions.jsonl"
    ids = {s.id for s in samples}
    done = _finished(pred_path, ids)
    _write_jsonl(pred_path, [done[s.id] for s in samples if s.id in done])  # compact: drop errors and junk
    todo = [s for s in samples if s.id not in done]

    errors = 0
    t0 = time.perf_counter()
    with (
        pred_path.open("a", encoding="utf-8") as fh,
        _progress(progress, benchmark.name, len(todo)) as advance,
    ):

        def write(text: str, failed: bool) -> None:
            nonlocal errors
            errors += failed
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            advance()

        if workers <= 1:
            for s in todo:
                write(*_predict_line(predict, s))
        else:
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_predict_line, predict, s) for s in todo]
                try:
                    for fut in as_completed(futures):
                        write(*fut.result())
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    seconds = time.perf_counter() - t0

    scores = score_run(benchmark.task, gt_path, pred_path, judge=judge)
    rows = scores.pop("per_sample")
    _write_jsonl(out / "per_sample.jsonl", rows)
    primary = PRIMARY[benchmark.task]
    ci = bootstrap_ci([r[primary] for r in rows])
    result = {
        **meta,
        "task": benchmark.task,
        "n_samples": len(samples),
        "n_resumed": len(done),
        "n_predicted": len(todo),
        "n_errors": errors,
        "predict_seconds": seconds,
        "seconds_per_sample": seconds / len(todo) if todo else None,
        "scores": scores,
        "primary": {"metric": primary, "mean": _mean(rows, primary), "ci95": list(ci) if ci else None},
        "data_input": (data_report or LoadReport()).to_dict(),
    }
    from tenken.cli.output import to_json_text

    (out / "scores.json").write_text(to_json_text(result) + "\n", encoding="utf-8")
    return result


def _predict_line(predict: Predict, sample: Any) -> tuple[str, bool]:
    """The JSONL line of one sample's prediction, and whether it failed (then the line holds the error)."""
    try:
        fields = predict(sample)
        text = json.dumps(
            {"id": sample.id, **{k: v for k, v in fields.items() if k != "id"}},
            ensure_ascii=False,
            default=_json_default,
        )
        return text, False
    except Exception as exc:  # one failing sample must not stop the batch; it is recorded
        return json.dumps({"id": sample.id, "error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False), True


def _mean(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    return float(np.mean([r[key] for r in rows])) if rows else None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class _progress:
    """A rich progress bar (or nothing) yielding an ``advance()`` callable."""

    def __init__(self, show: bool, name: str, total: int) -> None:
        self.show, self.name, self.total = show, name, total
        self._bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.show or self.total == 0:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from tenken.cli.output import err_console

        self._bar = Progress(
            TextColumn(f"[bold]{self.name}[/]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err_console, transient=True,
        )  # fmt: skip
        self._bar.__enter__()
        task = self._bar.add_task(self.name, total=self.total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


# -- model-backed predictors (imported lazily) ----------------------------------------------------------


def _report_dict(report: Any) -> dict[str, Any]:
    """A report as its JSON dict (``Report.to_json()``; pydantic models by alias; dicts as they are)."""
    if isinstance(report, dict):
        return report
    to_json = getattr(report, "to_json", None)
    if callable(to_json):
        data = to_json()
        return json.loads(data) if isinstance(data, str) else dict(data)
    if hasattr(report, "model_dump"):
        return report.model_dump(mode="json", by_alias=True)
    raise TypeError(f"cannot turn a {type(report).__name__} report into JSON")


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

    VQA benchmarks call ``tenken.tasks.vqa.ask``, REC ones ``tenken.tasks.grounding.ground`` (the first,
    highest-ranked box is the answer; none is a miss), ``classify`` calls
    ``tenken.tasks.factory.classify_task`` with the task set ``tasks`` (default: the shipped example), and
    ``anomaly`` runs ``tenken.inspect.pipeline.Inspector`` with ``detector`` (``classical``, ``vlm`` or
    ``hybrid``; default ``classical`` when ``model`` is ``"classical"``, else ``hybrid``) and
    ``inspect_options`` (``change_params``, ``align_options``) as keyword arguments.
    ``family`` and ``vlm_options`` go to :func:`tenken.load_vlm`.
    """
    lang = lang or benchmark.lang
    if benchmark.task == "detection":
        try:
            from tenken.inspect.pipeline import Inspector
        except ImportError as exc:
            raise InputError(f"benchmark {benchmark.name!r} needs the inspection pipeline ({exc})") from None

        if model in ("", "classical"):
            if detector not in (None, "classical"):
                raise InputError(f"detector {detector!r} needs a VLM: pass --model SPEC instead of 'classical'")
            inspector = Inspector(detector="classical", lang=lang, **(inspect_options or {}))
        else:
            vlm = _load_vlm(model, family, vlm_options)
            inspector = Inspector(detector=detector or "hybrid", lang=lang, vlm=vlm, **(inspect_options or {}))

        def predict_anomaly(s: AnomalySample) -> dict[str, Any]:
            report = _report_dict(inspector.inspect(s.target, s.reference, id=s.id))
            return {k: v for k, v in report.items() if k != "id"}

        return predict_anomaly

    vlm = _load_vlm(model, family, vlm_options)
    if benchmark.task == "vqa":
        from tenken.tasks.vqa import ask

        def predict_vqa(s: VQASample) -> dict[str, Any]:
            return {"prediction": ask(vlm, s.image, s.question, lang=lang, short=benchmark.short)}

        return predict_vqa
    if benchmark.task == "rec":
        from tenken.tasks.grounding import ground

        def predict_rec(s: RECSample) -> dict[str, Any]:
            dets = ground(vlm, s.image, s.expression, lang=lang)
            return {"box": dets.xyxy[0].tolist() if len(dets) else None, "n_boxes": len(dets)}

        return predict_rec
    if benchmark.task == "classify":
        from tenken.configs import load_task_set
        from tenken.tasks.factory import classify_task

        taskset = load_task_set(tasks)

        def predict_task(s: TaskSample) -> dict[str, Any]:
            return {"prediction": classify_task(vlm, s.image, taskset, lang=lang)}

        return predict_task
    raise InputError(f"benchmark {benchmark.name!r} has no model predictor")


def _load_vlm(spec: str, family: str | None, options: dict[str, Any]) -> Any:
    import tenken

    return tenken.load_vlm(spec, family=family, **{k: v for k, v in options.items() if v is not None})
