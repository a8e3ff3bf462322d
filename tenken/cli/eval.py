"""``tenken eval``: score predictions against ground truth, run benchmarks, compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.cli.vlm import FamilyOpt, RemoteOpt, TokensOpt
from tenken.core.artifacts import LoadReport, write_jsonl
from tenken.core.errors import InputError

if TYPE_CHECKING:
    from tenken.eval.judge import LLMJudge
    from tenken.eval.tasks.base import BenchmarkSpec, Scored

GtOpt = Annotated[Path, typer.Option("--gt", help="Ground-truth JSONL file.")]
PredOpt = Annotated[Path, typer.Option("--pred", help="Predictions JSONL file.")]


def _writable_file(path: Path | None) -> Path | None:
    """Check an output file can be written *before* scoring (a folder or an unwritable place was a
    traceback after all the work)."""
    if path is None:
        return None
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name such as {path / 'per_sample.jsonl'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("a", encoding="utf-8").close()
    except OSError as exc:
        raise InputError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return path


def _writable_folder(path: Path | None) -> Path | None:
    """Check an output folder before the work (a file given as --plots was a FileExistsError traceback)."""
    from tenken.core.images import check_writable

    return None if path is None else check_writable(path)


PerSampleOpt = Annotated[
    Path | None,
    typer.Option(
        "--per-sample", help="Write each sample's scores to this JSONL (error analysis).", callback=_writable_file
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Exit with code 3 when any line was skipped or any id had no prediction."),
]


def _input_warnings(info: LoadReport, strict: bool) -> None:
    """Print what was skipped (to stderr) and honour ``--strict``."""
    n_skip, n_miss = len(info.skipped), len(info.missing)
    if n_skip:
        err_console.print(f"[yellow]warning:[/] {n_skip} line(s)/box(es) skipped:", highlight=False, soft_wrap=True)
        for s in info.skipped[:10]:
            where = f"{s.source}:{s.line}" if s.line is not None else s.source
            err_console.print(f"  {where} id={s.id}: {s.reason}", highlight=False, markup=False, soft_wrap=True)
        if n_skip > 10:
            err_console.print(f"  ... and {n_skip - 10} more (see --json output)", highlight=False)
    if n_miss:
        shown = ", ".join(info.missing[:10]) + (" ..." if n_miss > 10 else "")
        err_console.print(
            f"[yellow]warning:[/] {n_miss} id(s) have no prediction and were scored as empty: {escape(shown)}",
            highlight=False,
            soft_wrap=True,
        )
    for note in info.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if strict and (n_skip or n_miss):
        raise typer.Exit(3)


def _write_per_sample(scored: Scored[Any], path: Path | None) -> None:
    """Move the per-sample rows of ``scored`` into the JSONL file ``path``."""
    if path is None or scored.per_sample is None:
        return
    write_jsonl(path, scored.per_sample)
    scored.per_sample = None
    scored.per_sample_file = str(path)


def _print_markdown(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


app = typer.Typer(
    name="eval",
    help=(
        "Evaluate: score predictions against ground truth (detection F1 + mAP@50, grounding accuracy, "
        "Japanese ROUGE-L, LLM judge), run benchmarks with a model, and compare runs.\n\n"
        "Example: tenken eval detection --gt gt.jsonl --pred results.jsonl --json"
    ),
    no_args_is_help=True,
)
"""``tenken eval ...`` (a command group: ``tenken.cli`` adds it under ``eval``)."""


@app.command("detection")
def detection_cmd(
    gt: GtOpt,
    pred: PredOpt,
    labels: Annotated[
        bool, typer.Option("--labels", help="Also report recall and agreement per ground-truth label.")
    ] = False,
    per_sample: PerSampleOpt = None,
    strict: StrictOpt = False,
    json_out: JsonFlag = False,
) -> None:
    """Per-sample F1 (bbox only, bbox + label), recall by box size, and COCO mAP@50.

    GT lines: {"id", "boxes": [\\[x1,y1,x2,y2], ...], "labels": [...]}. PRED lines: tenken reports
    {"id", "detections": [{"box": [...], "label": ...}]} (e.g. results.jsonl of `tenken inspect`).

    Example: tenken eval detection --gt gt.jsonl --pred results.jsonl --labels --json
    """
    from tenken.eval.scoring import score_detection_files
    from tenken.eval.tables import markdown_table, size_table

    scored = score_detection_files(gt, pred, per_label=labels, per_sample=per_sample is not None)
    _write_per_sample(scored, per_sample)
    data = scored.to_dict()

    def human() -> None:
        head = [[k, data[k]] for k in ("f1_bbox", "f1_bbox_label", "map50", "map50_bbox")]
        head += [[k, data[k]] for k in ("n_samples", "n_gt", "n_pred")]
        _print_markdown(markdown_table(["metric", "value"], head) + "\n\n" + size_table(data))
        if scored.scores.per_label is not None:
            rows = [[r.name or "(no label)", r.n_boxes, r.recall, r.agreement] for r in scored.scores.per_label]
            _print_markdown("\n" + markdown_table(["label", "boxes", "recall", "agreement"], rows))

    emit(data, json_out, human)
    _input_warnings(scored.input, strict)

@app.command("rec")
def rec_cmd(
    gt: GtOpt, pred: PredOpt, per_sample: PerSampleOpt = None, strict: StrictOpt = False, json_out: JsonFlag = False
) -> None:
    """Grounding accuracy, Ref-L4 protocol: IoU > 0.5 / 0.75 / 0.9 and mAcc over 0.5:0.05:0.95.

    GT lines: {"id", "image", "expression", "box": \\[x1,y1,x2,y2]}. PRED lines: {"id", "box": [...]}
    (a missing line or a null box is a miss).

    Example: tenken eval rec --gt refs.jsonl --pred boxes.jsonl
    """
    from tenken.eval.scoring import score_rec_files
    from tenken.eval.tables import markdown_table

    scored = score_rec_files(gt, pred, per_sample=per_sample is not None)
    _write_per_sample(scored, per_sample)
    data = scored.to_dict()

    def human() -> None:
        rows = [[k, data[k]] for k in ("acc@0.5", "acc@0.75", "acc@0.9", "macc", "n")]
        _print_markdown(markdown_table(["metric", "value"], rows))
        size_rows = [[k, v["n"], v["acc@0.5"], v["macc"]] for k, v in scored.scores.by_size.items()]
        _print_markdown("\n" + markdown_table(["size", "n", "acc@0.5", "macc"], size_rows))

    emit(data, json_out, human)
    _input_warnings(scored.input, strict)

@app.command("vqa")
def vqa_cmd(
    gt: GtOpt,
    pred: PredOpt,
    judge: Annotated[
        str | None,
        typer.Option("--judge", help="LLM judge: openai:MODEL@BASE_URL (an OpenAI-compatible server)."),
    ] = None,
    judge_cache: Annotated[
        Path | None,
        typer.Option("--judge-cache", help="Judge reply cache folder (default ~/.cache/tenken/judge)."),
    ] = None,
    neologdn: Annotated[
        bool, typer.Option("--neologdn/--no-neologdn", help="Normalise with neologdn before ROUGE-L.")
    ] = True,
    per_sample: PerSampleOpt = None,
    strict: StrictOpt = False,
    json_out: JsonFlag = False,
) -> None:
    """Japanese ROUGE-L (x100), exact / normalised match, and an optional LLM judge (1–5).

    GT lines: {"id", "image", "question", "answer"}. PRED lines: {"id", "prediction"}.

    Example: tenken eval vqa --gt vqa.jsonl --pred answers.jsonl --judge openai:qwen2.5-72b@http://127.0.0.1:8000/v1
    """
    from tenken.eval.scoring import score_vqa_files
    from tenken.eval.tables import markdown_table

    judge_obj = _judge(judge, judge_cache)
    scored = score_vqa_files(
        gt, pred, judge=judge_obj, use_neologdn=None if neologdn else False, per_sample=per_sample is not None
    )
    _write_per_sample(scored, per_sample)
    data = scored.to_dict()

    def human() -> None:
        keys = ("rouge_l", "exact_match", "normalized_match", "llm_judge", "n")
        rows = [[k, data[k]] for k in keys if k in data]
        d = scored.scores.llm_judge_detail
        if d is not None:
            rows.append(["llm_judge: judged / failed / invalid", f"{d['n']} / {d['failed']} / {d['invalid']}"])
        _print_markdown(markdown_table(["metric", "value"], rows))

    emit(data, json_out, human)
    _input_warnings(scored.input, strict)

@app.command("classify")
def classify_cmd(
    gt: GtOpt, pred: PredOpt, per_sample: PerSampleOpt = None, strict: StrictOpt = False, json_out: JsonFlag = False
) -> None:
    """Classification accuracy and confusion matrix (factory task recognition).

    GT lines: {"id", "image", "label"}. PRED lines: {"id", "prediction"}.

    Example: tenken eval classify --gt tasks.jsonl --pred answers.jsonl --json
    """
    from tenken.eval.scoring import score_classification_files
    from tenken.eval.tables import markdown_table

    scored = score_classification_files(gt, pred, per_sample=per_sample is not None)
    _write_per_sample(scored, per_sample)
    data = scored.to_dict()

    def human() -> None:
        _print_markdown(markdown_table(["metric", "value"], [["accuracy", data["accuracy"]], ["n", data["n"]]]))
        cm = [[lab, *row] for lab, row in zip(data["labels"], data["confusion"], strict=True)]
        _print_markdown("\n" + markdown_table(["true \\ predicted", *data["labels"]], cm))

    emit(data, json_out, human)
    _input_warnings(scored.input, strict)

@app.command("run")
def run_cmd(
    benchmark: Annotated[str, typer.Argument(help="vqa, ja-vg-vqa-500, rec, ref-l4, classify or anomaly.")],
    model: Annotated[
        str,
        typer.Option("--model", "-m", help="Model spec for tenken.load_vlm ('classical' for anomaly)."),
    ],
    data: Annotated[Path, typer.Option("--data", "-d", help="Benchmark JSONL file or dataset folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (created; rerun to resume).")],
    split: Annotated[
        str | None,
        typer.Option("--split", help="Split of a published dataset (ja-vg-vqa-500: test; ref-l4: val)."),
    ] = None,
    images: Annotated[
        Path | None, typer.Option("--images", help="Image folder of a published dataset (default: DATA/images).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N samples.")] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Samples in flight at once (>1 only for openai: servers).")
    ] = 1,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Prompt language ja/en (default per benchmark).")
    ] = None,
    tasks: Annotated[
        Path | None,
        typer.Option("--tasks", help="Task-set file for 'classify' (default: shipped example)."),
    ] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="LLM judge for VQA: openai:MODEL@BASE_URL.")] = None,
    detector: Annotated[
        str | None,
        typer.Option("--detector", help="anomaly: classical, vlm or hybrid (default: hybrid with a model)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="anomaly: change-detector parameter KEY=VALUE (repeatable)."),
    ] = None,
    registered: Annotated[
        bool,
        typer.Option("--registered", help="anomaly: images already registered (fixed camera): no matching."),
    ] = False,
    family: FamilyOpt = None,
    max_new_tokens: TokensOpt = None,
    trust_remote_code: RemoteOpt = False,
    json_out: JsonFlag = False,
) -> None:
    """Run a benchmark with a model: predictions.jsonl, scores.json and a table in OUT.

    Interrupted runs resume where they stopped (finished predictions are kept; failed samples are retried).

    Example: tenken eval run vqa --model /models/Qwen2.5-VL-3B-Instruct --data vqa.jsonl --out runs/qwen3b

    Anomaly pairs with the classical detector, tuned (each setting into its own --out):
    tenken eval run anomaly --model classical --data pairs.jsonl --out runs/s6 --param sensitivity=6
    """
    from tenken.cli.progress import run_progress
    from tenken.eval.runners import model_predictor, run_benchmark
    from tenken.eval.tables import run_table
    from tenken.eval.tasks import get_benchmark

    spec = get_benchmark(benchmark)
    settings, inspect_options = _anomaly_settings(spec, detector, param, registered)
    samples, data_report = _read_samples(spec, data, split, images, limit)
    judge_obj = _judge(judge)
    options: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if trust_remote_code:
        options["trust_remote_code"] = True
    with err_console.status(f"loading {model} ..."):
        predict = model_predictor(
            spec,
            model,
            lang=lang,
            tasks=str(tasks) if tasks else None,
            family=family,
            detector=detector,
            inspect_options=inspect_options,
            **options,
        )
    with run_progress(spec.name) as callbacks:
        result = run_benchmark(
            spec,
            samples,
            predict,
            out,
            model,
            data,
            data_report,
            judge=judge_obj,
            workers=workers,
            settings=settings,
            on_start=callbacks.on_start,
            progress=callbacks.progress,
        )
    data_out = result.to_dict()
    emit(data_out, json_out, lambda: _print_markdown(run_table(data_out)))
    _input_warnings(result.scored.input, strict=False)


def _anomaly_settings(
    spec: BenchmarkSpec, detector: str | None, param: list[str] | None, registered: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(settings recorded in run.json, Inspector keyword arguments)`` of ``--detector/--param/--registered``.

    Raises:
        InputError: those options given for a benchmark that is not of the detection task.
    """
    if not (param or registered or detector):
        return {}, {}
    if spec.task != "detection":
        raise InputError(f"--detector, --param and --registered are for the anomaly benchmark, not {spec.name!r}")
    from tenken.cli.inspect import inspector_options

    settings = {"detector": detector, "params": sorted(param or []), "registered": registered}
    return settings, inspector_options(param, registered)


