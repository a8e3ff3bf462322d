"""``tenken inspect``: the main job (one pair, a manifest batch, or two folders); ``tenken report-schema``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.cli.vlm import OverlapOpt, TileOpt, TilePixelsOpt, check_slice_options

_HELP = """Find what is new or changed in TARGET compared with earlier REFERENCE photo(s) of the same place.

Aligns the best reference to the target, runs the pass-1 detector(s) and, with a VLM, labels each finding,
then writes a tenken.report/1 JSON report and an annotated image (target with boxes left, aligned reference
right). Boxes are xyxy pixels of the target. Exit code 1 when the pair could not be aligned (the report
says why) or, in batch mode, when some items failed (their lines in results.jsonl carry the error).

\b
One pair (writes OUT/report.json and OUT/annotated.png):
  tenken inspect examples/walkway/target.jpg examples/walkway/reference.jpg --out out/example
\b
A manifest of many pairs (JSONL: {"id": ..., "target": path, "reference": path or \\[paths]}),
resumable and shardable (writes OUT/results.jsonl, OUT/images/, OUT/index.html):
  tenken inspect --pairs examples/pairs.jsonl --out out/batch --resume
  tenken inspect --pairs flight.jsonl --out out/shard-0 --shard 0/4
  tenken inspect --pairs flight.jsonl --out out/big --engine ray --address ray://head:10001
\b
Two folders, paired by GPS telemetry (or by file name without it):
  tenken inspect --targets site/2026-05 --references site/2025-11 --out out/site
\b
With a vision-language model as second detector and labeller:
  tenken inspect t.jpg r.jpg --out out/t --detector hybrid --model Qwen/Qwen2.5-VL-7B-Instruct --lang en
\b
Large frames (4K-8K) where the anomaly is a few tens of pixels: the VLM looks tile by tile (the same tiles of
the target and the aligned reference, one batched request each, plus the whole pair), boxes merged; tile side,
overlap and pixels per tile default per model family (docs/slicing.md):
  tenken inspect t.jpg r.jpg -o out/t --detector hybrid --slice --tile 1008 --overlap 0.2 -m Qwen/Qwen2.5-VL-7B-Instruct
\b
Mark mode: the change detector's candidates are numbered on both photos, the VLM answers with numbers, and
the boxes are exactly the change detector's (unknown numbers become warnings):
  tenken inspect t.jpg r.jpg --out out/t --detector hybrid --marks -m Qwen/Qwen2.5-VL-7B-Instruct
\b
Two flight videos (frames every second, or every 5 m flown with a DJI .SRT beside each video; writes
OUT/video.json with one finding per object and its best frame, see docs/slicing.md):
  tenken inspect --video today.mp4 --reference-video before.mp4 --out out/video --every-m 5
\b
Tune the change detector (see docs/changedet.md):
  tenken inspect t.jpg r.jpg --out out/t --param sensitivity=6
