"""Big batches on Ray Data: the same items, the same item function, the same ``results.jsonl``.

``tenken inspect --pairs ... --engine ray [--address ...]`` runs each item in a pool of Ray actors, each of which
builds its :class:`~tenken.inspect.pipeline.Inspector` once (a VLM stays loaded) and runs the batch's own item
function (:func:`tenken.inspect.batch._run_item`: inspect, write the annotated image). Ray Data streams the
items with backpressure (a bounded number in flight), restarts a dead actor and retries its item (Ray Data's
actor pools default to unlimited ``max_restarts`` / ``max_task_retries``; an error *inside* the item is not
retried by Ray: it becomes the item's error line, retried by ``--resume``).

The driver keeps the run engine's policy: :func:`tenken.core.runs.run_items` writes one durable line per item
in item order, ``resume`` skips finished items and retries failed ones, ``shard`` selects positions. Output
images go to the shared ``out/images/`` folder, so on a cluster ``out`` must be on storage every node sees.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tenken.core.errors import InputError, require_module
from tenken.core.runs import RunEvent, prior_results, run_items, select_shard
from tenken.inspect.batch import RESULTS, BatchItem, BatchSummary


def _item_json(item: BatchItem) -> str:
    """An item as JSON text (one string column: Ray Data's columnar types would turn None into "None")."""
    from tenken.core.artifacts import json_text

    return json_text(
        {
            "id": item.id,
            "target": str(item.target) if item.target else None,
            "references": [str(r) for r in item.references],
            "line": item.line,
            "error": item.error,
        }
    )


class _InspectActor:
    """A Ray Data actor: one Inspector for its whole life; one output row per input row (``id`` + ``row``)."""

    def __init__(self, make_inspector: Callable[[], Any], folder: str) -> None:
        self.inspector = make_inspector()
        self.folder = Path(folder)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        import json

        from tenken.core.artifacts import json_text
        from tenken.core.runs import error_message
        from tenken.inspect.batch import _run_item  # the batch's own item function (one rule for an item)

        ids, rows = [], []
        for text in batch["item"]:
            raw = json.loads(str(text))
            target = Path(raw["target"]) if raw["target"] else None
            item = BatchItem(raw["id"], target, [Path(r) for r in raw["references"]], raw["line"], raw["error"])
            try:
                row = _run_item(self.inspector, item, self.folder)
            except Exception as exc:  # recorded as the item's error line by the driver
                row = {"error": error_message(exc)}
            ids.append(item.id)
            rows.append(json_text(row))
        return {"id": ids, "row": rows}


def run_batch_ray(
    make_inspector: Callable[[], Any],
    items: Sequence[BatchItem],
    out: str | os.PathLike,
    *,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    address: str | None = None,
    actors: int = 1,
    cpus_per_actor: float = 1.0,
    progress: Callable[[RunEvent[BatchItem]], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Run a batch on Ray Data; writes ``out/results.jsonl`` (and ``out/images/``) as ``run_batch`` does.

    Args:
        make_inspector: a picklable callable building the Inspector in each actor (e.g. a
            ``functools.partial(Inspector, detector="vlm", vlm="openai:...")``).
        items: from :func:`~tenken.inspect.batch.read_manifest` or ``pair_folders``.
        address: a Ray cluster (``ray://host:10001`` or ``auto``); None: the running Ray, else a local one.
        actors: actors (Inspectors) working at once; ``cpus_per_actor`` CPUs reserved for each.

    Raises:
        MissingDependencyError: Ray is not installed (``pip install 'tenken[ray]'``).
        InputError: ``actors`` < 1.
    """
    ray = require_module("ray", "ray", "--engine ray")
    if actors < 1:
        raise InputError(f"actors must be at least 1, got {actors}")
    from tenken.core.images import check_writable
    from tenken.inspect.batch import IMAGES, write_index

    folder = check_writable(out)
    (folder / IMAGES).mkdir(exist_ok=True)
    results = folder / RESULTS
    mine = select_shard(items, shard)
    done, _, _ = prior_results(results, [it.id for it in mine], resume) if resume else ({}, set(), None)
    todo = [it for it in mine if it.id not in done]
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    rows = _stream(ray, make_inspector, todo, folder, actors, cpus_per_actor)

    def work(item: BatchItem) -> dict[str, Any]:
        import json

        try:
            rid, text = next(rows)
        except StopIteration:
            raise InputError("ray engine: the dataset ended before this item (see Ray's log)") from None
        if rid != item.id:  # Ray Data was told to keep the order; a mismatch would corrupt the file
            raise InputError(f"ray engine: got the result of {rid!r} while expecting {item.id!r}")
        row = json.loads(text)
        if "error" in row:
            raise InputError(row["error"])
        return row

    run = run_items(
        todo if resume else mine,
        work,
        results,
        key=lambda it: it.id,
        resume=resume,
        error_row=lambda it, _: {"target": str(it.target) if it.target else None, "line": it.line},
        on_start=on_start,
        progress=progress,
    )
    write_index(folder)
    return BatchSummary(
        folder, done=run.done, skipped=len(mine) - len(todo), failed=run.failed, total=len(mine), previous=run.previous
    )


def _stream(
    ray: Any, make_inspector: Callable[[], Any], todo: list[BatchItem], folder: Path, actors: int, cpus: float
) -> Iterator[tuple[str, str]]:
    """``(id, result line)`` per item of ``todo``, in order, computed by the actor pool."""
    if not todo:
        return iter(())
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ds = ray.data.from_items([{"item": _item_json(it)} for it in todo]).map_batches(
        _InspectActor,
        fn_constructor_args=(make_inspector, str(folder)),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus,
    )
    return ((str(r["id"]), str(r["row"])) for r in ds.iter_rows())
