"""``run_synth``: one recipe over a folder or manifest, as a resumable job.

An output folder holds::

    items.jsonl      the run engine's journal: one line per item (its kept and rejected samples, or its error)
    samples.jsonl    the kept training samples (tenken's training-data format), in item order
    rejected.jsonl   the rejected samples, same format, each with provenance.rejected_by (filter and reason)
    run.json         recipe, options, teachers, counts and the kept/rejected tally per filter

The journal is the truth: it is written through :func:`tenken.core.runs.run_items` (each item appended whole,
fsync'ed; a killed job resumes with ``resume=True``, items whose line is an error are retried), and the two
sample files are rebuilt from it atomically at the end of every run, so they never hold a sample twice or lose
one. With ``shard=(I, N)`` the four files get a ``.I-of-N`` suffix before their extension.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenken.core.artifacts import complete_lines, write_json, write_jsonl
from tenken.core.runs import RunEvent, RunSummary, run_items
from tenken.data.format import sample_row
from tenken.data.synth.recipe import RECIPES, SynthContext, SynthItem
from tenken.data.synth.teachers import Teachers


@dataclass
class SynthSummary:
    """What a job did.

    Attributes:
        run: the run engine's summary (items done, skipped on resume, failed, retried).
        out: the output folder.
        samples, rejected: paths of the kept and rejected sample files.
        kept: kept samples in the whole journal (all runs).
        dropped: rejected samples in the whole journal.
        rejected_by: ``{filter name: rejected samples}``.
        failed_items: items whose latest line is an error (``{id: error}``).
    """

    run: RunSummary
    out: Path
    samples: Path
    rejected: Path
    kept: int = 0
    dropped: int = 0
    rejected_by: dict[str, int] = field(default_factory=dict)
    failed_items: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "out": str(self.out),
            "samples": str(self.samples),
            "rejected": str(self.rejected),
            "items": {
                "total": self.run.total,
                "done": self.run.done,
                "skipped": self.run.skipped,
                "failed": self.run.failed,
                "retried": self.run.retried,
            },
            "kept": self.kept,
            "dropped": self.dropped,
            "rejected_by": self.rejected_by,
            "failed_items": self.failed_items,
            "seconds": round(self.run.seconds, 3),
        }


def output_paths(out: Path, shard: tuple[int, int] | None) -> dict[str, Path]:
    """``{"items", "samples", "rejected", "run"}`` file paths of a job's output folder (shard suffix added)."""
    tag = f".{shard[0]}-of-{shard[1]}" if shard else ""
    return {
        "items": out / f"items{tag}.jsonl",
        "samples": out / f"samples{tag}.jsonl",
        "rejected": out / f"rejected{tag}.jsonl",
        "run": out / f"run{tag}.json",
    }


def run_synth(
    recipe: str,
    source: str | os.PathLike,
    out: str | os.PathLike,
    teachers: Teachers,
    options: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    workers: int = 1,
    limit: int | None = None,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[RunEvent[SynthItem]], None] | None = None,
) -> SynthSummary:
    """Run ``recipe`` over ``source`` into the folder ``out`` (layout: module docstring).

    Args:
        recipe: a registered recipe name (``tenken data recipes`` lists them).
        source: an image folder or manifest (``translate``: a training JSONL file).
        out: the output folder (created).
        teachers: the teacher models; the recipe checks it has those it needs before any work.
        options: the recipe's options by name (validated; unknown names are an error).
        resume: keep an earlier run's journal and do only what is missing or failed.
        shard: ``(I, N)``: only items ``I, I+N, ...``.
        workers: items in flight at once (threads; for teachers behind a server).
        limit: only the first ``limit`` items (before sharding).
        on_start, progress: the run engine's callbacks (a CLI progress bar).

    Raises:
        InputError: an unknown recipe or option, a missing teacher, an empty or unreadable source.
    """
    cls = RECIPES.get(recipe)
    opts = cls.parse_options(options or {})
    teachers.require(recipe, *cls.needs)
    rec = cls()
    rec.prepare(opts)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = output_paths(out_dir, shard)
    items = rec.items(source, opts)
    if limit is not None:
        items = items[:limit]
    ctx = SynthContext(cls.name, teachers, opts, out_dir, cls.prompts, (*cls.needs, *cls.uses))

    def work(item: SynthItem) -> dict[str, Any]:
        outcome = rec.run(item, ctx)
        return {
            "source": None if item.image is None else ctx.image_ref(item.image),
            "kept": [sample_row(s) for s in outcome.kept],
            "rejected": [sample_row(s) for s in outcome.rejected],
        }

    def error_row(item: SynthItem, message: str) -> dict[str, Any]:
        return {"source": None if item.image is None else ctx.image_ref(item.image)}

    summary = run_items(
        items,
        work,
        paths["items"],
        key=lambda it: it.id,
        resume=resume,
        shard=shard,
        workers=workers,
        error_row=error_row,
        on_start=on_start,
        progress=progress,
    )
    result = export_samples(paths, summary)
    write_json(
        paths["run"],
        {
            "recipe": cls.name,
            "source": str(source),
            "options": opts.model_dump(mode="json"),
            "teachers": teachers.ids(),
            "prompts": [p.version for p in cls.prompts],
            **result.to_dict(),
        },
    )
    return result


def export_samples(paths: dict[str, Path], run: RunSummary) -> SynthSummary:
    """Rebuild ``samples`` and ``rejected`` from the journal (atomically; one copy of each sample)."""
    rows = complete_lines(paths["items"], repair=True)
    kept: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:  # one line per id after the engine's compaction; a success is never shadowed by an error
        rid = str(row.get("id"))
        if rid not in latest or "error" in latest[rid]:
            latest[rid] = row
    for rid, row in latest.items():
        if "error" in row:
            failed[rid] = str(row["error"])
            continue
        kept.extend(row.get("kept", []))
        rejected.extend(row.get("rejected", []))
    write_jsonl(paths["samples"], kept)
    write_jsonl(paths["rejected"], rejected)
    by = Counter(str((r.get("provenance", {}).get("rejected_by") or {}).get("name", "?")) for r in rejected)
    return SynthSummary(
        run, paths["items"].parent, paths["samples"], paths["rejected"], len(kept), len(rejected), dict(by), failed
    )