"""


app = typer.Typer()
"""``tenken inspect`` and ``tenken report-schema`` (unnamed: merged into the root as top-level verbs)."""


@app.command(
    "inspect", help=_HELP, short_help="The main job: find and report what changed.", rich_help_panel="Inspection"
)
def inspect_cmd(
    target: Annotated[Path | None, typer.Argument(help="The new photo.", show_default=False)] = None,
    references: Annotated[
        list[Path] | None, typer.Argument(help="Earlier photo(s) of the same place.", show_default=False)
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out/inspect"),
    pairs: Annotated[Path | None, typer.Option("--pairs", help="JSONL manifest of items (batch mode).")] = None,
    targets: Annotated[Path | None, typer.Option("--targets", help="Folder of target photos (batch).")] = None,
    references_dir: Annotated[
        Path | None, typer.Option("--references", help="Folder of reference photos (with --targets).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Batch: keep results.jsonl, skip its finished ids and retry its failed ones (without it, the "
            "file is started afresh and the old one kept as results.jsonl.bak).",
        ),
    ] = False,
    shard: Annotated[
        str | None, typer.Option("--shard", help="Batch: I/N processes items I, I+N, ... (0-based).")
    ] = None,
    detector: Annotated[str, typer.Option("--detector", help="classical, vlm or hybrid.")] = "classical",
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", envvar="TENKEN_MODEL", help="VLM: checkpoint dir, hub id or openai:MODEL@URL."
        ),
    ] = None,
    family: Annotated[str | None, typer.Option("--family", help="VLM family (required over a server).")] = None,
    classes: Annotated[Path | None, typer.Option("--classes", help="Anomaly classes YAML/JSON.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Labels and prompts: ja or en.")] = "ja",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Change-detector parameter KEY=VALUE (repeatable).")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="With GPS telemetry: match the k nearest references.")] = 5,
    registered: Annotated[
        bool,
        typer.Option(
            "--registered",
            help="Images are already registered (fixed camera, orthophoto tiles): skip feature matching and "
            "use the identity homography.",
        ),
    ] = False,
    sliced: Annotated[
        bool,
        typer.Option("--slice", help="vlm/hybrid: the VLM looks tile by tile (large frames, small objects)."),
    ] = False,
    tile: TileOpt = None,
    overlap: OverlapOpt = None,
    tile_pixels: TilePixelsOpt = None,
    marks: Annotated[
        bool, typer.Option("--marks", help="hybrid: the VLM picks the change detector's candidates by number.")
    ] = False,
    video: Annotated[Path | None, typer.Option("--video", help="Today's flight video (video mode).")] = None,
    reference_video: Annotated[
        Path | None, typer.Option("--reference-video", help="The earlier video of the same route (with --video).")
    ] = None,
    every_s: Annotated[float, typer.Option("--every-s", min=0.01, help="Video: one frame every N seconds.")] = 1.0,
    every_m: Annotated[
        float | None, typer.Option("--every-m", min=0.01, help="Video: one frame every N metres flown (.SRT).")
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="Batch: local, or ray (Ray Data actors; pip install 'tenken[ray]').")
    ] = "local",
    address: Annotated[str | None, typer.Option("--address", help="--engine ray: Ray cluster address.")] = None,
    json_out: JsonFlag = False,
) -> None:
    from tenken.core.errors import InputError

    if engine not in ("local", "ray") or (engine == "ray" and pairs is None and targets is None):
        raise InputError(f"--engine must be local or ray (ray for batches only), got {engine!r}")
    if lang.strip().lower() not in ("ja", "en"):
        raise InputError(f"--lang must be ja or en, got {lang!r}")
    lang = lang.strip().lower()
    modes = [
        target is not None,
        pairs is not None,
        targets is not None or references_dir is not None,
        video is not None or reference_video is not None,
    ]
    if sum(modes) != 1:
        raise InputError(
            "give exactly one of: TARGET REFERENCE..., --pairs MANIFEST, --targets DIR --references DIR, or "
            "--video TODAY --reference-video BEFORE (see tenken inspect --help)"
        )
    if modes[3] and (video is None or reference_video is None):
        raise InputError("--video and --reference-video go together")
    check_slice_options(sliced, tile, overlap, tile_pixels)
    slicing = {"tile": tile, "overlap": overlap, "pixel_budget": tile_pixels} if sliced else None
    recipe = (detector, model, family, classes, lang, param, k, registered, slicing, marks)
    # the ray engine builds one Inspector per actor from this picklable recipe (the driver loads no model)
    inspector = functools.partial(_inspector, *recipe) if engine == "ray" else _inspector(*recipe)
    if video is not None and reference_video is not None:
        _video(inspector, video, reference_video, out, every_s, every_m, k, json_out)
        return
    if target is not None:
        if not references:
            raise InputError(f"{target}: give at least one REFERENCE photo after the target")
        _single(inspector, target, references, out, json_out)
        return
    if pairs is None and (targets is None or references_dir is None):
        raise InputError("--targets DIR and --references DIR go together")
    _batch(inspector, pairs, targets, references_dir, out, resume, shard, k, json_out, address)


@app.command("report-schema", rich_help_panel="Inspection")
def report_schema_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of printing (--ship: package file).")
    ] = None,
    ship: Annotated[bool, typer.Option("--ship", help="Regenerate tenken/schemas/report.schema.json.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Print (or write) the JSON Schema of the tenken.report/1 inspection report.

    The schema is JSON either way; with --out and --json, stdout gets {"wrote": PATH}.

    Example: tenken report-schema --out report.schema.json
    """
    from tenken.inspect.report import schema_text, write_report_schema

    if ship or out is not None:
        path = write_report_schema(None if ship else out)
        emit({"wrote": str(path)}, json_out, lambda: err_console.print(f"wrote {path}", highlight=False))
    else:
        typer.echo(schema_text(), nl=False)


