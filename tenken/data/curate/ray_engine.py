"""``--engine ray``: the scoring and writing stages as Ray Data pipelines across a cluster.

Input shards become a Ray dataset (one row per shard). Scoring: ``map_batches`` runs a pool of actors (each
loads the NSFW and similarity models once; one CPU each, one GPU each when ``device`` is ``cuda``) that write
each shard's scored rows to ``<out>/scored/`` on a filesystem every node sees. Writing: a pool of actors that
hold the kept samples' decisions writes each curated shard. After each stage the driver records one line per
shard through the run engine (so ``--resume`` and the progress files behave exactly as with the local engine);
the cheap corpus-wide step runs on the driver between them.

``ray.init()`` is called when Ray is not initialised yet: it joins the cluster named by ``RAY_ADDRESS`` or
starts a local one. Every node needs ``tenken[curate]`` installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tenken.core.errors import TenkenError, require_module
from tenken.core.runs import RunEvent, error_message, run_items
from tenken.data.curate.options import CurateOptions
from tenken.data.curate.pipeline import Decision, write_shard
from tenken.data.curate.score import Models, score_shard
from tenken.data.curate.shards import Shard


class ShardScorer:
    """A Ray actor: scores the shards of each batch (``{"path", "kind"}`` columns), models loaded once."""

    def __init__(self, opts: dict[str, Any], out: str) -> None:
        self.opts = _options(opts)
        self.out = Path(out)
        self.models = Models(self.opts)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """One result row per shard: the run-engine line fields, or ``error``."""
        return _per_shard(batch, lambda s: score_shard(s, self.opts, self.out, self.models))


class ShardWriting:
    """A Ray actor: writes the curated shard of each batch's shards from the kept samples' decisions."""

    def __init__(self, kept: dict[str, dict[int, Decision]], opts: dict[str, Any], out: str) -> None:
        self.kept = kept
        self.opts = _options(opts)
        self.out = Path(out)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """One result row per shard: the run-engine line fields, or ``error``."""
        return _per_shard(batch, lambda s: write_shard(s, self.kept.get(s.name, {}), self.opts, self.out))


def _options(d: dict[str, Any]) -> CurateOptions:
    return CurateOptions(**{**d, "formats": tuple(d["formats"]), "url_words": tuple(d["url_words"])})


def _per_shard(batch: dict[str, np.ndarray], work: Callable[[Shard], dict[str, Any]]) -> dict[str, list[Any]]:
    names, lines, errors = [], [], []
    for path, kind in zip(batch["path"].tolist(), batch["kind"].tolist(), strict=True):
        shard = Shard(Path(path), kind)
        names.append(shard.name)
        try:
            lines.append(work(shard))
            errors.append("")
        except Exception as exc:  # one bad shard is recorded by the driver, the others go on
            lines.append({})
            errors.append(error_message(exc))
    return {"name": names, "line": lines, "error": errors}


def _map_shards(
    todo: list[Shard], actor: type, kwargs: dict[str, Any], gpu: int, progress_file: Path, resume: bool,
    on_start: Callable[[int], None] | None, progress: Callable[[RunEvent], None] | None,
) -> None:  # fmt: skip
    """Run ``actor`` over ``todo`` (one shard per batch), then record one run-engine line per shard."""
    ray = require_module("ray", "ray", "--engine ray")
    if not ray.is_initialized():
        ray.init()
    results: dict[str, dict[str, Any]] = {}
    if todo:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        ds = ray.data.from_items([{"path": str(s.path), "kind": s.kind} for s in todo], override_num_blocks=len(todo))
        mapped = ds.map_batches(
            actor, fn_constructor_kwargs=kwargs, batch_size=1, batch_format="numpy",
            concurrency=max(1, min(cpus, len(todo))), num_cpus=1, num_gpus=gpu,
        )  # fmt: skip
        results = {r["name"]: r for r in mapped.iter_rows()}

    def record(shard: Shard) -> dict[str, Any]:
        r = results.get(shard.name)
        if r is None or r["error"]:
            raise TenkenError(r["error"] if r else f"{shard.path}: not processed by the Ray job")
        return r["line"]

    run_items(todo, record, progress_file, key=lambda s: s.name, resume=resume, on_start=on_start,
              progress=progress)  # fmt: skip


def score_with_ray(
    todo: list[Shard], opts: CurateOptions, out: Path, progress_file: Path, resume: bool,
    on_start: Callable[[int], None] | None = None, progress: Callable[[RunEvent], None] | None = None,
) -> None:  # fmt: skip
    """Score ``todo`` with Ray Data actors, then record one run-engine line per shard in ``progress_file``."""
    gpu = 1 if (opts.device or "").startswith("cuda") else 0
    kwargs = {"opts": opts.to_dict(), "out": str(out)}
    _map_shards(todo, ShardScorer, kwargs, gpu, progress_file, resume, on_start, progress)


def write_with_ray(
    todo: list[Shard], kept: dict[str, dict[int, Decision]], opts: CurateOptions, out: Path, progress_file: Path,
    resume: bool, on_start: Callable[[int], None] | None = None, progress: Callable[[RunEvent], None] | None = None,
) -> None:  # fmt: skip
    """Write the curated shards of ``todo`` with Ray Data actors; one run-engine line per shard."""
    kwargs = {"kept": {s.name: kept.get(s.name, {}) for s in todo}, "opts": opts.to_dict(), "out": str(out)}
    _map_shards(todo, ShardWriting, kwargs, 0, progress_file, resume, on_start, progress)