def _read_samples(
    spec: BenchmarkSpec, data: Path, split: str | None, images: Path | None, limit: int | None
) -> tuple[list[Any], LoadReport]:
    """The benchmark's samples (the first ``limit``), with a warning for image files that do not exist.

    Raises:
        InputError: no usable sample, or none of the image files exists.
    """
    from tenken.eval.runners import check_images

    samples, data_report = spec.read(data, split, images)
    samples = samples[:limit] if limit is not None else samples
    if not samples:
        raise InputError(f"{data}: no usable samples for benchmark {spec.name!r}")
    missing = check_images(samples)
    if missing:
        err_console.print(
            f"[yellow]warning:[/] {len(missing)} image file(s) do not exist (first: {escape(str(missing[0]))}); "
            "those samples will be recorded as errors",
            highlight=False,
            soft_wrap=True,
        )
    return samples, data_report


def _judge(spec: str | None, cache: Path | None = None) -> LLMJudge | None:
    """The LLM judge of ``--judge SPEC`` (None without one)."""
    if not spec:
        return None
    from tenken.eval.judge import LLMJudge

    return LLMJudge.from_spec(spec, cache_dir=cache)


@app.command("compare")
def compare_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (each with scores.json) or scores.json files.")],
    plots: Annotated[
        Path | None,
        typer.Option("--plots", help="Folder for PNG plots (default: none).", callback=_writable_folder),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Several runs side by side: a markdown table and, with --plots, PNG charts.

    Plots: headline metrics (bars), recall by box size (detection), accuracy vs IoU threshold (grounding).

    Example: tenken eval compare runs/qwen3b runs/qwen7b --plots runs/compare
    """
    from tenken.eval.compare import compare_runs

    comp = compare_runs(runs, plots)

    def human() -> None:
        _print_markdown(comp.table)
        for p in comp.plots:
            console.print(f"wrote {p}", highlight=False, markup=False, soft_wrap=True)

    emit(comp.to_dict(), json_out, human)
