"""``--engine ray``: the scoring stage as a Ray Data pipeline across a cluster.

Input shards become a Ray dataset (one row per shard); ``map_batches`` runs a pool of scoring actors (each
loads the NSFW and similarity models once; one CPU each, one GPU each when ``device`` is ``cuda``), and each
actor writes its shard's scored rows to ``<out>/scored/`` on a filesystem every node sees. The driver then
records one line per shard through the run engine (so ``--resume`` and the progress file behave exactly as with
the local engine) and runs the cheap corpus-wide step and the writing itself.

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
from tenken.data.curate.score import Models, score_shard
from tenken.data.curate.shards import Shard


class ShardScorer:
    """A Ray actor: scores the shards of each batch (``{"path", "kind"}`` columns), models loaded once."""

    def __init__(self, opts: dict[str, Any], out: str) -> None:
        self.opts = CurateOptions(**{**opts, "formats": tuple(opts["formats"]), "url_words": tuple(opts["url_words"])})
        self.out = Path(out)
        self.models = Models(self.opts)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """One result row per shard: the run-engine line fields, or ``error``."""
        names, lines, errors = [], [], []
        for path, kind in zip(batch["path"].tolist(), batch["kind"].tolist(), strict=True):
            shard = Shard(Path(path), kind)
            names.append(shard.name)
            try:
                lines.append(score_shard(shard, self.opts, self.out, self.models))
                errors.append("")
            except Exception as exc:  # one bad shard is recorded by the driver, the others go on
                lines.append({})
                errors.append(error_message(exc))
        return {"name": names, "line": lines, "error": errors}


def score_with_ray(
    todo: list[Shard], opts: CurateOptions, out: Path, progress_file: Path, resume: bool,
    on_start: Callable[[int], None] | None = None, progress: Callable[[RunEvent], None] | None = None,
) -> None:  # fmt: skip
    """Score ``todo`` with Ray Data actors, then record one run-engine line per shard in ``progress_file``."""
    ray = require_module("ray", "ray", "--engine ray")
    if not ray.is_initialized():
        ray.init()
    results: dict[str, dict[str, Any]] = {}
    if todo:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        gpu = 1 if (opts.device or "").startswith("cuda") else 0
        ds = ray.data.from_items([{"path": str(s.path), "kind": s.kind} for s in todo], override_num_blocks=len(todo))
        scored = ds.map_batches(
            ShardScorer, fn_constructor_kwargs={"opts": opts.to_dict(), "out": str(out)}, batch_size=1,
            batch_format="numpy", concurrency=max(1, min(cpus, len(todo))), num_cpus=1, num_gpus=gpu,
        )  # fmt: skip
        results = {r["name"]: r for r in scored.iter_rows()}

    def record(shard: Shard) -> dict[str, Any]:
        r = results.get(shard.name)
        if r is None or r["error"]:
            raise TenkenError(r["error"] if r else f"{shard.path}: not scored by the Ray job")
        return r["line"]

    run_items(todo, record, progress_file, key=lambda s: s.name, resume=resume, on_start=on_start,
              progress=progress)  # fmt: skip
