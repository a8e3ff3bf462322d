"""Resumable, shardable batch inspection over a manifest or two folders.

A manifest is JSON Lines, one item a line::

    {"id": "plantA-0001", "target": "2026-05/IMG_0001.JPG", "reference": ["2025-11/IMG_0001.JPG"]}

(``reference`` may be one path or a list; relative paths are relative to the manifest's folder). A run writes

- ``DIR/results.jsonl``: one ``tenken.report/1`` object per line (``id`` = the manifest id), or for an item that
  failed ``{"id", "target", "line", "error"}``. The run engine :func:`tenken.core.runs.run_items` writes it
  (each line whole, flushed and fsync'ed), so a run killed at any moment loses no finished result; ``resume``
  drops a trailing partial line, skips finished items and retries failed ones.
- ``DIR/images/<id>.jpg``: the annotated composite of each item.
- ``DIR/index.html``: a browsable summary (thumbnails, counts, warnings, errors), written at the start,
  every :data:`INDEX_REFRESH_S` seconds and at the end, so a killed run still has one.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenken.core.artifacts import LoadReport, complete_lines, iter_jsonl, write_atomic, write_json
from tenken.core.errors import InputError
from tenken.core.images import check_writable, save_image
from tenken.core.runs import RunEvent, run_items
from tenken.inspect.pipeline import Inspection, Inspector
from tenken.inspect.render import render_annotated

RESULTS = "results.jsonl"
IMAGES = "images"
INDEX = "index.html"
INDEX_REFRESH_S = 30.0
"""Seconds between rewrites of ``index.html`` during a run (it is also written at the start and the end)."""
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif", ".dng"})


@dataclass
class BatchItem:
    """One target to inspect, or a manifest line that could not be read (``error`` set).

    Attributes:
        id: the item's id (``line-N`` when the line had none).
        target: path of the target image.
        references: paths of its reference images.
        line: 1-based manifest line number (None for folder pairing).
        error: why the item cannot be run (recorded in results.jsonl instead of running it).
    """

    id: str
    target: Path | None
    references: list[Path]
    line: int | None = None
    error: str | None = None


def read_manifest(path: str | os.PathLike) -> list[BatchItem]:
    """Read a JSONL manifest; bad lines come back as items with ``error`` set (never an exception).

    Checked per line: valid JSON object, ``id`` (string or number), ``target`` (string), ``reference``
    (string or non-empty list of strings), and ids unique (a repeated id is an error item ``<id>#line-N``).

    Raises:
        InputError: the manifest file itself is missing or is a folder.
    """
    mpath = Path(path)
    if not mpath.is_file():
        raise InputError(f"{mpath}: manifest not found")
    items: list[BatchItem] = []
    seen: dict[str, int] = {}
    for n, obj, problem in _manifest_lines(mpath):
        if problem is not None:
            items.append(BatchItem(f"line-{n}", None, [], n, f"{mpath}:{n}: {problem}"))
            continue
        item = _manifest_item(obj, n, mpath.parent, mpath)
        if item.error is None and item.id in seen:
            item = BatchItem(
                f"{item.id}#line-{n}",
                item.target,
                item.references,
                n,
                f"{mpath}:{n}: duplicate id {item.id!r} (first on line {seen[item.id]}); item skipped",
            )
        elif item.error is None:
            seen[item.id] = n
        items.append(item)
    return items


def _manifest_lines(mpath: Path) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    """``(line, object, None)`` for each JSON-object line and ``(line, {}, reason)`` for each unreadable one,
    in file order (:func:`tenken.core.artifacts.iter_jsonl` records the unreadable ones as it goes)."""
    report = LoadReport()
    shown = 0
    for n, obj in iter_jsonl(mpath, report):
        for skipped in report.skipped[shown:]:
            yield skipped.line or 0, {}, skipped.reason
        shown = len(report.skipped)
        yield n, obj, None
    for skipped in report.skipped[shown:]:
        yield skipped.line or 0, {}, skipped.reason


def _manifest_item(obj: dict[str, Any], n: int, base: Path, mpath: Path) -> BatchItem:
    where = f"{mpath}:{n}"
    raw_id = obj.get("id")
    item_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id).strip() else f"line-{n}"
    problems = []
    if item_id == f"line-{n}":
        problems.append("missing 'id'")
    target = obj.get("target")
    if not isinstance(target, str) or not target:
        problems.append("missing 'target' (a path)")
    ref = obj.get("reference", obj.get("references"))
    refs = [ref] if isinstance(ref, str) else ref
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r for r in refs):
        problems.append("missing 'reference' (a path or a non-empty list of paths)")
    if problems:
        return BatchItem(item_id, None, [], n, f"{where}: {', '.join(problems)}")
    # "~/..." is the user's home, as in a shell (it was taken as a folder named "~" beside the manifest)
    return BatchItem(item_id, base / Path(target).expanduser(), [base / Path(r).expanduser() for r in refs], n)


def pair_folders(
    targets: str | os.PathLike, references: str | os.PathLike, k: int = 5, warnings: list[str] | None = None
) -> list[BatchItem]:
    """Pair every image in ``targets`` with references from ``references``.

    By telemetry when the target and references have GPS positions (the ``k`` nearest references, chosen
    once with a :class:`~tenken.align.retrieve.ReferenceIndex`); otherwise by file name (the references
    with the same file stem, case-insensitive; several are all candidates). A target with neither gets an
    error item. Item ids are the targets' file stems, or their full names when two targets share a stem.

    Raises:
        InputError: a folder is missing or holds no images.
    """
    from tenken.align.retrieve import ReferenceIndex
    from tenken.align.telemetry import read_telemetry

    warnings = warnings if warnings is not None else []
    tdir, rdir = Path(targets), Path(references)
    target_files, reference_files = _images_in(tdir, "targets"), _images_in(rdir, "references")
    index = ReferenceIndex.from_paths(reference_files, warnings=warnings)
    by_stem: dict[str, list[Path]] = {}
    for p in reference_files:
        by_stem.setdefault(p.stem.lower(), []).append(p)
    stems = Counter(t.stem for t in target_files)
    items = []
    for t in target_files:
        # the id is the file stem, or the whole file name when two targets share a stem (IMG_1.jpg, IMG_1.png)
        tid = t.stem if stems[t.stem] == 1 else t.name
        tel = read_telemetry(t, warnings) if len(index) else None
        if tel is not None:
            refs = [Path(c.name) for c in index.candidates(tel, k=k)]
            items.append(BatchItem(tid, t, refs))
        elif t.stem.lower() in by_stem:
            items.append(BatchItem(tid, t, by_stem[t.stem.lower()]))
        else:
            items.append(
                BatchItem(
                    tid,
                    t,
                    [],
                    error=f"{t}: no GPS telemetry and no reference named {t.stem}.* in {rdir}; item skipped",
                )
            )
    return items


def _images_in(folder: Path, role: str) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: {role} folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: the {role} folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def inspect_to_folder(
    inspector: Inspector,
    target: str | os.PathLike,
    references: list[str | os.PathLike],
    out: str | os.PathLike,
    id: str | None = None,
) -> Inspection:
    """One pair: ``out/report.json`` and ``out/annotated.png`` (what ``tenken inspect T R --out DIR`` writes).

    The report's ``id`` is ``id``, by default the target's file name without extension (as in folder
    batches), so the report can be scored with ``tenken eval detection`` (a null id matched nothing).

    Raises:
        InputError: ``out`` is not writable (checked before the inspection).
        ImageLoadError: an image cannot be read.
    """
    folder = check_writable(out)
    result = inspector.run(str(target), [str(r) for r in references], id=id if id is not None else Path(target).stem)
    picture = render_annotated(result, inspector.classes, inspector.lang)
    write_json(folder / "report.json", result.report)
    save_image(picture, folder / "annotated.png", png_compress_level=1)
    return result


@dataclass
class BatchSummary:
    """What a batch run did (counts as in :class:`tenken.core.runs.RunSummary`): items done now, skipped
    (already done), failed, retried (had an error line from an earlier run); the output folder;
    ``previous``: where an earlier results file went when the run started afresh (``results.jsonl.bak``)."""

    out: Path
    done: int = 0
    skipped: int = 0
    failed: int = 0
    total: int = 0
    retried: int = 0
    previous: Path | None = None


def image_name(item_id: str) -> str:
    """File stem of an item's annotated image: the id itself when it is a safe file name, else the id with
    unsafe characters replaced plus a short hash of the id, so distinct ids never share an image
    (``a/b`` and ``a_b``, or ``東京`` and ``大阪``, which would otherwise both become ``a_b`` / ``item``)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", item_id).strip("._-")  # never a leading "-" (read as an option)
    if safe == item_id:
        return safe
    digest = hashlib.sha1(item_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-{digest}" if safe else digest


def run_batch(
    inspector: Inspector,
    items: Sequence[BatchItem],
    out: str | os.PathLike,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    progress: Callable[[RunEvent[BatchItem]], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Inspect every item, appending one line per item to ``out/results.jsonl``.

    The run follows the policy of :func:`tenken.core.runs.run_items` (one line per item, durable appends,
    ``resume`` skips finished items and **retries failed ones**, a fresh start keeps the old file as
    ``results.jsonl.bak``, shards by position). ``index.html`` is written when the work starts, every
    :data:`INDEX_REFRESH_S` seconds and at the end.

    Args:
        inspector: the configured pipeline (its feature cache serves the whole batch).
        items: from :func:`read_manifest` or :func:`pair_folders` (an item with ``error`` set fails as it is).
        resume: keep an existing results file and go on with the items not yet done (or that failed).
        shard: ``(I, N)``: only items at positions ``I, I+N, I+2N, ...`` (0-based, manifest order).
        progress: called after each item with a :class:`~tenken.core.runs.RunEvent`.
        on_start: called once with the number of items this run will process.

    Raises:
        InputError: the output folder is not writable (checked before any work).
    """
    folder = check_writable(out)
    (folder / IMAGES).mkdir(exist_ok=True)
    refreshed = time.monotonic()

    def start(n: int) -> None:
        write_index(folder)  # a run killed before its end still leaves a summary of what it finished
        if on_start is not None:
            on_start(n)

    def step(event: RunEvent[BatchItem]) -> None:
        nonlocal refreshed
        if time.monotonic() - refreshed > INDEX_REFRESH_S:
            write_index(folder)
            refreshed = time.monotonic()
        if progress is not None:
            progress(event)

    run = run_items(
        items,
        lambda item: _run_item(inspector, item, folder),
        folder / RESULTS,
        key=lambda item: item.id,
        resume=resume,
        shard=shard,
        error_row=lambda item, _: {"target": str(item.target) if item.target else None, "line": item.line},
        on_start=start,
        progress=step,
    )
    write_index(folder)
    return BatchSummary(folder, run.done, run.skipped, run.failed, run.total, run.retried, run.previous)


def _run_item(inspector: Inspector, item: BatchItem, folder: Path) -> dict[str, Any]:
    """Inspect one item and save its annotated image; returns the report's dict.

    Raises:
        InputError: the item could not be read from the manifest (its ``error``); any other exception of the
            inspection (recorded by the run engine as that item's error line).
    """
    if item.error is not None:
        raise InputError(item.error)
    inspection = inspector.run(str(item.target), [str(r) for r in item.references], id=item.id)
    try:
        picture = render_annotated(inspection, inspector.classes, inspector.lang, max_side=1280)
        save_image(picture, folder / IMAGES / f"{image_name(item.id)}.jpg", quality=85)
    except (OSError, ValueError) as exc:
        inspection.report.warnings.append(f"annotated image not written: {exc}")
    return inspection.report.to_dict()


def write_index(folder: str | os.PathLike) -> Path:
    """(Re)write ``index.html`` from ``results.jsonl``: one row per item with thumbnail, counts, problems."""
    folder = Path(folder)
    rows = complete_lines(folder / RESULTS, repair=False)
    n_err = sum(1 for r in rows if "error" in r)
    n_found = sum(1 for r in rows if r.get("detections"))
    body = []
    for r in rows:
        rid = html.escape(str(r.get("id")))
        if "error" in r:
            body.append(
                f'<tr class="err"><td>{rid}</td><td></td><td>—</td><td>error: {html.escape(str(r["error"]))}</td></tr>'
            )
            continue
        img = f"{IMAGES}/{image_name(str(r.get('id')))}.jpg"
        dets = r.get("detections", [])
        counts: dict[str, int] = {}
        for d in dets:
            counts[d["label_ja"]] = counts.get(d["label_ja"], 0) + 1
        labels = ", ".join(f"{html.escape(k)} ×{v}" for k, v in counts.items())
        alignment = r.get("alignment") or {}
        problems = [*r.get("warnings", []), *alignment.get("warnings", [])]
        if not alignment.get("ok", True):
            problems.insert(0, f"not aligned: {alignment.get('reason')}")
        notes = "<br>".join(html.escape(w) for w in problems)
        body.append(
            f'<tr><td>{rid}</td><td><a href="{img}"><img src="{img}" loading="lazy"></a></td>'
            f"<td>{len(dets)}<br>{labels}</td><td>{notes}</td></tr>"
        )
    page = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>tenken inspect</title><style>'
        "body{font-family:system-ui,'Hiragino Sans','Yu Gothic UI',Meiryo,'Noto Sans CJK JP','IPAexGothic',sans-serif;"
        "margin:1em}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:4px;vertical-align:top}img{max-width:480px}"
        "tr.err{background:#fee}</style></head><body>"
        f"<h1>tenken inspect</h1><p>{len(rows)} item(s), {n_found} with findings, {n_err} error(s)</p>"
        "<table><tr><th>id</th><th>target | reference</th><th>findings</th><th>warnings / errors</th></tr>"
        + "".join(body)
        + "</table></body></html>\n"
    )
    return write_atomic(folder / INDEX, page)
