"""``tenken ask``, ``ground``, ``count``, ``classify``: one VLM question per command.

The verbs are module-level functions on this module's :data:`app` (merged into the root by ``tenken.cli``);
each takes the shared options gathered in one :class:`ModelArgs`, so it can be called directly.

Every command takes ``--model SPEC`` (a checkpoint directory, a hub id, or ``openai:MODEL@BASE_URL``; default
from ``TENKEN_MODEL``), ``--family`` (required over a server), ``--lang ja|en``, ``--max-new-tokens``,
``--trust-remote-code``, ``--device``, ``--dtype`` and ``--json`` (declared once, in :data:`_SHARED`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from tenken.cli.output import JsonFlag, console, emit, err_console
from tenken.configs import Lang

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", envvar="TENKEN_MODEL",
        help="Checkpoint directory, hub id, or openai:MODEL@http://HOST:PORT/v1 (env TENKEN_MODEL).",
    ),
]  # fmt: skip
FamilyOpt = Annotated[
    str | None,
    typer.Option(
        "--family", help="qwen2.5-vl, qwen3-vl, qwen2-vl, plamo or llava (detected in process; required over a server)."
    ),
]
LangOpt = Annotated[str, typer.Option("--lang", help="Prompt language: ja or en.")]
TokensOpt = Annotated[
    int | None,
    typer.Option("--max-new-tokens", min=1, help="Cap on generated tokens (default 512; count 16, classify 32)."),
]
RemoteOpt = Annotated[bool, typer.Option("--trust-remote-code", help="Run the checkpoint's own code (PLaMo needs it).")]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="In process: cuda, cuda:1, cpu (default: cuda when present, else cpu).")
]
DtypeOpt = Annotated[
    str | None,
    typer.Option("--dtype", help="In process: float32, bfloat16, float16 (default: bfloat16 on CUDA, float32 on CPU)."),
]
BoxFormatOpt = Annotated[
    str | None, typer.Option("--box-format", help="Override the family's box frame: processed, rel1000, rel1, pixels.")
]
TileOpt = Annotated[
    int | None, typer.Option("--tile", min=32, help="--slice: tile side in pixels (default per model family).")
]
OverlapOpt = Annotated[
    float | None, typer.Option("--overlap", min=0.0, max=0.9, help="--slice: overlap of neighbouring tiles.")
]
TilePixelsOpt = Annotated[
    int | None, typer.Option("--tile-pixels", min=1024, help="--slice: most pixels sent per tile (downscaled).")
]


@dataclass
class ModelArgs:
    """The model options every VLM verb shares."""

    model: str
    family: str | None
    lang: str
    max_new_tokens: int | None
    trust_remote_code: bool
    device: str | None
    dtype: str | None
    box_format: str | None = None


def _session(args: ModelArgs, image: Path) -> tuple[Any, Any, Lang]:
    """``(vlm, image array, lang)``: options and the image are checked *before* the model loads (seconds to
    minutes), so a typo fails at once."""
    from tenken.core.errors import InputError
    from tenken.core.images import image_size, load_image
    from tenken.vlm.loader import load_vlm

    lang = args.lang.strip().lower()
    if lang not in ("ja", "en"):
        raise InputError(f"--lang must be ja or en, got {args.lang!r}")
    img = load_image(image)
    opts: dict[str, Any] = {"max_new_tokens": args.max_new_tokens, "box_format": args.box_format}
    if not args.model.startswith("openai:"):
        opts.update(trust_remote_code=args.trust_remote_code, device=args.device, dtype=args.dtype)
    with err_console.status(f"loading {args.model} ..."):
        vlm = load_vlm(args.model, family=args.family, **opts)
    try:
        vlm.processed_size(image_size(img))  # the family's own limits (Qwen-VL: aspect ratio below 200)
    except InputError as exc:
        raise InputError(f"{image}: {exc}") from None
    return vlm, img, lang  # type: ignore[return-value]


_SHARED: tuple[tuple[str, Any, Any], ...] = (
    ("model", ModelOpt, inspect.Parameter.empty),
    ("family", FamilyOpt, None),
    ("lang", LangOpt, "ja"),
    ("max_new_tokens", TokensOpt, None),
    ("trust_remote_code", RemoteOpt, False),
    ("device", DeviceOpt, None),
    ("dtype", DtypeOpt, None),
)
"""The options every VLM verb takes, in help order (then ``--json``): one list, so no verb misses one."""


app = typer.Typer()
"""``tenken ask / ground / count / classify`` (unnamed: merged into the root as top-level verbs)."""


def _vlm_command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(args: ModelArgs, json_out: bool, <own arguments and options>)`` as ``tenken NAME`` on
    :data:`app`, and return ``fn`` unchanged (callable directly, e.g. from a test).

    The command's signature (what typer turns into the CLI) is ``fn``'s own parameters followed by
    :data:`_SHARED` and ``--json``; the shared values reach ``fn`` gathered in one :class:`ModelArgs`.
    """

    def register_fn(fn: Callable[..., None]) -> Callable[..., None]:
        kw_only = inspect.Parameter.KEYWORD_ONLY
        own = [
            p.replace(kind=kw_only)
            for n, p in inspect.signature(fn, eval_str=True).parameters.items()
            if n not in ("args", "json_out")
        ]
        shared = [inspect.Parameter(n, kw_only, annotation=a, default=d) for n, a, d in _SHARED]
        params = [*own, *shared, inspect.Parameter("json_out", kw_only, annotation=JsonFlag, default=False)]

        def command(**kwargs: Any) -> None:
            json_out = kwargs.pop("json_out")
            args = ModelArgs(**{n: kwargs.pop(n) for n, _, _ in _SHARED})
            fn(args, json_out, **kwargs)

        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        app.command(name, rich_help_panel="Vision-language model")(command)
        return fn

    return register_fn