def _inspector(
    detector: str,
    model: str | None,
    family: str | None,
    classes: Path | None,
    lang: str,
    param: list[str] | None,
    k: int,
    registered: bool = False,
    slicing: dict[str, Any] | None = None,
    marks: bool = False,
) -> Any:
    """The Inspector of the CLI options; ``slicing`` holds the ``--slice`` overrides (None: no slicing)."""
    from tenken.core.errors import InputError
    from tenken.inspect.pipeline import Inspector

    if detector not in ("classical", "vlm", "hybrid"):
        raise InputError(f"--detector must be classical, vlm or hybrid, got {detector!r}")
    if slicing is not None and detector == "classical":
        raise InputError("--slice is for --detector vlm or hybrid (the VLM looks tile by tile)")
    if marks and detector != "hybrid":
        raise InputError("--marks is a mode of --detector hybrid (the change detector proposes, the VLM picks)")
    vlm = None
    if detector in ("vlm", "hybrid"):
        if not model:
            raise InputError(f"--detector {detector} needs a model: --model SPEC (or TENKEN_MODEL)")
        from tenken.vlm.loader import load_vlm

        with err_console.status(f"loading {model} ..."):
            vlm = load_vlm(model, family=family)
    options = None
    if slicing is not None:
        from tenken.vlm.slicing import slice_options

        options = slice_options(vlm.family.name if vlm is not None else None, **slicing)
    return Inspector(
        detector=detector,
        classes=classes,
        lang=lang,  # type: ignore[arg-type]
        vlm=vlm,
        slicing=options,
        marks=marks,
        **inspector_options(param, registered, k),
    )


def inspector_options(param: list[str] | None, registered: bool, k: int | None = None) -> dict[str, Any]:
    """``Inspector`` keyword arguments from the shared CLI options (``tenken inspect``, ``tenken eval run
    anomaly``): ``change_params`` from ``--param KEY=VALUE``, ``align_options`` from ``--registered``/``--k``.

    Raises:
        InputError: a malformed or unknown ``--param``.
    """
    from tenken.changedet import ChangeParams

    align: dict[str, Any] = {} if k is None else {"k": k}
    if registered:
        align["registered"] = True
    return {"change_params": ChangeParams.from_assignments(param), "align_options": align}


