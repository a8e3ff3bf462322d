"""The images a data job runs over: a folder (searched recursively) or a manifest.

Manifests: a ``.txt`` file with one image path a line, or a ``.jsonl`` file with one object a line holding
``image`` (or ``path``) and optionally ``id``. Relative paths are resolved against the manifest's folder.
Item ids are stable (the path relative to the folder, without suffix; or the manifest's ``id``), so a job
resumes by them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tenken.core.artifacts import LoadReport, iter_jsonl
from tenken.core.errors import InputError
from tenken.data.synth.recipe import SynthItem
from tenken.inspect.batch import IMAGE_SUFFIXES


def image_items(source: str | os.PathLike) -> list[SynthItem]:
    """One :class:`SynthItem` per image of a folder or manifest, in a stable order.

    Raises:
        InputError: ``source`` is missing, holds no image, names a missing image, or repeats an id.
    """
    src = Path(source).expanduser()
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{src}: the folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [SynthItem(p.relative_to(src).with_suffix("").as_posix(), p) for p in files]
    if not src.is_file():
        raise InputError(f"{src}: no such folder or manifest file")
    if src.suffix.lower() in IMAGE_SUFFIXES:
        return [SynthItem(src.stem, src)]
    items: list[SynthItem] = []
    if src.suffix.lower() == ".jsonl":
        report = LoadReport()
        for n, row in iter_jsonl(src, report):
            raw = row.get("image", row.get("path"))
            if not isinstance(raw, str):
                raise InputError(f"{src}:{n}: a manifest line needs an 'image' path")
            path = _resolve(src, raw, n)
            items.append(SynthItem(str(row.get("id") or Path(raw).with_suffix("").as_posix()), path))
        if report.skipped:
            s = report.skipped[0]
            raise InputError(f"{src}:{s.line}: {s.reason}")
    else:
        for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                path = _resolve(src, line.strip(), n)
                items.append(SynthItem(Path(line.strip()).with_suffix("").as_posix(), path))
    if not items:
        raise InputError(f"{src}: the manifest lists no image")
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise InputError(f"{src}: the id {it.id!r} appears twice (ids must be unique)")
        seen.add(it.id)
    return items


def _resolve(manifest: Path, raw: str, line: int) -> Path:
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else manifest.parent / path
    if not path.is_file():
        raise InputError(f"{manifest}:{line}: image not found: {raw}")
    return path