@_vlm_command("ask")
def ask_cmd(
    args: ModelArgs,
    json_out: bool,
    image: Annotated[
        str, typer.Argument(help="Image file (with --video: the question).", metavar="IMAGE|QUESTION")
    ],
    question: Annotated[str | None, typer.Argument(help="The question, in Japanese or English.")] = None,
    short: Annotated[bool, typer.Option("--short", help="Ask for a word or short phrase.")] = False,
    video: Annotated[
        Path | None,
        typer.Option("--video", help="Ask about a video clip: frames sampled evenly, sent as a list of images."),
    ] = None,
    frames: Annotated[int, typer.Option("--frames", min=1, help="--video: frames sampled (evenly).")] = 32,
) -> None:
    """Ask a question about an image (VQA), or about a short video clip.

    Example: tenken ask site.jpg "床に何が落ちていますか？" --model Qwen/Qwen2.5-VL-3B-Instruct

    A video clip: --frames frames (default 32, as PLM) decoded evenly over the clip, each at most 448x448 px.

    They go in order as a list of images with their times (every family and backend takes image lists).

    The models' native video input is not used. The JSON output lists the frame times.

    Example: tenken ask --video inspection.mp4 "ケーブルは途中で切れていますか？" -m Qwen/Qwen2.5-VL-7B-Instruct
    """
    if video is not None:
        _ask_video(args, json_out, video, image if question is None else None, short, frames)
        return
    from tenken.core.errors import InputError
    from tenken.tasks.vqa import ask

    if question is None:
        raise InputError("give IMAGE and QUESTION (or --video CLIP and QUESTION)")
    vlm, img, lang = _session(args, Path(image))
    with err_console.status("generating ..."):
        answer = ask(vlm, img, question, lang=lang, short=short)
    emit(
        {"image": image, "question": question, "answer": answer, "model": vlm.describe()},
        json_out,
        lambda: console.print(answer, highlight=False, markup=False),
    )


def _ask_video(args: ModelArgs, json_out: bool, video: Path, question: str | None, short: bool, frames: int) -> None:
    from tenken.core.errors import InputError
    from tenken.tasks.vqa import ask_video
    from tenken.vlm.loader import load_vlm
    from tenken.vlm.video import open_video

    if question is None:
        raise InputError("with --video give only the QUESTION (the clip is the --video file)")
    lang = args.lang.strip().lower()
    if lang not in ("ja", "en"):
        raise InputError(f"--lang must be ja or en, got {args.lang!r}")
    open_video(video)[0].release()  # an unreadable clip fails before the model loads
    opts: dict[str, Any] = {"max_new_tokens": args.max_new_tokens}
    if not args.model.startswith("openai:"):
        opts.update(trust_remote_code=args.trust_remote_code, device=args.device, dtype=args.dtype)
    with err_console.status(f"loading {args.model} ..."):
        vlm = load_vlm(args.model, family=args.family, **opts)
    with err_console.status(f"generating over {frames} frame(s) of {video.name} ..."):
        answer, times = ask_video(vlm, video, question, lang=lang, short=short, max_frames=frames)  # type: ignore[arg-type]
    emit(
        {"video": str(video), "question": question, "answer": answer, "frame_times_s": times,
         "model": vlm.describe()},
        json_out,
        lambda: console.print(answer, highlight=False, markup=False),
    )  # fmt: skip


