"""``tenken align``: put a reference photo on top of a target photo (homography, warp, mask, composite)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tenken.cli.output import JsonFlag, console, emit, err_console

if TYPE_CHECKING:
    from tenken.align.types import Alignment


app = typer.Typer()
"""The ``align`` verb (merged into the root app by :mod:`tenken.cli`)."""


@app.command("align", rich_help_panel="Alignment")
def align_cmd(
    target: Annotated[Path, typer.Argument(help="The new photo (its pixel frame is the output frame).")],
    references: Annotated[
        list[Path],
        typer.Argument(help="One or more earlier photos of the same place; the best is chosen."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write warped_reference.png, valid_mask.png, composite.jpg, alignment.json.",
        ),
    ] = None,
    k: Annotated[
        int,
        typer.Option(
            "--k",
            min=1,
            help="With telemetry: match only the k best references by position, altitude and viewing direction.",
        ),
    ] = 5,
    radius_m: Annotated[
        float | None,
        typer.Option(
            "--radius-m", min=0.0, help="With GPS telemetry: ignore references farther than this (metres)."
        ),
    ] = None,
    no_telemetry: Annotated[
        bool, typer.Option("--no-telemetry", help="Ignore GPS telemetry: every reference is a candidate.")
    ] = False,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            help="Flight log: a per-photo table (CSV/JSON, e.g. an exiftool -csv export; rows override the "
            "photos' own GPS/attitude, matched by file name) or the references' AirData/Litchi CSV (its "
            "photo events are paired with the references in capture-time order).",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Say for each reference why it was chosen or skipped: distance, altitude difference, "
            "angle between viewing directions, retrieval score, alignment score.",
        ),
    ] = False,
    views: Annotated[
        str,
        typer.Option("--views", help="Affine view synthesis for strong viewpoint change: auto, on, off."),
    ] = "auto",
    max_side: Annotated[
        int,
        typer.Option(
            "--max-side", min=0, help="Longest side (px) of the copies SIFT runs on; 0 = full resolution (slow)."
        ),
    ] = 1024,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Keep reference features here between runs.")
    ] = None,
    lightglue: Annotated[
        Path | None,
        typer.Option("--lightglue", help="sift_lightglue.pth weights: match with LightGlue (kornia)."),
    ] = None,
    registered: Annotated[
        bool,
        typer.Option("--registered", help="Already registered (fixed camera): skip matching, just warp."),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Warp the best of REFERENCE(s) onto TARGET (homography, mask, composite).

    Prints the chosen reference, the homography (reference -> target pixels) and quality figures; with
    --out writes the warped reference, its valid-pixel mask and a side-by-side composite (target left).
    Exit code 1 when no reference could be aligned with confidence.

    With telemetry (EXIF GPS, drone XMP, or --log) only the --k best references are matched: the score adds
    horizontal distance, altitude difference and the angle between viewing directions (gimbal yaw/pitch);
    a reference looking too far away to overlap is skipped. --explain prints why, per reference (the JSON
    always has it under "explain").

    Examples:
      tenken align site/2026-05/DJI_0042.JPG site/2025-11/*.JPG --out aligned/ --json
      tenken align new.JPG old/*.JPG --k 3 --radius-m 30 --explain
      tenken align new.JPG old/*.JPG --log old/exiftool.csv --explain
    """
    from tenken.align.match import FeatureCache
    from tenken.align.pair import align_best
    from tenken.core.errors import InputError

    view_mode = {"auto": "auto", "on": True, "off": False}.get(views.lower())
    if view_mode is None:
        raise InputError(f"--views must be auto, on or off, got {views!r}")
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; --out names a folder for the outputs")
    matcher = None
    if lightglue is not None:
        from tenken.align.lightglue import LightGlueMatcher

        matcher = LightGlueMatcher(lightglue)
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    retrieval = _log_telemetry(log, target, references) if log is not None and not no_telemetry else {}
    with err_console.status(f"aligning {len(references)} reference(s) to {target.name}..."):
        result = align_best(
            target,
            [str(r) for r in references],
            **retrieval,
            k=k,
            telemetry=None if no_telemetry else "auto",
            radius_m=radius_m,
            views=view_mode,
            max_side=max_side,
            cache=cache,
            matcher=matcher,
            registered=registered,
        )
    data = {"target": str(target), **result.to_dict()}
    if out is not None and result.ok:
        data["outputs"] = _write_outputs(out, target, result)
    if out is not None:
        _write_json(out, data)

    emit(data, json_out, lambda: _print_result(result, target, data, explain))
    if not result.ok:
        raise typer.Exit(1)