def _video(
    inspector: Any,
    video: Path,
    reference_video: Path,
    out: Path,
    every_s: float,
    every_m: float | None,
    k: int,
    json_out: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tenken.core.artifacts import write_json
    from tenken.core.images import check_writable
    from tenken.inspect.video import inspect_video

    check_writable(out)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err_console, transient=json_out,
    ) as bar:  # fmt: skip
        task = bar.add_task(f"inspecting {video.name}", total=None)
        result = inspect_video(
            inspector, video, reference_video, every_s=every_s, every_m=every_m, k=min(k, 3),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    doc = result.to_dict()
    write_json(out / "video.json", doc)

    def human() -> None:
        console.print(
            f"[bold]{escape(str(video))}[/]: {len(result.frames)} frame(s) inspected, "
            f"{len(result.findings)} finding(s)",
            highlight=False,
            soft_wrap=True,
        )
        for f in result.findings:
            box = ", ".join(f"{v:.0f}" for v in f.box)
            console.print(
                f"  {f.label}  frame {f.frame} ({f.time_s:.1f} s)  [{box}]  seen in {len(f.frames)} frame(s)",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        for w in result.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
        console.print(f"wrote {out / 'video.json'}", highlight=False, soft_wrap=True, markup=False)

    summary = {key: value for key, value in doc.items() if key != "reports"}  # per-frame reports: in video.json
    emit({**summary, "out": str(out / "video.json")}, json_out, human)


def _single(inspector: Any, target: Path, references: list[Path], out: Path, json_out: bool) -> None:
    from tenken.core.images import check_writable
    from tenken.inspect.batch import inspect_to_folder

    check_writable(out)
    with err_console.status(f"inspecting {target.name} against {len(references)} reference(s)..."):
        result = inspect_to_folder(inspector, target, list(references), out)
    report = result.report

    def human() -> None:
        if report.alignment.ok:
            console.print(
                f"[bold]{escape(str(target))}[/]: aligned with {escape(str(report.reference.path))} "
                f"({report.alignment.inliers} inliers), {len(report.detections)} finding(s)",
                highlight=False,
                soft_wrap=True,
            )
        else:
            console.print(
                f"[bold red]{escape(str(target))}: not aligned[/] — {escape(str(report.alignment.reason))}",
                highlight=False,
                soft_wrap=True,
            )
        for d in report.detections:
            name = d.label_ja if inspector.lang == "ja" else d.label
            score = "" if d.score is None else f" {d.score:.2f}"
            box = ", ".join(f"{v:.0f}" for v in d.box)
            console.print(f"  {name}{score}  [{box}]  ({d.source})", highlight=False, soft_wrap=True, markup=False)
        for w in report.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
        console.print(
            f"wrote {out / 'report.json'} and {out / 'annotated.png'} in {report.timings_ms['total']:.0f} ms",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )

    emit(report.to_dict(), json_out, human)
    if not report.alignment.ok:
        raise typer.Exit(1)


def _batch(
    inspector: Any,
    pairs: Path | None,
    targets: Path | None,
    references_dir: Path | None,
    out: Path,
    resume: bool,
    shard: str | None,
    k: int,
    json_out: bool,
    address: str | None = None,
) -> None:
    from tenken.cli.progress import run_progress
    from tenken.core.images import check_writable
    from tenken.core.runs import parse_shard
    from tenken.inspect.batch import pair_folders, read_manifest, run_batch

    shard_spec = parse_shard(shard)
    check_writable(out)
    warnings: list[str] = []
    items = read_manifest(pairs) if pairs is not None else pair_folders(targets, references_dir, k, warnings)  # type: ignore[arg-type]
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    for it in items:
        if it.error is not None:
            err_console.print(f"[red]skipped[/] {escape(f'{it.id}: {it.error}')}", highlight=False, soft_wrap=True)
    with run_progress(
        "inspecting",
        transient=json_out,
        describe=lambda event: f"inspecting {event.item.id}",
        report_error=lambda event: event.item.error is None,  # manifest errors were shown above
    ) as callbacks:
        if isinstance(inspector, functools.partial):  # --engine ray
            from tenken.inspect.ray_engine import run_batch_ray

            summary = run_batch_ray(inspector, items, out, resume=resume, shard=shard_spec, address=address,
                                    progress=callbacks.progress, on_start=callbacks.on_start)  # fmt: skip
        else:
            summary = run_batch(inspector, items, out, resume=resume, shard=shard_spec,
                                progress=callbacks.progress, on_start=callbacks.on_start)  # fmt: skip
    if summary.previous is not None:
        err_console.print(
            f"[yellow]warning:[/] {escape(str(out))} held results of an earlier run: moved to "
            f"{escape(str(summary.previous))} (use --resume to continue a run instead)",
            highlight=False,
            soft_wrap=True,
        )
    data = {
        "out": str(summary.out),
        "results": str(summary.out / "results.jsonl"),
        "index": str(summary.out / "index.html"),
        "items": summary.total,
        "done": summary.done,
        "skipped_already_done": summary.skipped,
        "failed": summary.failed,
        "retried": summary.retried,
    }

    def human() -> None:
        console.print(
            f"{summary.done} inspected, {summary.failed} failed, {summary.skipped} already done, "
            f"{summary.retried} retried (of {summary.total}); results: {data['results']}; summary: {data['index']}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )

    emit(data, json_out, human)
    if summary.failed:
        raise typer.Exit(1)