@_vlm_command("ground")
def ground_cmd(
    args: ModelArgs,
    json_out: bool,
    image: Annotated[Path, typer.Argument(help="Image file.")],
    expression: Annotated[str, typer.Argument(help="What to find, e.g. 'カラーコーン' or 'all the cones'.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write an annotated PNG/JPEG here.")] = None,
    box_format: BoxFormatOpt = None,
    sliced: Annotated[
        bool, typer.Option("--slice", help="Large image: ground tile by tile (plus a whole-image view), merged.")
    ] = False,
    tile: TileOpt = None,
    overlap: OverlapOpt = None,
    tile_pixels: TilePixelsOpt = None,
    marks: Annotated[
        bool, typer.Option("--marks", help="Pick among numbered proposals (--proposals or --reference).")
    ] = False,
    proposals: Annotated[
        Path | None, typer.Option("--proposals", help="--marks: proposal boxes, JSON (e.g. a --json output).")
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="--marks: proposals = what changed since this photo.")
    ] = None,
    marks_out: Annotated[
        Path | None, typer.Option("--marks-out", help="--marks: write the numbered image the model saw.")
    ] = None,
) -> None:
    """Find every instance of an expression; boxes in image pixels (xyxy).

    Example: tenken ground site.jpg "カラーコーン" --model Qwen/Qwen2.5-VL-3B-Instruct --out cones.png

    Small objects in a 4K/8K frame (tiles at native resolution, one batched request each):
    tenken ground drone.jpg "ペットボトル" --slice --tile 1008 --overlap 0.2 -m Qwen/Qwen2.5-VL-7B-Instruct

    The model picks numbered proposals, so boxes are exactly the proposer's (no coordinates generated):
    tenken ground today.jpg "カラーコーン" --marks --reference before.jpg --marks-out marks.png -m ...
    """
    from tenken.core.errors import InputError
    from tenken.core.images import check_output_path, save_image
    from tenken.viz.draw import draw_detections

    if sliced and marks:
        raise InputError("--slice and --marks are separate modes; choose one")
    if marks and (proposals is None) == (reference is None):
        raise InputError("--marks needs exactly one source of proposals: --proposals FILE or --reference IMAGE")
    if not marks and (proposals or reference or marks_out):
        raise InputError("--proposals, --reference and --marks-out belong to --marks")
    check_slice_options(sliced, tile, overlap, tile_pixels)
    for path in (out, marks_out):
        if path is not None:
            check_output_path(path)
    props = None
    if marks and proposals is not None:
        from tenken.tasks.mark_grounding import read_proposals

        props = read_proposals(proposals)
    vlm, img, lang = _session(replace(args, box_format=box_format), image)
    warnings: list[str] = []
    with err_console.status("generating ..."):
        if marks:
            from tenken.tasks.mark_grounding import change_proposals, ground_by_marks
            from tenken.vlm.marks import render_marks

            if props is None:
                props = change_proposals(img, reference)  # type: ignore[arg-type]
            dets = ground_by_marks(vlm, img, expression, props, lang=lang, warnings_out=warnings)
            if marks_out is not None and len(props):
                save_image(render_marks(img, props).image, marks_out)
        elif sliced:
            from tenken.tasks.sliced import sliced_ground
            from tenken.vlm.slicing import slice_options

            opts = slice_options(vlm.family.name, tile=tile, overlap=overlap, pixel_budget=tile_pixels)
            dets = sliced_ground(vlm, img, expression, lang=lang, options=opts, warnings_out=warnings)
        else:
            from tenken.tasks.grounding import ground

            dets = ground(vlm, img, expression, lang=lang, warnings_out=warnings)
    if out is not None:
        save_image(draw_detections(img, dets), out)

    def human() -> None:
        from rich.markup import escape

        console.print(f"{len(dets)} box(es) for {expression!r}", markup=False)
        for r in dets.to_records():
            box = ", ".join(f"{v:.1f}" for v in r["box"])
            console.print(f"  {r['label']}: [{box}]", highlight=False, markup=False)
        for w in warnings:
            err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
        if out is not None:
            console.print(f"annotated image: {out}", markup=False)

    emit(
        {
            "image": str(image),
            "expression": expression,
            **dets.to_dict(),
            "warnings": warnings,
            "annotated": str(out) if out else None,
            "model": vlm.describe(),
        },
        json_out,
        human,
    )