def _print_result(result: Alignment, target: Path, data: dict, explain: bool) -> None:
    """The human summary of ``tenken align``: verdict, homography and figures, candidates or the explanation,
    warnings, files written."""
    from rich.markup import escape

    total_ms = result.timings_ms.get("total", 0)
    if not result.ok:  # the rejected estimate's matrix and figures would only mislead
        console.print(f"[bold red]not aligned[/]: {escape(str(result.reason))}", highlight=False, soft_wrap=True)
        console.print(f"time {total_ms:.0f} ms", highlight=False)
    else:
        console.print(f"[bold green]aligned[/] {escape(f'{result.reference} -> {target}')}", soft_wrap=True)
        rows = ["  [" + "  ".join(f"{v: .6g}" for v in row) + "]" for row in result.homography]
        console.print("homography (reference -> target px):\n" + "\n".join(rows), highlight=False)
        console.print(
            f"inliers {result.inliers}  inlier ratio {result.inlier_ratio:.2f}  "
            f"reprojection {result.mean_reprojection_px:.2f} px  "
            f"selection score {result.selection_score:.1f} px  "
            f"valid {result.valid_fraction:.1%}  time {total_ms:.0f} ms",
            highlight=False,
            soft_wrap=True,
        )
    if explain:
        _print_explain(result.explain)
    elif len(result.candidates) > 1:
        console.print(f"candidates: {', '.join(result.candidates)}", highlight=False, markup=False)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    for name, path in data.get("outputs", {}).items():
        console.print(f"wrote {name}: {path}", highlight=False, soft_wrap=True, markup=False)


def _log_telemetry(log: Path, target: Path, references: list[Path]) -> dict:
    """``index`` and ``target_telemetry`` for :func:`align_best` from a per-photo flight log merged over the
    files' own telemetry."""
    from tenken.align.flightlog import is_flight_track, read_flight_log
    from tenken.align.retrieve import ReferenceIndex
    from tenken.align.telemetry import read_telemetry

    warnings: list[str] = []
    index = ReferenceIndex.from_paths([str(r) for r in references], log=log, warnings=warnings)
    # a per-photo log may list the target too; a flight track belongs to the references' flight
    rows = {} if is_flight_track(log) else read_flight_log(log)
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False, markup=False)
    return {"index": index, "target_telemetry": read_telemetry(target, log=rows.get(target.name))}


def _print_explain(rows: list[dict]) -> None:
    """One line per reference retrieval looked at (see ``Alignment.explain``); lines wrap on narrow terminals."""
    from rich.markup import escape

    def num(v: float | None, fmt: str, unit: str) -> str:
        return "-" if v is None else format(v, fmt) + unit

    colour = {"chosen": "green", "aligned, not the best": "cyan", "not aligned": "red", "not retrieved": "yellow"}
    console.print("references / 参照 (distance, altitude difference, angle between views, retrieval score, alignment):")
    for r in rows:
        figures = (
            f"dist {num(r['distance_m'], '.1f', ' m')}  Δalt {num(r['altitude_diff_m'], '+.1f', ' m')}  "
            f"angle {num(r['angle_deg'], '.1f', '°')}  retrieval {num(r['retrieval_score'], '.1f', '')}  "
            f"align {num(r['selection_score'], '.1f', ' px')} ({num(r['inliers'], 'd', ' inliers')})"
        )
        console.print(
            f"  [{colour.get(r['decision'], 'white')}]{escape(r['decision'])}[/] {escape(Path(r['name']).name)}: "
            f"{escape(figures)} — {escape(r['why'])}",
            highlight=False,
            soft_wrap=True,
        )


def _write_json(out: Path, data: dict) -> None:
    from tenken.core.artifacts import write_json
    from tenken.core.errors import InputError

    try:
        write_json(out / "alignment.json", data)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None


def _write_outputs(out: Path, target: Path, result: object) -> dict[str, str]:
    import numpy as np

    from tenken.align.warp import composite
    from tenken.core.images import load_image, save_image

    warped = result.warped_reference  # type: ignore[attr-defined]
    mask = result.valid_mask  # type: ignore[attr-defined]
    paths = {
        "warped_reference": save_image(warped, out / "warped_reference.png"),
        "valid_mask": save_image(
            np.repeat((mask.astype(np.uint8) * 255)[:, :, None], 3, axis=2), out / "valid_mask.png"
        ),
        "composite": save_image(
            composite(load_image(target), warped, titles=("target / 対象", "reference / 参照")),
            out / "composite.jpg",
        ),
    }
    return {k: str(v) for k, v in paths.items()}