@_vlm_command("count")
def count_cmd(
    args: ModelArgs,
    json_out: bool,
    image: Annotated[Path, typer.Argument(help="Image file.")],
    expression: Annotated[str, typer.Argument(help="What to count, e.g. 'ヘルメット' or 'helmets'.")],
    sliced: Annotated[
        bool,
        typer.Option("--slice", help="Large image: ground tile by tile, merge the boxes, count them once each."),
    ] = False,
    tile: TileOpt = None,
    overlap: OverlapOpt = None,
    tile_pixels: TilePixelsOpt = None,
) -> None:
    """Count the instances of an expression in an image.

    Example: tenken count crew.jpg "ヘルメットをかぶった人" --model Qwen/Qwen2.5-VL-3B-Instruct --json

    Small objects in a 4K/8K frame: the boxes found tile by tile, merged, then counted (an object in the overlap
    of two tiles counts once):
    tenken count drone.jpg "ペットボトル" --slice --tile 1008 --overlap 0.2 -m Qwen/Qwen2.5-VL-7B-Instruct
    """
    from tenken.tasks.counting import count

    check_slice_options(sliced, tile, overlap, tile_pixels)
    vlm, img, lang = _session(args, image)
    with err_console.status("generating ..."):
        if sliced:
            from tenken.tasks.sliced import sliced_count
            from tenken.vlm.slicing import slice_options

            opts = slice_options(vlm.family.name, tile=tile, overlap=overlap, pixel_budget=tile_pixels)
            n = sliced_count(vlm, img, expression, lang=lang, options=opts, **_tokens(args))
        else:
            n = count(vlm, img, expression, lang=lang, **_tokens(args))
    emit(
        {"image": str(image), "expression": expression, "count": n, "sliced": sliced, "model": vlm.describe()},
        json_out,
        lambda: console.print(n),
    )


@_vlm_command("classify")
def classify_cmd(
    args: ModelArgs,
    json_out: bool,
    image: Annotated[Path, typer.Argument(help="Image file (a worker at a station).")],
    tasks: Annotated[
        Path | None, typer.Option("--tasks", "-t", help="Task-set YAML/JSON (default: the shipped example).")
    ] = None,
) -> None:
    """Which factory task is the worker doing? Prints a task id from the task set, or 'unknown'.

    Example: tenken classify station3.jpg --tasks line3_tasks.yaml --model Qwen/Qwen2.5-VL-7B-Instruct
    """
    from tenken.configs import UNKNOWN, load_task_set
    from tenken.tasks.factory import classify_task

    taskset = load_task_set(tasks)
    vlm, img, lang = _session(args, image)
    with err_console.status("generating ..."):
        task = classify_task(vlm, img, taskset, lang=lang, **_tokens(args))
    name = taskset.display(task, lang) if task != UNKNOWN else UNKNOWN
    emit(
        {"image": str(image), "task": task, "name": name, "taskset": taskset.name, "model": vlm.describe()},
        json_out,
        lambda: console.print(f"{task} ({name})", highlight=False, markup=False),
    )


def check_slice_options(sliced: bool, tile: int | None, overlap: float | None, tile_pixels: int | None) -> None:
    """``--tile``/``--overlap``/``--tile-pixels`` without ``--slice`` is an :class:`InputError`."""
    from tenken.core.errors import InputError

    if not sliced and (tile is not None or overlap is not None or tile_pixels is not None):
        raise InputError("--tile, --overlap and --tile-pixels belong to --slice")


def _tokens(args: ModelArgs) -> dict[str, int]:
    """``max_new_tokens=`` for a task only when the user set it (count and classify have their own caps)."""
    return {} if args.max_new_tokens is None else {"max_new_tokens": args.max_new_tokens}
